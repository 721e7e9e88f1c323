"""The tiny Fashion-MNIST LLaVA that ships in the package: answers, processor, loader, script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from attnwidgets import demo

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "train_fashion_vlm.py"
HAVE_DATA = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").is_file()
pytestmark = pytest.mark.skipif(
    not HAVE_DATA, reason="needs Debian's dataset-fashion-mnist (apt-get install it)"
)
QUESTIONS = json.loads((demo.FASHION_VLM_DIR / "questions.json").read_text())


@pytest.fixture(scope="module")
def shipped():
    return demo.load_fashion_vlm()


def prompt_for(processor, question: str) -> str:
    content = [{"type": "image"}, {"type": "text", "text": question}]
    return processor.apply_chat_template(
        [{"role": "user", "content": content}], add_generation_prompt=True
    )


def greedy_answers(model, processor, images: np.ndarray, question: str) -> list[str]:
    """Batched greedy answers through the shipped processor and ``model.generate``."""
    prompt, answers = prompt_for(processor, question), []
    with torch.no_grad():
        for start in range(0, len(images), 1000):
            batch = list(images[start : start + 1000])
            inputs = processor(images=batch, text=[prompt] * len(batch), return_tensors="pt")
            out = model.generate(**inputs, do_sample=False, max_new_tokens=6)
            new = out[:, inputs["input_ids"].shape[1] :]
            answers += [a.strip() for a in processor.batch_decode(new, skip_special_tokens=True)]
    return answers


@pytest.mark.slow
def test_answers_what_is_this_with_the_class_for_80_percent_of_the_full_test_split(shipped):
    model, processor, images, labels = shipped
    assert len(images) == 10_000
    answers = greedy_answers(model, processor, images, "What is this?")
    expected = [QUESTIONS["class_answers"][label] for label in labels]
    accuracy = np.mean([a == e for a, e in zip(answers, expected, strict=True)])
    assert accuracy >= 0.80, accuracy


def test_answers_footwear_and_brightness_questions(shipped):
    model, processor, images, labels = shipped
    images, labels = images[:2000], labels[:2000]
    footwear = greedy_answers(model, processor, images, "Is it footwear?")
    want = ["yes" if label in QUESTIONS["footwear_labels"] else "no" for label in labels]
    assert np.mean([a == w for a, w in zip(footwear, want, strict=True)]) >= 0.95
    brightness = greedy_answers(model, processor, images, "Is it dark or light?")
    mean = images[..., 0].reshape(len(images), -1).mean(1) / 255
    want = np.where(mean < QUESTIONS["dark_below_mean_pixel"], "dark", "light")
    assert np.mean([a == w for a, w in zip(brightness, want, strict=True)]) >= 0.85


def test_processor_expands_image_into_the_tokens_the_model_expects(shipped):
    model, processor, images, _ = shipped
    config = model.config
    grid = config.vision_config.image_size // config.vision_config.patch_size
    inputs = processor(images=images[0], text=prompt_for(processor, "What is this?"))
    ids = inputs["input_ids"][0]
    assert ids.count(config.image_token_id) == grid * grid == 49
    assert processor.tokenizer.convert_ids_to_tokens(config.image_token_id) == "<image>"
    pixels = torch.as_tensor(np.asarray(inputs["pixel_values"]))
    features = model.get_image_features(pixel_values=pixels).pooler_output
    assert features[0].shape == (49, config.text_config.hidden_size)
    run = list(ids).index(config.image_token_id)
    assert set(ids[run : run + 49]) == {config.image_token_id}  # one contiguous run


def test_processor_pixels_are_what_the_model_was_trained_on(shipped):
    _, processor, images, _ = shipped
    pixels = processor.image_processor(list(images[:8]), return_tensors="pt")["pixel_values"]
    expected = (images[:8].astype(np.float32) / 255 - 0.2860) / 0.3530
    np.testing.assert_allclose(pixels.numpy(), expected.transpose(0, 3, 1, 2), atol=1e-5)
    photo = np.zeros((60, 90, 3), np.uint8)  # any RGB photo is resized and cropped to 28 x 28
    assert processor.image_processor(photo)["pixel_values"][0].shape == (3, 28, 28)


def test_loader_returns_eval_float32_model_and_arrays_quietly(capfd):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, processor, images, labels = demo.load_fashion_vlm(limit=5)
    assert [str(w.message) for w in caught] == []
    assert capfd.readouterr() == ("", "")
    assert not model.training and type(model).__name__ == "LlavaForConditionalGeneration"
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert images.shape == (5, 28, 28, 3) and images.dtype == np.uint8
    assert (images == images[..., :1]).all()
    assert labels.tolist() == [9, 2, 1, 1, 6]  # the first Fashion-MNIST test labels
    assert processor.tokenizer.eos_token == "</s>" and model.generation_config.eos_token_id == 2
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        demo.load_fashion_vlm(split="validation")


def test_shipped_files_are_small_and_not_git_ignored():
    files = sorted(p for p in demo.FASHION_VLM_DIR.iterdir() if p.is_file())
    names = {p.name for p in files}
    assert {"config.json", "model.safetensors", "tokenizer.json", "processor_config.json"} <= names
    assert {"chat_template.jinja", "questions.json", "README.md"} <= names
    assert sum(p.stat().st_size for p in files) <= 10 * 2**20
    ignored = subprocess.run(
        ["git", "check-ignore", *map(str, files)], cwd=ROOT, capture_output=True, text=True
    )
    assert ignored.stdout == ""  # hatchling leaves git-ignored files out of the wheel


@pytest.mark.slow
def test_fast_training_run_writes_a_loadable_model(tmp_path):
    from transformers import LlavaForConditionalGeneration, LlavaProcessor

    out = tmp_path / "vlm"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--fast", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "'What is this?':" in done.stdout
    processor = LlavaProcessor.from_pretrained(out)
    model = LlavaForConditionalGeneration.from_pretrained(out).eval()
    image = np.full((28, 28, 3), 200, np.uint8)
    inputs = processor(
        images=image, text=prompt_for(processor, "Is it footwear?"), return_tensors="pt"
    )
    out_ids = model.generate(**inputs, do_sample=False, max_new_tokens=3)
    assert out_ids.shape[1] > inputs["input_ids"].shape[1]
    assert json.loads((out / "questions.json").read_text())["questions"] == QUESTIONS["questions"]
