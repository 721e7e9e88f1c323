"""CrossModalView on real VLM runs (tiny LLaVA / LLaVA-NeXT built from config, the trained
fashion VLM): what it sends is the run's own attention (checked against ``run.image_map`` and
hand-computed shares), the browser's requests are answered or refused naming the field, and
inputs without image tokens are refused with a sentence."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import traitlets
import vlm_cases as vc

import attnwidgets as aw
from attnwidgets.widgets.vision.image_attention_data import quantize_rows
from attnwidgets.widgets.vlm import CrossModalView


@pytest.fixture(scope="module")
def llava_run() -> Any:
    model, processor = vc.llava()
    return aw.wrap(model, processor)(image=vc.photo("chelsea", (32, 32)), text="What is it?")


@pytest.fixture(scope="module")
def next_run() -> Any:
    model, processor = vc.llava_next()
    return aw.wrap(model, processor)(image=vc.photo("astronaut", (48, 64)), text="Who is it?")


def unpack(value: dict[str, Any]) -> dict[str, np.ndarray]:
    """Read a packed value (``pack_bytes`` layout) back into arrays."""
    raw = bytes(value["value"])
    out = {}
    for name, item in value["arrays"].items():
        dtype = np.uint8 if item["dtype"] == "uint8" else np.float32
        count = int(np.prod(item["shape"]))
        out[name] = np.frombuffer(raw, dtype, count, item["offset"]).reshape(item["shape"])
    return out


def decoded(block: dict[str, np.ndarray]) -> np.ndarray:
    return block["weights"].astype(np.float64) ** 2 * block["scale"][..., None]


def test_layout_follows_the_runs_modality_and_image_positions(llava_run: Any) -> None:
    view = CrossModalView(llava_run)
    layout = view.cm_layout
    assert layout["rows"] == [i for i, m in enumerate(llava_run.modality) if m == "text"]
    assert layout["keys"] == [i for i, m in enumerate(llava_run.modality) if m == "image"]
    (surface,) = layout["surfaces"]
    assert surface["grid"] == [4, 4] and surface["cell"] == [8.0, 8.0]
    for column, position in enumerate(layout["keys"]):
        p = llava_run.image_positions[position]
        assert surface["cells"][column] == p.row * 4 + p.col
    assert view.query == layout["rows"][-1]  # the last prompt token: it predicts the answer
    assert view.n_layers == len(llava_run.text_layers) == 2
    assert view.layer_names[0] == llava_run.attention.layer_names[llava_run.text_layers[0]]


def test_the_first_block_draws_what_run_image_map_says(llava_run: Any) -> None:
    view = CrossModalView(llava_run, layer=1)
    block = unpack(view.first_block)
    layout = view.cm_layout
    cells = np.array(layout["surfaces"][0]["cells"])
    weights = decoded(block)  # [heads, rows, keys]
    for query in (layout["rows"][-1], layout["rows"][-3]):
        t = layout["rows"].index(query)
        for head in (0, 3, "mean", "max"):
            rows = weights[:, t, :]
            fused = (
                rows[head]
                if isinstance(head, int)
                else rows.mean(axis=0)
                if head == "mean"
                else rows.max(axis=0)
            )
            drawn = np.zeros(16)
            drawn[cells] = fused
            expected = llava_run.image_map(query, 1, head).reshape(-1)
            assert np.allclose(drawn, expected, atol=expected.max() / 255 + 1e-7)


def test_each_rows_share_on_image_and_text_is_the_runs_own_sum(llava_run: Any) -> None:
    view = CrossModalView(llava_run)
    block = unpack(view.answer({"type": "request_block", "id": 7, "layer": 0})[0] | {
        "value": view.answer({"type": "request_block", "id": 7, "layer": 0})[1][0]
    })  # fmt: skip
    weights = llava_run.attention[llava_run.text_layers[0]]
    image = [i for i, m in enumerate(llava_run.modality) if m == "image"]
    text = [i for i, m in enumerate(llava_run.modality) if m == "text"]
    for t, row in enumerate(view.cm_layout["rows"]):
        for h in range(weights.shape[0]):
            assert block["image"][h, t] == pytest.approx(sum(weights[h, row, k] for k in image))
            assert block["text"][h, t] == pytest.approx(sum(weights[h, row, k] for k in text))
    quantized, scale, _ = quantize_rows(weights[:, view.cm_layout["rows"]][:, :, image])
    assert np.array_equal(block["weights"], quantized) and np.array_equal(block["scale"], scale)


def test_heads_grid_is_the_mean_image_share_of_rows_after_the_image(llava_run: Any) -> None:
    view = CrossModalView(llava_run)
    shares = view.head_shares
    raw = bytes(shares["value"])
    image_meta, text_meta = shares["arrays"]["image"], shares["arrays"]["text"]
    image = np.frombuffer(raw, np.float32, 8, image_meta["offset"]).reshape(2, 4)
    text = np.frombuffer(raw, np.float32, 8, text_meta["offset"]).reshape(2, 4)
    keys = [i for i, m in enumerate(llava_run.modality) if m == "image"]
    after = [i for i, m in enumerate(llava_run.modality) if m == "text" and i > keys[0]]
    assert shares["rows"] == len(after)
    for index, layer in enumerate(llava_run.text_layers):
        w = llava_run.attention[layer]
        for h in range(4):
            by_hand = np.mean([w[h, r, keys].sum() for r in after])
            assert image[index, h] == pytest.approx(by_hand, abs=1e-6)
            text_by_hand = np.mean([1 - w[h, r, keys].sum() for r in after])
            assert text[index, h] == pytest.approx(text_by_hand, abs=1e-5)


def test_tiled_images_have_one_surface_per_view(next_run: Any) -> None:
    view = CrossModalView(next_run)
    surfaces = view.cm_layout["surfaces"]
    assert [s["view"] for s in surfaces] == ["tiles", "base"]
    keys = view.cm_layout["keys"]
    for surface in surfaces:
        rows, cols = surface["grid"]
        for column, cell in enumerate(surface["cells"]):
            p = next_run.image_positions.get(keys[column])
            if p is None or p.view != surface["view"]:
                assert cell == -1  # newline tokens and the other view's tokens
            else:
                assert cell == p.row * cols + p.col
        height, width = next_run.images[0].image.shape[:2]
        assert surface["cell"] == [height / rows, width / cols]
    view.surface = 1
    with pytest.raises(traitlets.TraitError, match=r"surface: 2 is out of range; valid: 0\.\.1"):
        view.surface = 2


def test_bad_requests_are_answered_naming_the_field(llava_run: Any) -> None:
    view = CrossModalView(llava_run)
    cases = [
        (
            {"type": "request_block", "id": 1, "layer": 2},
            "layer: 2 is out of range; layers are 0..1",
        ),
        ({"type": "request_block", "id": 2, "layer": True}, "layer: True is out of range"),
        (
            {"type": "request_rows", "id": 3, "layer": 0},
            "type: 'request_rows' is not 'request_block'",
        ),
        ({"type": "request_block", "id": "x" * 300, "layer": "0"}, "layer: '0' is out of range"),
    ]
    for content, message in cases:
        reply, buffers = view.answer(content)
        assert reply["type"] == "error" and message in reply["message"] and buffers == []
    assert view.answer(cases[3][0])[0]["id"] is None  # a long id is not echoed
    assert view.answer([1, 2])[0]["message"] == "a request must be an object, not list"
    reply, buffers = view.answer({"type": "request_block", "id": 9, "layer": 1})
    assert reply["type"] == "block" and reply["id"] == 9 and reply["layer"] == 1
    assert len(buffers) == 1


def test_traits_are_checked(llava_run: Any) -> None:
    view = CrossModalView(llava_run)
    image_token = view.cm_layout["keys"][0]
    with pytest.raises(traitlets.TraitError, match=r"query: \d+ is not a text position \("):
        view.query = image_token
    text = view.cm_layout["rows"]
    with pytest.raises(traitlets.TraitError, match=f"text positions are 0..{image_token - 1}"):
        view.query = len(llava_run.tokens)
    view.region = [1, 1, 2, 3]
    with pytest.raises(traitlets.TraitError, match="outside the 4 x 4 grid"):
        view.region = [0, 0, 4, 0]
    with pytest.raises(traitlets.TraitError, match=r"is not \[r0, c0, r1, c1\]"):
        view.region = [0, 0]
    view.query = text[0]
    assert view.region == [1, 1, 2, 3]
    with pytest.raises(traitlets.TraitError, match=r"layer: 5 is out of range; valid: 0\.\.1"):
        CrossModalView(llava_run, layer=5)


def test_generated_tokens_are_rows_too() -> None:
    model, processor, images, _ = aw.demo.load_fashion_vlm(limit=1)
    lens = aw.wrap(model, processor)
    run = lens.generate(image=images[0], text="What is this?", max_new_tokens=4)
    view = CrossModalView(run)
    first = len(run.tokens) - len(run.generated) + 1
    assert view.generated_from == first
    fed = list(range(first, len(run.tokens)))
    assert view.cm_layout["rows"][-len(fed) :] == fed
    assert view.tokens[first:] == run.generated[:-1]
    block = unpack(view.first_block)
    assert block["weights"].shape[1] == len(view.cm_layout["rows"])


def test_views_without_image_tokens_are_refused_with_the_reason() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=50, bos_token_id=0,
                        eos_token_id=0)  # fmt: skip
    gpt2 = GPT2LMHeadModel(config).eval()

    text_run = aw.wrap(gpt2)(input_ids=torch.tensor([[1, 2, 3]]))
    no_images = r"got Run \(tokens '1', '2', '3'\.\.\.\), which has no image tokens\. For text"
    with pytest.raises(TypeError, match=no_images):
        CrossModalView(text_run)
    with pytest.raises(TypeError, match="no image tokens"):
        CrossModalView(text_run.attention)
    model, processor = vc.dual("clip")
    clip_run = aw.wrap(model, processor)(image=vc.photo("chelsea", (32, 32)), text=["a cat"])
    with pytest.raises(ValueError, match="clip is a dual encoder"):
        CrossModalView(clip_run)
    model, processor = vc.blip2()
    blip_run = aw.wrap(model, processor)(image=vc.photo("chelsea", (32, 32)), text="a cat")
    with pytest.raises(ValueError, match="query tokens, which have no place on the image"):
        CrossModalView(blip_run)


def test_run_show_adds_the_vlm_tabs(llava_run: Any) -> None:
    tab = llava_run.widget()
    assert tab.titles[-2:] == ("Cross-modal", "Features")
    assert tab.titles[0] == "Attention"
    model, processor = vc.dual("siglip")
    run = aw.wrap(model, processor)(image=vc.photo("chelsea", (32, 32)), text=["a", "b c"])
    assert run.widget().titles[-2:] == ("Features", "Prompts")
