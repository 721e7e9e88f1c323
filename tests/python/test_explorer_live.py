"""The explorer's live side in Python: re-running text through the lens, generation streamed
into views, set_data in place, and the sentence-pair filter. References: transformers' eager
attention on the same tokens, and hand-built arrays."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import ipywidgets
import numpy as np
import pytest
import torch

import attnwidgets as aw
from attnwidgets.bertviz import model_view
from attnwidgets.widgets.attention import find_attention_view

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tiny_lm import char_gpt2, char_tokenizer


def eager(model: torch.nn.Module, ids: torch.Tensor) -> np.ndarray:
    reference = copy.deepcopy(model)
    reference.set_attn_implementation("eager")
    with torch.no_grad():
        out = reference(input_ids=ids, output_attentions=True)
    return np.stack([a[0].numpy() for a in out.attentions])


@pytest.fixture
def lens() -> aw.Lens:
    return aw.wrap(char_gpt2(), char_tokenizer())


def send(view: aw.AttentionView, **content: Any) -> list[dict[str, Any]]:
    replies: list[dict[str, Any]] = []
    view.send = lambda msg, buffers=None: replies.append(msg)  # type: ignore[method-assign]
    view._on_message(view, content, [])
    return replies


def test_run_text_replaces_the_data_in_place(lens):
    view = aw.AttentionView(lens("the cat"), layer=1, head=3, value_kind=None)
    view.focus_token, view.compare_heads = 6, [[1, 3], [0, 0]]
    assert view.live and view.can_generate and view.text == "the cat"
    send(view, type="run_text", text="dogs", id=7)
    ids = lens.tokenizer("dogs", return_tensors="pt")["input_ids"]
    np.testing.assert_allclose(view.record.to_numpy(), eager(lens.model, ids), atol=1e-5)
    assert view.query_tokens == ["d", "o", "g", "s"] == view.key_tokens
    assert (view.layer, view.head, view.text, view.live_state) == (1, 3, "dogs", "idle")
    assert view.focus_token == -1  # row 6 is gone
    assert view.compare_heads == [[1, 3], [0, 0]]
    assert view.data_version == 1 and view.live_answered == 7
    assert view.chunk["shape"][1:] == [4, 4, 4]
    assert lens.model.config._attn_implementation == "sdpa"  # the model is left as it was


def test_scores_follow_the_new_text(lens):
    scored = aw.wrap(lens.model, lens.tokenizer, scores=True)
    view = aw.AttentionView(scored("abc"), value_kind="masked")
    send(view, type="run_text", text="abcde")
    assert view.value_kind == "masked" and view.available_kinds[0] == "probability"
    masked = view.kinds["masked"]
    assert masked.shape == (2, 4, 5, 5)
    assert np.isneginf(masked[0][:, 0, 1:]).all()  # causal: the first row sees one key
    assert view.chunk["kind"] == "masked" and view.chunk["masked_byte"] == 0


def test_errors_leave_data_and_model_as_they_were(lens):
    view = aw.AttentionView(lens("abc"))
    chunk, version = bytes(view.chunk["value"]), view.data_version
    weights = {k: v.clone() for k, v in lens.model.state_dict().items()}
    for text, expected in [
        ("", "the text is empty"),
        ("x" * 65, "65 tokens is more than GPT2LMHeadModel takes: 64 positions"),
        (3, "the text must be a string"),
    ]:
        send(view, type="run_text", text=text)
        assert view.live_state == "error" and expected in view.live_message, view.live_message
        assert bytes(view.chunk["value"]) == chunk and view.data_version == version
    send(view, type="generate", text="abc", max_new_tokens=62)
    assert "3 tokens + 62 new tokens is more than" in view.live_message
    send(view, type="generate", text="abc", max_new_tokens=0)
    assert "new tokens must be a whole number in 1..1000" in view.live_message
    assert bytes(view.chunk["value"]) == chunk and view.query_tokens == ["a", "b", "c"]
    for name, value in lens.model.state_dict().items():
        assert torch.equal(value, weights[name])
    assert not lens.model._forward_hooks and not lens.model._forward_pre_hooks


def test_a_failing_generation_puts_the_previous_run_back(lens, monkeypatch):
    view = aw.AttentionView(lens("abc"))
    original = type(lens).generate

    def broken(self, text, **kwargs):
        def on_step(run, step):
            kwargs["on_step"](run, step)
            raise RuntimeError("out of memory")

        return original(self, text, **{**kwargs, "on_step": on_step})

    monkeypatch.setattr(type(lens), "generate", broken)
    send(view, type="generate", text="abcdef", max_new_tokens=3)
    assert view.live_state == "error" and "RuntimeError: out of memory" in view.live_message
    assert view.query_tokens == ["a", "b", "c"]


def test_views_without_a_lens_or_tokenizer_are_not_live(lens):
    plain = aw.AttentionView(np.full((1, 1, 2, 2), 0.5, np.float32))
    assert not plain.live
    reply = send(plain, type="run_text", text="abc", id=1)
    assert reply[0]["type"] == "error" and "no model to run" in reply[0]["message"]
    no_tokenizer = aw.wrap(lens.model)(input_ids=torch.tensor([[1, 2, 3]]))
    assert no_tokenizer.text is None and not aw.AttentionView(no_tokenizer).live
    bert = aw.AttentionView(aw.wrap(lens.model, lens.tokenizer)(input_ids=torch.tensor([[2, 3]])))
    assert bert.live and bert.text == "ab"  # decoded from the ids


def test_generate_streams_each_step_into_an_open_view(lens):
    box = lens("the").widget(head=1)  # tabs: Attention, Norms, Positions
    view = find_attention_view(box)
    assert isinstance(box, ipywidgets.Tab) and view.head == 1
    steps: list[tuple[int, int, str]] = []
    view.observe(lambda c: steps.append((c["new"], len(view.query_tokens), view.live_message)),
                 names="data_version")  # fmt: skip
    calls: list[tuple[int, int]] = []
    run = lens.generate("the", max_new_tokens=4, view=box,
                        on_step=lambda r, s: calls.append((r.attention.shape[2], s)))  # fmt: skip
    assert calls == [(3, 1), (4, 2), (5, 3), (6, 4)]  # rows fed so far, new tokens so far
    assert [n for _, n, _ in steps] == [3, 4, 5, 6, 6]  # each step, then the whole sequence
    reference = eager(lens.model, run.outputs[:, :-1])
    np.testing.assert_allclose(view.record.to_numpy(), reference, atol=1e-5)
    assert view.live_state == "idle" and view.live_message == "generated 4 new tokens"
    assert view.text == run.text == lens.tokenizer.decode(run.outputs[0])
    assert len(run.generated) == 4 and run.tokens == list("the") + run.generated[:-1]


def test_generate_stream_true_displays_a_view_and_fills_it(lens, monkeypatch):
    shown: list[Any] = []
    monkeypatch.setattr("IPython.display.display", lambda w: shown.append(w))
    run = lens.generate("ab", max_new_tokens=3, stream=True)
    assert len(shown) == 1 and "attnwidgets-explorer" in shown[0]._dom_classes
    view = shown[0].children[1]
    np.testing.assert_array_equal(view.record.to_numpy(), run.attention.to_numpy())
    assert view.data_version == 3  # steps 2 and 3, then the whole sequence
    with pytest.raises(TypeError, match="view= takes an AttentionView"):
        lens.generate("ab", max_new_tokens=2, view="not a view")


def test_set_data_clamps_and_resets_what_no_longer_fits():
    view = aw.AttentionView(np.full((3, 4, 6, 6), 1 / 6, np.float32), list("abcdef"),
                            layer=2, head=3, sentence_b_start=3)  # fmt: skip
    view.sentence_filter = "A->B"
    view.compare_heads = [[2, 3], [0, 1]]
    view.set_data(np.full((2, 2, 6, 6), 1 / 6, np.float32), list("uvwxyz"))
    assert (view.layer, view.head, view.n_layers, view.n_heads) == (1, 1, 2, 2)
    assert view.compare_heads == [[0, 1]]
    assert (view.sentence_b_start, view.sentence_filter) == (3, "A->B")  # still fits
    view.set_data(np.full((2, 2, 3, 3), 1 / 3, np.float32))
    assert (view.sentence_b_start, view.sentence_filter) == (-1, "all")
    with pytest.raises(ValueError, match="no attention to show"):
        view.set_data(np.zeros((2, 0, 3, 3), np.float32))


def test_sentence_b_start_validation_and_thumbnail_region():
    data = np.zeros((1, 1, 5, 5), np.float32)
    data[0, 0, :, 0] = 1.0
    with pytest.raises(ValueError, match=r"token index in 1\.\.4"):
        aw.AttentionView(data, sentence_b_start=5)
    with pytest.raises(ValueError, match="needs self-attention"):
        aw.AttentionView(np.zeros((1, 1, 2, 3), np.float32), sentence_b_start=1)
    box = model_view(data, list("abcde"), sentence_b_start=2, html_action="return")
    view = box.children[1]
    view.sentence_filter = "B->A"
    assert view.thumbnails["region"] == [2, 5, 0, 2]
    assert list(view.thumbnails["value"]) == [255, 0] * 3
    view.sentence_filter = "all"
    assert "region" not in view.thumbnails and view.thumbnails["shape"] == [1, 1, 5, 5]


def test_the_norms_tab_follows_a_new_text(lens):
    tab = lens("the cat").widget()
    view = find_attention_view(tab)
    assert tab.titles[1] == "Norms" and tab.children[1].children[1].tokens == list("the cat")
    send(view, type="run_text", text="dogs")
    norms = tab.children[1].children[1]
    assert norms.tokens == list("dogs")
    expected = aw.NormView(lens("dogs").norms, list("dogs"))  # built directly from a new run
    assert norms.layer_names == expected.layer_names and norms.data == expected.data
    assert view.source_data.text == "dogs"


def test_a_generation_that_raises_says_so_in_the_view(lens):
    view = aw.AttentionView(lens("abc"))

    def stop(run, step):
        if step == 2:
            raise RuntimeError("stopped by the user")

    with pytest.raises(RuntimeError, match="stopped by the user"):
        lens.generate("abc", max_new_tokens=5, view=view, on_step=stop)
    assert view.live_state == "error"
    assert view.live_message == "generation stopped: RuntimeError: stopped by the user"
    assert view.query_tokens[:3] == ["a", "b", "c"] and len(view.query_tokens) == 4  # step 2
    assert lens.model.config._attn_implementation == "sdpa"
