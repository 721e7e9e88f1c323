"""head_view / model_view take what bertviz takes (and TransformerLens caches, numpy)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from attnwidgets import AttentionView
from attnwidgets.bertviz import head_view, model_view
from attnwidgets.widgets.inputs import as_attention_record


def eager_gpt2_attentions(ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """What a bertviz user passes: outputs.attentions of an eager model (one tensor per layer)."""
    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_head=4, n_embd=32, vocab_size=64, n_positions=64)
    model = GPT2LMHeadModel(config).eval()
    model.set_attn_implementation("eager")
    with torch.no_grad():
        attentions = model(input_ids=ids, output_attentions=True).attentions
    assert len(attentions) == 2
    return tuple(attentions)


def test_transformers_tuple_is_shown_exactly():
    ids = torch.tensor([[1, 5, 9, 2, 7]])
    attentions = eager_gpt2_attentions(ids)
    tokens = ["The", "Ġcat", "Ġsat", "Ġon", "Ġit"]
    box = head_view(attentions, tokens, layer=1, heads=[3], html_action="return")
    view = box.children[1]
    assert (view.layer, view.head) == (1, 3)
    assert view.query_tokens == ["The", " cat", " sat", " on", " it"]
    np.testing.assert_allclose(view.record[1], attentions[1][0].numpy(), atol=1e-7)


def test_transformerlens_cache_and_numpy():
    rng = np.random.default_rng(3)
    patterns = rng.dirichlet(np.ones(4), size=(3, 2, 4)).astype(np.float32)
    cache = {f"blocks.{i}.attn.hook_pattern": patterns[i][None] for i in range(3)}
    cache["blocks.0.hook_resid_pre"] = np.zeros((1, 4, 8))
    record = as_attention_record(cache)
    np.testing.assert_array_equal(record.to_numpy(), patterns)
    assert record.layer_names[2] == "blocks.2.attn.hook_pattern"
    box = model_view(patterns, list("abcd"), include_layers=[0, 2], html_action="return")
    view = box.children[1]
    assert view.n_layers == 2 and view.show_overview
    np.testing.assert_array_equal(view.record[1], patterns[2])
    with pytest.raises(ValueError, match="hook_pattern"):
        as_attention_record({"blocks.0.hook_resid_pre": np.zeros(3)})


def test_attention_view_takes_what_head_view_takes():
    """One input boundary: a TransformerLens cache, a model output, the attentions tuple."""
    rng = np.random.default_rng(4)
    patterns = rng.dirichlet(np.ones(4), size=(2, 3, 4)).astype(np.float32)
    cache = {f"blocks.{i}.attn.hook_pattern": torch.from_numpy(patterns[i][None]) for i in (0, 1)}

    class Output:  # what a transformers model returns with output_attentions=True
        attentions = tuple(torch.from_numpy(p[None]) for p in patterns)

    for given in (cache, Output(), Output.attentions):
        view = AttentionView(given, list("abcd"), layer=1, head=2)
        np.testing.assert_allclose(view.record[1], patterns[1], rtol=1e-6)
        shown = head_view(given, list("abcd"), html_action="return").children[1]
        assert shown.record.shape == view.record.shape == (2, 3, 4, 4)
    assert AttentionView(cache).record.layer_names == ["blocks.0.attn.hook_pattern",
                                                       "blocks.1.attn.hook_pattern"]  # fmt: skip


@pytest.mark.parametrize("given", ["the cat", None, object(), {"a": 1}.keys()])
def test_anything_else_is_refused_with_what_is_accepted(given):
    with pytest.raises(TypeError, match=r"cannot read attention from \w+: expected a Run"):
        AttentionView(given)
    if given is not None:  # head_view(None): no attention given at all (its own error)
        with pytest.raises(TypeError, match="TransformerLens cache"):
            head_view(given, html_action="return")


def test_encoder_decoder_gives_tabs():
    enc = (np.full((1, 2, 3, 3), 1 / 3),)
    dec = (np.full((1, 2, 2, 2), 0.5),)
    cross = (np.full((1, 2, 2, 3), 1 / 3),)
    tabs = head_view(
        encoder_attention=enc,
        decoder_attention=dec,
        cross_attention=cross,
        encoder_tokens=list("abc"),
        decoder_tokens=list("xy"),
        html_action="return",
    )
    assert tabs.titles == ("Encoder", "Decoder", "Cross")
    cross_view = tabs.children[2].children[1]
    assert cross_view.query_tokens == ["x", "y"] and cross_view.key_tokens == ["a", "b", "c"]


def test_view_displays_and_bad_input_is_explained(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda w: shown.append(w))
    assert head_view(np.full((1, 1, 2, 2), 0.5), ["a", "b"]) is None
    assert len(shown) == 1 and "attnwidgets-explorer" in shown[0]._dom_classes
    with pytest.raises(ValueError, match="empty tuple"):
        head_view((), [], html_action="return")
    with pytest.raises(ValueError, match="no attention given"):
        model_view(html_action="return")
    with pytest.raises(ValueError, match="html_action"):
        head_view(np.full((1, 1, 2, 2), 0.5), html_action="html")
    with pytest.raises(ValueError, match=r"sentence_b_start must be a token index in 1\.\.1"):
        head_view(np.full((1, 1, 2, 2), 0.5), sentence_b_start=2, html_action="return")
