"""A crafted message table against the VLM views' handlers (CrossModalView, FeatureHeatmapView):
wrong types, NaN, booleans, huge numbers, missing fields, unknown types, non-object content.
Each message gets exactly one error reply naming the field (with a sane id); nothing raises in
the kernel; the view's state is as it was."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from attnwidgets.feature_records import FeatureSet, ModuleFeatures, Surface
from attnwidgets.records import AttentionRecord
from attnwidgets.vlm_records import ImagePosition, ImageView, VLMImage, VLMInfo
from attnwidgets.widgets.vlm import CrossModalView, FeatureHeatmapView

NAN = math.nan
BLOCK = {"type": "request_block", "layer": 0}
MAP = {"type": "request_map", "module": 0, "measure": "norm", "surface": 0}

CROSS: list[tuple[Any, str]] = [
    ("a string", "a request must be an object, not str"),
    (None, "a request must be an object, not NoneType"),
    ([BLOCK], "a request must be an object, not list"),
    ({}, "type: None is not 'request_block'"),
    ({"type": "request_map"}, "type: 'request_map' is not 'request_block'"),
    ({"type": ["request_block"]}, "type: ['request_block'] is not"),
    ({"type": "request_block"}, "layer: None is out of range; layers are 0..1"),
    ({**BLOCK, "layer": NAN}, "layer: nan is out of range"),
    ({**BLOCK, "layer": True}, "layer: True is out of range"),
    ({**BLOCK, "layer": -1}, "layer: -1 is out of range"),
    ({**BLOCK, "layer": 10**30}, "is out of range; layers are 0..1"),
    ({**BLOCK, "layer": list(range(10**4))}, "layer: [0, 1, 2"),
]
FEATURES: list[tuple[Any, str]] = [
    (42, "a request must be an object, not int"),
    ({"type": "request_block"}, "type: 'request_block' is not 'request_map'"),
    ({"type": "request_map"}, "module: None is out of range; modules are 0..0"),
    ({**MAP, "module": NAN}, "module: nan is out of range"),
    ({**MAP, "module": True}, "module: True is out of range"),
    ({**MAP, "measure": None}, "measure: None is not one of norm, channel, pca, patch, text"),
    ({**MAP, "measure": ["pca"]}, "measure: ['pca'] is not one of"),
    ({**MAP, "surface": -5}, "surface: -5 is out of range; surfaces are 0..0"),
    ({**MAP, "surface": 10**40}, "surface: 10000000000"),
    ({**MAP, "measure": "channel", "channel": NAN}, "channel: nan is out of range; channels"),
    ({**MAP, "measure": "channel", "channel": "3"}, "channel: '3' is out of range"),
    ({**MAP, "measure": "patch"}, "patch: None is not [row, col] on the 2 x 2 grid"),
    ({**MAP, "measure": "patch", "patch": [0, NAN]}, "patch: [0, nan] is not [row, col]"),
    ({**MAP, "measure": "patch", "patch": "0,0"}, "patch: '0,0' is not [row, col]"),
    ({**MAP, "measure": "patch", "patch": [9, 9]}, "patch: [9, 9] is not [row, col]"),
    ({**MAP, "measure": "patch", "patch": {"r": 0}}, "patch: {'r': 0} is not [row, col]"),
    ({**MAP, "measure": "text", "token": None}, "token: None is not a sequence position"),
    ({**MAP, "measure": "text", "token": 2}, "token 2 is not a text position"),
    ({**MAP, "measure": "text", "token": 10**20}, "is not a text position"),
]


def cross_view() -> CrossModalView:
    views = (ImageView("image", (1, 2)),)
    info = VLMInfo.build("llava", ["a", "<i>", "<i>", "b", "c"],
                         {1: ImagePosition(0, 0, 0), 2: ImagePosition(0, 0, 1)},
                         [VLMImage(0, np.zeros((4, 8, 3), np.uint8), views)])  # fmt: skip
    w = np.tril(np.ones((2, 5, 5), np.float32))
    w /= w.sum(-1, keepdims=True)
    return CrossModalView(AttentionRecord([w, w]), info=info)


def feature_view() -> FeatureHeatmapView:
    hidden = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    surface = Surface("image 0", "text", 0, (2, 2), np.array([1, 2, 3, 4]))
    fs = FeatureSet([ModuleFeatures("lm.0", "text", hidden)], [surface],
                    [np.zeros((8, 8, 3), np.uint8)], list("abcdef"),
                    ["text", "image", "image", "image", "image", "text"])  # fmt: skip
    return FeatureHeatmapView(fs)


def replies_to(view: Any, message: Any) -> list[tuple[dict[str, Any], Any]]:
    sent: list[tuple[dict[str, Any], Any]] = []
    view.send = lambda content, buffers=None: sent.append((content, buffers))
    view._handle_custom_msg(message, [])  # what ipywidgets calls for a comm message
    return sent


def check(view: Any, message: Any, words: str) -> None:
    before = view.get_state()
    if isinstance(message, dict):
        message = {**message, "id": 17}
    sent = replies_to(view, message)
    assert len(sent) == 1, sent
    content, buffers = sent[0]
    assert content["type"] == "error" and not buffers
    assert words in content["message"], content["message"]
    assert len(content["message"]) < 400  # a huge field is not echoed back whole
    assert content["id"] == (17 if isinstance(message, dict) else None)
    assert view.get_state() == before


@pytest.mark.parametrize(("message", "words"), CROSS, ids=[str(i) for i in range(len(CROSS))])
def test_cross_modal_bad_messages(message: Any, words: str) -> None:
    check(cross_view(), message, words)


@pytest.mark.parametrize(("message", "words"), FEATURES, ids=[str(i) for i in range(len(FEATURES))])
def test_feature_bad_messages(message: Any, words: str) -> None:
    check(feature_view(), message, words)


@pytest.mark.parametrize("request_id", [True, {"$gt": 0}, [1, 2], "x" * 10_000, 1.5], ids=str)
def test_odd_ids_are_not_echoed(request_id: Any) -> None:
    for view, message in ((cross_view(), BLOCK), (feature_view(), MAP)):
        content, _ = replies_to(view, {**message, "id": request_id})[0]
        assert content["id"] is None
