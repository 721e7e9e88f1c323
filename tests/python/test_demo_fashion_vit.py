"""The Fashion-MNIST ViT that ships in the package, its loader, data and training script."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import attnwidgets as aw
from attnwidgets import demo

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "train_fashion_vit.py"
HAVE_DEBIAN = (demo.FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file()
needs_debian = pytest.mark.skipif(
    not HAVE_DEBIAN, reason="needs Debian's dataset-fashion-mnist (apt-get install it)"
)


@pytest.fixture(scope="module")
def shipped():
    return aw.demo.load_fashion_vit()


@pytest.fixture
def without_debian(monkeypatch, tmp_path):
    monkeypatch.setattr(demo, "FASHION_MNIST_DIR", tmp_path)


def predict(model, processor, images: np.ndarray, batch: int = 1000) -> np.ndarray:
    predicted = []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            pixels = processor(images[start : start + batch], return_tensors="pt")["pixel_values"]
            predicted.append(model(pixel_values=pixels).logits.argmax(-1).numpy())
    return np.concatenate(predicted)


@needs_debian
def test_shipped_weights_score_at_least_85_percent_on_the_full_test_split(shipped):
    model, processor, images, labels = shipped
    assert len(images) == 10_000
    accuracy = float(np.mean(predict(model, processor, images) == labels))
    assert accuracy >= 0.85, accuracy


def test_processor_normalises_as_the_model_was_trained(shipped):
    _, processor, images, _ = shipped
    pixels = processor(images[:16], return_tensors="pt")["pixel_values"]
    assert pixels.shape == (16, 3, 28, 28) and pixels.dtype == torch.float32
    expected = (images[:16].astype(np.float32) / 255 - 0.2860) / 0.3530
    np.testing.assert_allclose(pixels.numpy(), expected.transpose(0, 3, 1, 2), atol=1e-5)
    gray = [Image.fromarray(image[..., 0]) for image in images[:4]]  # PIL "L" -> RGB
    np.testing.assert_allclose(
        processor(gray, return_tensors="pt")["pixel_values"].numpy(), pixels[:4].numpy(), atol=1e-6
    )


def test_loader_returns_an_eval_float32_model_and_consistent_arrays(shipped):
    model, processor, images, labels = shipped
    assert not model.training
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    config = model.config
    assert (config.image_size, config.patch_size, config.num_channels) == (28, 4, 3)
    assert config.num_hidden_layers >= 4 and config.num_attention_heads >= 4
    assert [config.id2label[i] for i in range(10)] == list(demo.FASHION_MNIST_CLASSES)
    assert config.label2id["Ankle boot"] == 9
    assert processor.size == {"height": 28, "width": 28}
    assert images.dtype == np.uint8 and images.shape[1:] == (28, 28, 3)
    assert labels.dtype == np.int64 and labels.shape == (len(images),)
    assert (images == images[..., :1]).all()  # the gray channel repeated
    assert set(np.unique(labels)) == set(range(10))
    first = aw.demo.load_fashion_vit(limit=5)
    np.testing.assert_array_equal(first[2], images[:5])
    np.testing.assert_array_equal(first[3], labels[:5])


@needs_debian
def test_bundled_sample_is_the_first_test_images_bit_for_bit():
    images, labels = demo.fashion_mnist("test")
    with np.load(demo.FASHION_MNIST_SAMPLE) as sample:
        n = len(sample["labels"])
        assert n == 1000 and sample["images"].shape == (n, 28, 28)
        assert sample["images"].dtype == np.uint8
        np.testing.assert_array_equal(sample["images"], images[:n])
        np.testing.assert_array_equal(sample["labels"], labels[:n])
    assert demo.FASHION_MNIST_SAMPLE.stat().st_size < 600_000


@needs_debian
def test_fashion_mnist_reads_both_splits():
    images, labels = demo.fashion_mnist("train")
    assert images.shape == (60_000, 28, 28) and labels.shape == (60_000,)
    assert np.bincount(labels).tolist() == [6000] * 10
    assert labels[:3].tolist() == [9, 0, 0]  # idx files' documented first labels
    assert images.flags.writeable


def test_without_debian_the_loader_falls_back_to_the_bundled_sample(without_debian):
    model, processor, images, labels = aw.demo.load_fashion_vit()
    assert images.shape == (1000, 28, 28, 3) and labels.shape == (1000,)
    accuracy = float(np.mean(predict(model, processor, images) == labels))
    assert accuracy >= 0.85, accuracy
    with pytest.raises(ValueError, match=r"only 1000 test images are here .*apt-get"):
        aw.demo.load_fashion_vit(limit=2000)
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        aw.demo.load_fashion_vit(split="train")


def test_fashion_mnist_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        demo.fashion_mnist("validation")
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        demo.fashion_mnist("test", root=tmp_path)
    with pytest.raises(ValueError, match="limit must be None or >= 0"):
        demo.load_fashion_vit(limit=-1)


def run_fast(*out: str) -> str:
    """``--fast`` in a fresh process (the script sets torch's global thread and determinism
    flags); its stdout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, str(SCRIPT), "--fast", "--threads", "1", *out]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout


def digest(stdout: str) -> str:
    (line,) = [line for line in stdout.splitlines() if line.startswith("weights sha256 ")]
    return line.split()[-1]


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fast_vit")
    return out, run_fast("--out", str(out))


@needs_debian
def test_training_script_fast_run_writes_a_loadable_model(fast_run):
    from transformers import AutoImageProcessor, ViTForImageClassification

    out, stdout = fast_run
    assert "test accuracy" in stdout and "cpu" in stdout
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "preprocessor_config.json", "README.md"} <= names
    model = ViTForImageClassification.from_pretrained(out).eval()
    processor = AutoImageProcessor.from_pretrained(out)
    shipped = demo.load_fashion_vit(limit=1)[0].config.to_diff_dict()
    trained = model.config.to_diff_dict()
    for config in (shipped, trained):
        config.pop("transformers_version", None)
    assert trained == shipped  # the script's defaults are the shipped model's recipe
    image = np.zeros((28, 28, 3), np.uint8)
    logits = model(pixel_values=processor(image, return_tensors="pt")["pixel_values"]).logits
    assert logits.shape == (1, 10)


@needs_debian
def test_training_script_is_deterministic_and_fast_alone_saves_nothing(fast_run):
    _, first = fast_run
    shipped = demo.FASHION_VIT_DIR / "model.safetensors"
    before = (shipped.stat().st_mtime_ns, shipped.read_bytes())
    second = run_fast()  # no --out
    assert "nothing saved" in second
    assert digest(second) == digest(first)  # same seed, same weights, bit for bit
    assert (shipped.stat().st_mtime_ns, shipped.read_bytes()) == before


def test_wheel_carries_the_demo_model_and_sample(tmp_path):
    pytest.importorskip("hatchling")
    command = [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "--no-hooks"]
    subprocess.run([*command, "-d", str(tmp_path)], cwd=ROOT, check=True, capture_output=True)
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        sizes = {info.filename: info.file_size for info in archive.infolist()}
    package = Path(demo.__file__).parent
    for path in [*demo.FASHION_VIT_DIR.iterdir(), demo.FASHION_MNIST_SAMPLE]:
        name = path.relative_to(package.parent).as_posix()
        assert sizes.get(name) == path.stat().st_size, name
    assert sizes["attnwidgets/demo_models/fashion_vit/model.safetensors"] <= 5_000_000
