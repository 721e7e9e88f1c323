"""Crafted messages against TokenizerView's vocabulary handler: wrong types, NaN, booleans,
huge and negative numbers, missing fields, unknown types, non-object content. Each gets exactly
one error reply naming the field, with a sane id; nothing raises; the view's state is unchanged.
And a closed, dropped view is collected with the embeddings it held."""

from __future__ import annotations

import gc
import math
import weakref
from typing import Any

import numpy as np
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from attnwidgets import TokenizerView

SEARCH = {"type": "search", "tokenizer": 0, "query": "ing"}
NEAREST = {"type": "nearest", "tokenizer": 0, "token": 1, "k": 3}

TABLE: list[tuple[Any, str]] = [
    ("a string", "message: expected an object"),
    ([SEARCH], "message: expected an object"),
    (None, "message: expected an object"),
    ({}, "type: None is not 'search' or 'nearest'"),
    ({"type": ["search"]}, "type: ['search'] is not"),
    ({**SEARCH, "tokenizer": math.nan}, "tokenizer: nan is not one of 0..0"),
    ({**SEARCH, "tokenizer": 1}, "tokenizer: 1 is not one of 0..0"),
    ({**SEARCH, "tokenizer": False}, "tokenizer: False is not one of 0..0"),
    ({**SEARCH, "tokenizer": "0"}, "tokenizer: '0' is not one of 0..0"),
    ({**SEARCH, "query": None}, "query: give a substring"),
    ({**SEARCH, "query": ["ing"]}, "query: give a substring"),
    ({**SEARCH, "query": "x" * 10_000}, "query: give a substring (1 to 200 characters)"),
    ({**SEARCH, "query": "#99999"}, "search_vocab: id 99999 is not in"),
    ({**NEAREST, "token": math.nan}, "token: nan is not a token id"),
    ({**NEAREST, "token": 1.0}, "token: 1.0 is not a token id"),
    ({**NEAREST, "token": True}, "token: True is not a token id"),
    ({**NEAREST, "token": -1}, "nearest_tokens: id -1 is outside"),
    ({**NEAREST, "token": 10**30}, "nearest_tokens: id 1000000000000000000000000000000 is outside"),
    ({**NEAREST, "k": 0}, "k: 0 is not in 1..100"),
    ({**NEAREST, "k": 10**9}, "k: 1000000000 is not in 1..100"),
    ({**NEAREST, "k": "3"}, "k: '3' is not in 1..100"),
]


def tokenizer() -> Tokenizer:
    vocab = {"[UNK]": 0, "sing": 1, "##ing": 2, "ring": 3, "in": 4}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return tok


@pytest.fixture
def view() -> TokenizerView:
    table = np.arange(10, dtype=np.float32).reshape(5, 2) + 1
    return TokenizerView(tokenizer(), "sing ring in", model=table)


@pytest.mark.parametrize(("content", "message"), TABLE)
def test_every_crafted_message_gets_one_error_reply(
    view: TokenizerView, content: Any, message: str
):
    sent: list[dict[str, Any]] = []
    view.send = lambda reply, buffers=None: sent.append(reply)  # type: ignore[method-assign]
    before = view.get_state()
    if isinstance(content, dict):
        content = {**content, "id": 7}
    view._handle_custom_msg(content, [])
    assert len(sent) == 1
    reply = sent[0]
    assert reply["type"] == "error" and message in reply["message"], reply
    assert reply["id"] == (7 if isinstance(content, dict) else None)
    assert view.get_state() == before


@pytest.mark.parametrize("bad_id", [10**40, "x" * 201, [1], {"a": 1}, True, math.inf])
def test_odd_ids_are_not_echoed(view: TokenizerView, bad_id: Any) -> None:
    sent: list[dict[str, Any]] = []
    view.send = lambda reply, buffers=None: sent.append(reply)  # type: ignore[method-assign]
    view._handle_custom_msg({**SEARCH, "id": bad_id}, [])
    assert sent[0]["id"] in (None, 10**40)  # ints are echoed whole; anything else is dropped
    assert sent[0]["type"] == "search"


def test_a_closed_dropped_view_is_collected_with_its_embeddings() -> None:
    table = np.ones((5, 4), np.float32)
    view = TokenizerView(tokenizer(), "sing", model=table)
    view.send = lambda reply, buffers=None: None  # type: ignore[method-assign]
    view._handle_custom_msg({**NEAREST, "id": 1}, [])
    view.word = "ring"
    refs = [weakref.ref(view), weakref.ref(table)]
    view.close()
    del view, table
    gc.collect()
    assert [ref() is None for ref in refs] == [True, True]
