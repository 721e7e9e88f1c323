"""Batches give one Run per example with its padding left out (left or right padding, read
from the attention_mask); the explorer picks an example. After generation the view marks the
generated tokens and the Norms tab covers them. References: transformers' eager attention of
the same padded batch, cut by the mask here."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import tiny_t5
from tiny_families import IDS, RIGHT_PAD

import attnwidgets as aw
from attnwidgets.batches import pad_texts
from attnwidgets.run import Runs
from attnwidgets.widgets import NormView
from attnwidgets.widgets.attention import find_attention_view

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tiny_lm import char_gpt2, char_tokenizer

TEXTS = ["ab c", "Hello there.", "x"]


def eager_batch(model: torch.nn.Module, **inputs: Any) -> Any:
    twin = copy.deepcopy(model)
    twin.set_attn_implementation("eager")
    with torch.no_grad():
        return twin(**inputs, output_attentions=True)


@pytest.mark.parametrize("side", ["right", "left"])
def test_list_of_texts_gives_one_run_per_example_without_padding(side: str) -> None:
    tokenizer = char_tokenizer()
    tokenizer.padding_side = side
    model = char_gpt2()
    runs = aw.wrap(model, tokenizer)(TEXTS)  # a TypeError before
    assert isinstance(runs, Runs) and len(runs) == 3
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    out = eager_batch(model, **batch)
    for item, (run, text) in enumerate(zip(runs, TEXTS, strict=True)):
        keep = batch["attention_mask"][item].bool()
        assert run.tokens == list(text) and run.text == text
        assert run.attention.shape == (2, 4, len(text), len(text))
        for layer, reference in enumerate(out.attentions):
            expected = reference[item][:, keep][:, :, keep].numpy()
            assert np.abs(run.attention[layer] - expected).max() <= 1e-5
        assert run.inputs["input_ids"].shape == (1, len(text))
    if side == "left":  # padding first: the short text's first token is its own, not a pad
        assert runs[2].attention[0][0, 0, 0] == pytest.approx(1.0)


def test_tokenizer_output_with_padding_gives_runs() -> None:
    tokenizer = char_tokenizer()
    model = char_gpt2()
    batch = tokenizer(TEXTS[:2], padding=True, return_tensors="pt")
    runs = aw.wrap(model, tokenizer)(**batch)  # pointed to cap.records before
    assert [run.tokens for run in runs] == [list(TEXTS[0]), list(TEXTS[1])]
    assert [run.text for run in runs] == TEXTS[:2]


def test_tokenizer_without_pad_token_is_padded_and_left_as_it_was() -> None:
    tokenizer = char_tokenizer()
    tokenizer.pad_token = None
    encoded = pad_texts(tokenizer, ["ab", "abcd"])
    assert encoded["attention_mask"].tolist() == [[1, 1, 0, 0], [1, 1, 1, 1]]
    assert tokenizer.pad_token is None
    runs = aw.wrap(char_gpt2(), tokenizer)(["ab", "abcd"])
    assert [run.tokens for run in runs] == [["a", "b"], ["a", "b", "c", "d"]]
    with pytest.raises(TypeError, match=r"texts\[1\] is a int"):
        pad_texts(tokenizer, ["ab", 3])


def test_t5_batch_drops_encoder_padding_from_encoder_and_cross_columns() -> None:
    model = tiny_t5()
    inputs = {"input_ids": IDS, "attention_mask": RIGHT_PAD, "decoder_input_ids": IDS[:, :4]}
    runs = aw.wrap(model)(**inputs)
    out = eager_batch(model, **inputs)
    keep = RIGHT_PAD[1].bool()  # the second example has 5 real tokens of 8
    stacks = runs[1].stacks
    assert stacks["encoder"].record.shape[2:] == (5, 5)
    assert stacks["decoder"].record.shape[2:] == (4, 4)  # no decoder mask: every position
    assert stacks["cross"].record.shape[2:] == (4, 5)
    for layer in range(2):
        enc = out.encoder_attentions[layer][1][:, keep][:, :, keep].numpy()
        cross = out.cross_attentions[layer][1][:, :, keep].numpy()
        assert np.abs(stacks["encoder"].record[layer] - enc).max() <= 1e-5
        assert np.abs(stacks["cross"].record[layer] - cross).max() <= 1e-5
    assert stacks["cross"].key_tokens == [str(i) for i in IDS[1, :5].tolist()]
    assert stacks["cross"].query_tokens == [str(i) for i in IDS[1, :4].tolist()]


def test_batch_explorer_example_selector_switches_the_view() -> None:
    runs = aw.wrap(char_gpt2(), char_tokenizer())(TEXTS)
    box = runs.widget(example=1, layer=1)
    picker = box.children[0]
    view = find_attention_view(box)
    assert "attnwidgets-example" in picker._dom_classes
    assert picker.options[0][0] == "0: ab c (4 tokens)"
    assert view.query_tokens == list(TEXTS[1]) and view.layer == 1
    assert view.text == TEXTS[1]
    picker.value = 2
    assert view.query_tokens == ["x"] and view.layer == 1
    assert view.text == "x"  # the text box follows the example
    assert view.chunk["shape"][1:] == [4, 1, 1]
    assert "3 examples" in repr(runs)


def test_generated_tokens_are_marked_and_norms_cover_them() -> None:
    tokenizer = char_tokenizer()
    lens = aw.wrap(char_gpt2(), tokenizer)
    run = lens.generate("ab c", max_new_tokens=3)
    assert len(run.tokens) == 6  # 4 prompt + 2 fed back (the last new token is never fed)
    view = aw.AttentionView(run)
    assert view.generated_from == 4
    # The Norms tab's record: one pass over all 6 fed tokens (the same numbers as a new run of
    # those tokens), not the prompt's 4.
    assert run.norms is not None
    fresh = lens(input_ids=torch.tensor([tokenizer.convert_tokens_to_ids(run.tokens)]))
    assert len(run.norms) == len(fresh.norms)
    for ours, again in zip(run.norms, fresh.norms, strict=True):
        assert ours.input.token_mean.shape == (6,)
        np.testing.assert_allclose(ours.input.token_mean, again.input.token_mean, atol=1e-6)
    tabs = lens("ab c").widget()
    shown = find_attention_view(tabs)
    assert shown.generated_from == -1
    shown._live.generate("ab c", 3)  # the text box's generate button
    norm_views = [w for w in _walk(tabs.children[1]) if isinstance(w, NormView)]
    assert len(norm_views) == 1 and len(norm_views[0].tokens) == 6  # kept the prompt's 4 before
    assert shown.generated_from == 4


def _walk(widget: Any) -> list[Any]:
    found = [widget]
    for child in getattr(widget, "children", ()) or ():
        found.extend(_walk(child))
    return found
