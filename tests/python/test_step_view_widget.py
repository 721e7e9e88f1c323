"""StepView (kernel side): the buffer holds the model's own numbers for the head shown, picking
a layer or head sends that head's, and ``run.show()`` gets a Steps tab; sliding-window layers
reach the AttentionView."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import eager_attentions, tiny_gpt2, tiny_llama_gqa
from test_qkv_capture import tiny_gemma2_scaled

import attnwidgets as aw
from attnwidgets.widgets.arrays import read_packed

IDS = torch.tensor([[5, 9, 2, 33, 14, 7, 21, 3, 11]])


def arrays(view: aw.StepView) -> dict[str, np.ndarray]:
    return read_packed(view.data)


def test_the_buffer_holds_the_models_numbers_and_follows_layer_and_head() -> None:
    model = tiny_llama_gqa()
    eager = eager_attentions(model, input_ids=IDS)
    run = aw.wrap(model, qkv=True, norms=False)(input_ids=IDS)
    view = aw.StepView(run, layer=1, head=3, step="masked")
    assert view.steps == ["qk", "scores", "scaled", "masked", "probability", "output"]
    assert view.step == 3 and view.info["kv_head"] == 1 and view.info["kv_heads"] == 2
    assert view.query_tokens == run.tokens
    data = arrays(view)
    assert set(data) == {"q", "k", "v", *view.steps[1:]}
    assert all(a.dtype == np.float32 for a in data.values())
    np.testing.assert_allclose(data["probability"], eager[1][0, 3], atol=2e-5)
    np.testing.assert_array_equal(data["k"], run.qkv[1].k[1])
    view.head = 0
    np.testing.assert_allclose(arrays(view)["probability"], eager[1][0, 0], atol=2e-5)
    assert view.info["kv_head"] == 0 and view.step == 3  # the same step stays shown
    view.layer = 0
    np.testing.assert_allclose(arrays(view)["probability"], eager[0][0, 0], atol=2e-5)
    view.head = 99
    assert view.head == 3  # clamped to the layer's heads


def test_titles_use_the_models_own_scale_and_softcap() -> None:
    model = tiny_gemma2_scaled()
    run = aw.wrap(model, qkv=True, norms=False)(input_ids=IDS)
    view = aw.StepView(run)
    assert view.steps == [
        "qk", "scores", "scaled", "softcapped", "masked", "probability", "output"
    ]  # fmt: skip
    titles = dict(zip(view.steps, view.step_titles, strict=True))
    assert "× 0.1768 = 1/√32 (the model's own scale; 1/√d_head would be 1/√8)" in titles["scaled"]
    assert titles["softcapped"].startswith("soft-capped: 1 · tanh(x / 1)")
    assert "causal" in titles["masked"] and "window 4" in titles["masked"]
    assert view.info["window"] == [-3, 0] and view.info["window_size"] == 4
    view.layer = 1
    assert "window" not in dict(zip(view.steps, view.step_titles, strict=True))["masked"]
    assert view.info["window"] is None


def test_padding_is_named_in_the_mask_title() -> None:
    model = tiny_gpt2()
    mask = torch.tensor([[0, 0, 1, 1, 1]])
    with torch.no_grad(), aw.capture(model, qkv=True) as cap:
        model(input_ids=torch.tensor([[0, 0, 4, 5, 6]]), attention_mask=mask)
    view = aw.StepView(cap.qkv)
    assert "padding" in view.step_titles[view.steps.index("masked")]


def test_steps_tab_only_when_qkv_was_captured() -> None:
    model = tiny_gpt2()
    tabs = aw.wrap(model, qkv=True)(input_ids=IDS).widget()
    titles = [tabs.get_title(i) for i in range(len(tabs.children))]
    assert titles == ["Attention", "Norms", "Steps", "Positions"]
    assert isinstance(tabs.children[2], aw.StepView)
    tabs = aw.wrap(model)(input_ids=IDS).widget()
    assert "Steps" not in [tabs.get_title(i) for i in range(len(tabs.children))]


def test_bad_input_is_named() -> None:
    with pytest.raises(TypeError, match=r"StepView takes a QKVRecord"):
        aw.StepView(np.zeros((2, 2)))
    run = aw.wrap(tiny_gpt2(), qkv=True, norms=False)(input_ids=IDS)
    with pytest.raises(ValueError, match=r"step 'softcapped' is not one of"):
        aw.StepView(run, step="softcapped")
    with pytest.raises(IndexError, match=r"head 7 out of range"):
        aw.StepView(run, head=7)


def test_attention_view_gets_each_layers_window() -> None:
    run = aw.wrap(tiny_gemma2_scaled(), norms=False)(input_ids=IDS)
    view = aw.AttentionView(run)
    assert view.windows == [[-3, 0], []]
    view.set_data(aw.wrap(tiny_gpt2(), norms=False)(input_ids=IDS))
    assert view.windows == [[], []]


def test_a_new_text_in_the_explorer_updates_the_steps() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tiny_lm import char_gpt2, char_tokenizer

    lens = aw.wrap(char_gpt2(), char_tokenizer(), qkv=True)
    tabs = lens("the cat").widget(layer=1, head=2)
    view = tabs.children[0].children[1]
    steps = tabs.children[[tabs.get_title(i) for i in range(4)].index("Steps")]
    steps.step = steps.steps.index("probability")
    view.send = lambda msg, buffers=None: None  # type: ignore[method-assign]
    view._on_message(view, {"type": "run_text", "id": 1, "text": "a dog ran"}, [])
    assert view.live_answered == 1 and view.query_tokens == list("a dog ran")
    assert steps.query_tokens == list("a dog ran")
    assert (steps.layer, steps.head, steps.steps[steps.step]) == (1, 2, "probability")
    np.testing.assert_allclose(
        arrays(steps)["probability"], view.source_data.attention[1][2], atol=2e-5
    )
