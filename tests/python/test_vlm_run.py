"""``lens(image=..., text=...)`` and ``lens.generate`` on vision-language models (issue 16):
the chat template, position names and modality, the image as seen, ``image_map`` against the
attention it is read from, generation streamed row by row, and each family's own layout
(PaliGemma's prefix mask, BLIP-2's query tokens, LLaVA's ``full`` strategy, Idefics3 tiles,
two images in one prompt, dual encoders)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import vlm_cases as vc

import attnwidgets as aw
from attnwidgets import demo
from attnwidgets.vlm_records import ImagePosition
from attnwidgets.vlm_run import VLMRun

HAVE_DATA = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").is_file()
needs_fashion = pytest.mark.skipif(not HAVE_DATA, reason="needs dataset-fashion-mnist")
GRID = [(r, c) for r in range(7) for c in range(7)]


@pytest.fixture(scope="module")
def fashion():
    model, processor, images, _ = demo.load_fashion_vlm(limit=3)
    return model, processor, images


@needs_fashion
def test_fashion_vlm_one_call_uses_the_chat_template_and_names_every_position(fashion):
    model, processor, images = fashion
    lens = aw.wrap(model, processor)
    run = lens(image=images[0], text="What is this?")
    assert isinstance(run, VLMRun)
    prompt = "USER: <image>\nWhat is this? ASSISTANT:"  # the template, written by hand
    by_hand = processor(images=[images[0]], text=prompt, return_tensors="pt")
    assert torch.equal(run.inputs["input_ids"], by_hand["input_ids"])
    same = lens(**by_hand)  # the processor's tensors give the same run
    assert same.tokens == run.tokens
    for ours, theirs in zip(run.attention, same.attention, strict=True):
        assert np.array_equal(ours, theirs)

    assert run.tokens[:4] == ["<s>", "USER", ":", " "]
    assert run.tokens[4:53] == [f"<img 0 ({r}, {c})>" for r, c in GRID]
    assert run.tokens[53:] == ["\n", "What", " is", " this", "?", " ASSISTANT", ":"]
    assert run.modality == ["text"] * 4 + ["image"] * 49 + ["text"] * 7
    assert run.image_positions == {4 + k: ImagePosition(0, r, c) for k, (r, c) in enumerate(GRID)}
    assert run.image.shape == (28, 28, 3)  # 28 px in, no resize: the pixels come back
    assert np.abs(run.image.astype(int) - images[0].astype(int)).max() <= 1
    assert list(run.stacks) == ["vision", "text"]
    assert run.stacks["vision"].query_tokens[:2] == ["[CLS]", "(0, 0)"]
    assert run.stacks["text"].key_tokens == run.tokens


@needs_fashion
def test_image_map_is_the_text_token_row_over_the_image_tokens(fashion):
    model, processor, images = fashion
    run = aw.wrap(model, processor)(image=images[1], text="What is this?")
    lm = [i for i, n in enumerate(run.attention.layer_names) if "language_model" in n]
    assert run.text_layers == lm
    for layer in range(2):
        weights = run.attention[lm[layer]]
        for head in (0, 3, "mean", "max"):
            if head == "mean":
                row = weights[:, -1].mean(0)
            elif head == "max":
                row = weights[:, -1].max(0)
            else:
                row = weights[head, -1]
            expected = row[4:53].reshape(7, 7)
            assert np.allclose(run.image_map(-1, layer, head), expected, atol=1e-7)
    pixels = run.images[0].pixel_map(run.image_map(-1, 1))
    assert pixels.shape == (28, 28)
    assert np.allclose(pixels[::4, ::4], run.image_map(-1, 1))
    with pytest.raises(IndexError, match=r"layers 0\.\.1"):
        run.image_map(-1, 2)


@needs_fashion
def test_generate_streams_rows_and_matches_model_generate(fashion):
    model, processor, images = fashion
    lens = aw.wrap(model, processor)
    steps = []
    run = lens.generate(
        image=images[0],
        text="What is this?",
        max_new_tokens=5,
        on_step=lambda r, n: steps.append((n, len(r.tokens), r.attention[-1].shape[1])),
    )
    with torch.no_grad():
        reference = model.generate(**run.inputs, max_new_tokens=5, do_sample=False)
    assert torch.equal(run.outputs, reference)
    assert "".join(run.generated).strip() == "an ankle boot</s>"
    prompt = run.inputs["input_ids"].shape[1]
    assert [s[0] for s in steps] == [1, 2, 3, 4]
    assert (
        [s[1] for s in steps]
        == [s[2] for s in steps]
        == [prompt, prompt + 1, prompt + 2, prompt + 3]
    )
    assert run.tokens[:prompt] == lens(image=images[0], text="What is this?").tokens
    assert (
        run.tokens[prompt:] == [" an", " ankle", " boot"] and run.modality[prompt:] == ["text"] * 3
    )
    twin = vc.eager_twin(model)
    with torch.no_grad():
        full = twin(
            input_ids=reference[:, :-1],
            pixel_values=run.inputs["pixel_values"],
            output_attentions=True,
        )
    for layer, eager in enumerate(full.attentions):
        assert np.abs(run.attention[run.text_layers[layer]] - eager[0].numpy()).max() <= 1e-5
    assert run.image_map(prompt + 2, 1).shape == (7, 7)  # a generated word over the image


def test_qwen2_vl_generation_merges_the_steps_beside_chunked_vision_calls():
    model, processor = vc.qwen2_vl("2")
    lens = aw.wrap(model, processor)
    run = lens.generate(image=vc.photo("astronaut", (60, 90)), text="What?", max_new_tokens=4)
    sequence = run.outputs
    fed = sequence.shape[1] - 1
    assert run.attention[run.text_layers[0]].shape == (4, fed, fed)
    assert len(run.tokens) == fed
    twin = vc.eager_twin(model)
    inputs = {
        **run.inputs,
        "input_ids": sequence[:, :-1],
        "attention_mask": torch.ones(1, fed, dtype=torch.long),
        "mm_token_type_ids": torch.cat(
            [
                run.inputs["mm_token_type_ids"],
                torch.zeros(1, fed - run.inputs["input_ids"].shape[1], dtype=torch.long),
            ],
            1,
        ),
    }
    with torch.no_grad():
        full = twin(**inputs, output_attentions=True)
    for layer, eager in enumerate(full.attentions):
        assert np.abs(run.attention[run.text_layers[layer]] - eager[0].numpy()).max() <= 1e-5


def test_paligemma_image_and_prefix_attend_both_ways_the_answer_causally():
    model, processor = vc.paligemma()
    inputs = processor(
        images=[vc.photo()], text="<image>What is it?", suffix="a cat", return_tensors="pt"
    )
    inputs.pop("labels")
    run = aw.wrap(model, processor)(**inputs)
    types = inputs["token_type_ids"][0].numpy()
    prefix = int((types == 0).sum())
    for layer in run.text_layers:
        weights = run.attention[layer]
        assert (weights[:, :prefix, :prefix] > 0).all()  # bidirectional over image + prompt
        assert (weights[:, :prefix, prefix:] == 0).all()
        assert np.allclose(np.triu(weights[:, prefix:, prefix:], 1), 0.0)  # the answer: causal
    assert run.modality[:16] == ["image"] * 16 and run.tokens[16] == "<bos>"


def test_blip2_query_tokens_are_image_tokens_without_a_place():
    model, processor = vc.blip2()
    run = aw.wrap(model, processor)(image=vc.photo(), text="What is it?")
    assert run.tokens[:8] == [f"<img 0 query {k}>" for k in range(8)]
    assert run.modality[:8] == ["image"] * 8 and run.image_positions == {}
    assert list(run.stacks) == ["vision", "qformer", "qformer cross", "text"]
    cross = run.stacks["qformer cross"]
    assert cross.query_tokens == run.tokens[:8] and cross.key_tokens[:2] == ["[CLS]", "(0, 0)"]
    with pytest.raises(ValueError, match="query tokens, which have no place on the image"):
        run.image_map(-1, 0)


def test_llava_full_strategy_keeps_the_class_token_as_an_image_token():
    model, processor = vc.llava("full")
    run = aw.wrap(model, processor)(image=vc.photo(), text="What is it?")
    first = run.modality.index("image")
    assert run.tokens[first : first + 3] == ["<img 0 [CLS]>", "<img 0 (0, 0)>", "<img 0 (0, 1)>"]
    assert first not in run.image_positions and run.image_positions[first + 1] == (0, 0, 0, "image")


def test_two_images_in_one_prompt_map_to_their_own_grids():
    model, processor = vc.llava()
    cat, astronaut = vc.photo("chelsea"), vc.photo("astronaut")
    run = aw.wrap(model, processor)(image=[cat, astronaut], text="Which is a cat?")
    images = [p.image for p in run.image_positions.values()]
    assert images == [0] * 16 + [1] * 16
    assert "<img 1 (3, 3)>" in run.tokens and len(run.images) == 2
    assert run.image_map(-1, 0, image=1).shape == (4, 4)
    assert len(run.towers.vision) == 2
    assert not np.array_equal(run.vision_attention(0)[0], run.vision_attention(1)[0])


def test_idefics3_tiles_and_global_image():
    model, processor = vc.idefics3()
    picture = vc.photo("astronaut", (64, 64))
    run = aw.wrap(model, processor)(image=picture, text="What?")
    image = run.images[0]
    assert [v.name for v in image.views] == ["tiles", "global"]
    assert image.view("tiles").grid == (8, 8) and image.view("global").grid == (4, 4)
    assert image.view("tiles").merge == (2, 2) and image.view("tiles").patch_size == (4, 4)
    assert image.tile_names == (
        "tile (0, 0)",
        "tile (0, 1)",
        "tile (1, 0)",
        "tile (1, 1)",
        "global",
    )
    assert np.abs(run.image.astype(int) - picture.astype(int)).max() <= 1  # 64 px: no resize
    assert "<img 0 global (3, 3)>" in run.tokens and "<img 0 (7, 7)>" in run.tokens
    assert run.tokens[run.tokens.index("<img 0 (0, 0)>") - 1] == "<row_1_col_1>"
    assert run.modality[run.tokens.index("<row_1_col_1>")] == "text"


def test_dual_encoders_keep_two_towers_and_every_prompt():
    model, processor = vc.dual("clip")
    run = aw.wrap(model, processor)(image=vc.photo(), text=["a cat", "an astronaut on the moon"])
    assert list(run.stacks) == ["vision", "text"] and len(run.towers.text) == 2
    mask = run.inputs["attention_mask"]
    assert [len(p) for p in run.prompt_tokens] == mask.sum(1).tolist()  # padding left out
    assert run.tokens == run.prompt_tokens[0] and "<pad>" not in run.tokens
    short = int(mask[0].sum())
    assert run.stacks["text"].record.shape[-1] == short
    twin = vc.eager_twin(model)
    with torch.no_grad():
        alone = twin.text_model(
            input_ids=run.inputs["input_ids"][:1, :short], output_attentions=True
        )  # the first prompt on its own, unpadded
    for layer, eager in enumerate(alone.attentions):
        ours = run.towers.text[0]["probability"][layer]
        assert np.abs(ours - eager[0].numpy()).max() <= 1e-5
    assert run.stacks["vision"].query_tokens[:2] == ["[CLS]", "(0, 0)"]
    assert run.modality == ["text"] * len(run.tokens) and run.images == []
    with pytest.raises(ValueError, match="dual encoder"):
        run.image_map(0, 0)


@pytest.mark.parametrize("version", ["2", "2.5"])
def test_qwen_tower_positions_name_the_patch_each_one_holds(version):
    """The tower's position ``k`` holds row ``perm[k]`` of pixel_values (Qwen2.5-VL moves whole
    2 x 2 units window by window); the patch named for it must show those pixels."""
    from transformers.vision_utils import get_vision_window_index

    model, processor = vc.qwen2_vl(version)
    run = aw.wrap(model, processor)(image=vc.photo("astronaut", (60, 90)), text="What?")
    pixels = run.inputs["pixel_values"]
    grid = run.inputs["image_grid_thw"]
    perm = list(range(pixels.shape[0]))
    if version == "2.5":
        units, _ = get_vision_window_index(grid, 2, 32, 8)
        perm = [int(units[k // 4]) * 4 + k % 4 for k in range(pixels.shape[0])]
    info = run.vlm.vision[0]
    mean = np.asarray(processor.image_processor.image_mean).reshape(3, 1, 1)
    std = np.asarray(processor.image_processor.image_std).reshape(3, 1, 1)
    for k, (r, c) in enumerate(info.positions):
        patch = pixels[perm[k]].reshape(3, 2, 8, 8)[:, 0].numpy() * std + mean
        shown = run.image[r * 8 : (r + 1) * 8, c * 8 : (c + 1) * 8].transpose(2, 0, 1) / 255.0
        assert np.abs(shown - patch).max() <= 1 / 255 + 1e-6, (k, r, c)
    assert info.tokens[:4] == ["(0, 0)", "(0, 1)", "(1, 0)", "(1, 1)"] or version == "2.5"
