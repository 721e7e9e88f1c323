"""Crafted messages against ImageAttentionView's handler: wrong types, NaN, booleans, huge and
negative numbers, missing fields, unknown types, non-object content. Each gets exactly one
error reply naming the field, with a sane id; nothing raises; the view's state is unchanged."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from attnwidgets.records import AttentionRecord
from attnwidgets.vision_records import VisionInfo
from attnwidgets.widgets.vision.image_attention import ImageAttentionView

ROWS = {"type": "request_rows", "layer": 0, "query": 1}
LAYER = {"type": "request_layer", "layer": 0}

TABLE: list[tuple[Any, str]] = [
    ("a string", "a request must be an object"),
    ([LAYER], "a request must be an object"),
    (None, "a request must be an object"),
    ({}, "type: None is not one of"),
    ({"type": ["request_rows"]}, "type: ['request_rows'] is not one of"),
    ({"type": "request_tile"}, "type: 'request_tile' is not one of"),
    ({**LAYER, "layer": math.nan}, "layer: nan is out of range"),
    ({**LAYER, "layer": 1.0}, "layer: 1.0 is out of range"),
    ({**LAYER, "layer": False}, "layer: False is out of range"),
    ({**LAYER, "layer": -1}, "layer: -1 is out of range"),
    ({**LAYER, "layer": 10**30}, "layer: 1000000000000000000000000000000 is out of range"),
    ({**ROWS, "query": None}, "query: None is out of range"),
    ({**ROWS, "query": [1]}, "query: [1] is out of range"),
    ({**ROWS, "query": 1e9}, "query: 1000000000.0 is out of range"),
    ({**ROWS, "query": 5}, "query: 5 is out of range; layer 0 has queries 0..4"),
    ({**ROWS, "query": "x" * 500}, "query: 'xxxxxxxx"),
]


@pytest.fixture
def view() -> ImageAttentionView:
    info = VisionInfo.build("vit", np.zeros((8, 8, 3), np.uint8), (2, 2), (4, 4), ["[CLS]"])
    record = AttentionRecord([np.full((2, 5, 5), 0.2, np.float32)] * 2)
    return ImageAttentionView(record, info=info, mode="rows")


@pytest.mark.parametrize(("message", "words"), TABLE)
@pytest.mark.parametrize("request_id", [7, "abc", {"no": "dict"}, 1.5, True])
def test_each_bad_message_gets_one_error_naming_the_field(view, message, words, request_id):
    content = {**message, "id": request_id} if isinstance(message, dict) else message
    sent: list[tuple[dict[str, Any], Any]] = []
    view.send = lambda reply, buffers=None: sent.append((reply, buffers))  # type: ignore[method-assign]
    before = view.get_state()
    view._handle_custom_msg(content, [])
    assert len(sent) == 1
    reply, buffers = sent[0]
    assert reply["type"] == "error" and buffers == []
    assert words in reply["message"] and len(reply["message"]) < 200
    expected_id = request_id if isinstance(message, dict) and request_id in (7, "abc") else None
    assert reply["id"] == expected_id
    assert view.get_state().keys() == before.keys()
    assert (view.layer, view.query, view.mode) == (before["layer"], before["query"], "rows")
