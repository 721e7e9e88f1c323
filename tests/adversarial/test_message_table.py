"""A crafted message table against every widget's message handler: wrong types, out of range,
NaN, booleans, missing fields, huge regions, unknown types, non-object content. Each message to
an AttentionView gets exactly one error reply that names the field (and echoes a sane id);
nothing raises in the kernel; the view's state is as it was."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from attnwidgets.records import AttentionRecord
from attnwidgets.widgets import AttentionView, NormView, PositionView, TrainingMonitorView

N = 40  # tokens
TILE = {
    "type": "request_tile",
    "layer": 0,
    "head": 0,
    "rows": [0, N],
    "cols": [0, N],
    "pixels": [8, 8],
}
FOCUS = {"type": "request_focus", "token": 1, "width": 8}
LAYER = {"type": "request_layer", "layer": 0}
NAN = math.nan

# (message, words the error must contain)
TABLE: list[tuple[Any, str]] = [
    ("a string", "must be a JSON object"),
    (42, "must be a JSON object"),
    (None, "must be a JSON object"),
    ([LAYER], "must be a JSON object"),
    ({}, "unknown message type None"),
    ({"type": "drop_tables"}, "unknown message type 'drop_tables'"),
    ({"type": ["request_layer"]}, "unknown message type"),
    ({"type": "request_layer"}, "layer None out of range 0..1"),
    ({**LAYER, "layer": "0"}, "layer '0' out of range"),
    ({**LAYER, "layer": 0.0}, "layer 0.0 out of range"),
    ({**LAYER, "layer": NAN}, "layer nan out of range"),
    ({**LAYER, "layer": True}, "layer True out of range"),
    ({**LAYER, "layer": -1}, "layer -1 out of range"),
    ({**LAYER, "layer": 10**30}, "out of range 0..1"),
    ({**LAYER, "layer": [0]}, "layer [0] out of range"),
    ({**LAYER, "kind": "nope"}, "kind 'nope' is not one of ['probability', 'scores']"),
    ({**LAYER, "kind": 7}, "kind 7 is not one of"),
    ({**LAYER, "kind": ["scores"]}, "kind ['scores'] is not one of"),
    ({**TILE, "head": None}, "tile head None out of range 0..2"),
    ({**TILE, "head": 3}, "tile head 3 out of range 0..2"),
    ({**TILE, "head": False}, "tile head False"),
    ({**TILE, "head": NAN}, "tile head nan"),
    ({**TILE, "layer": "zero"}, "tile layer 'zero'"),
    ({**TILE, "rows": None}, "tile rows must be [start, stop] within 0..40"),
    ({**TILE, "rows": [0]}, "tile rows must be"),
    ({**TILE, "rows": [5, 2]}, "tile rows must be"),
    ({**TILE, "rows": [0, 10**12]}, "tile rows must be [start, stop] within 0..40"),
    ({**TILE, "cols": [0, NAN]}, "tile cols must be"),
    ({**TILE, "cols": [-(10**12), 10**12]}, "tile cols must be"),
    ({**TILE, "cols": list(range(10**5))}, "tile cols must be"),
    ({**TILE, "pixels": [0, 5]}, "tile pixels must be"),
    ({**TILE, "pixels": [True, True]}, "tile pixels must be"),
    ({**TILE, "pixels": "800x600"}, "tile pixels must be"),
    ({**TILE, "kind": "masked"}, "kind 'masked' is not one of"),
    ({"type": "request_focus"}, "focus token None out of range 0..39"),
    ({**FOCUS, "token": N}, "focus token 40 out of range 0..39"),
    ({**FOCUS, "token": "1"}, "focus token '1'"),
    ({**FOCUS, "token": True}, "focus token True"),
    ({**FOCUS, "token": NAN}, "focus token nan"),
    ({**FOCUS, "width": 0}, "focus width must be a whole number >= 1"),
    ({**FOCUS, "width": "wide"}, "focus width must be"),
    ({**FOCUS, "width": False}, "focus width must be"),
    ({**FOCUS, "kind": {}}, "kind {} is not one of"),
    ({"type": "run_text", "text": "hello"}, "this view has no model to run"),
    ({"type": "generate", "text": "hello", "max_new_tokens": 5}, "this view has no model to run"),
]


def scored_view(**options: Any) -> AttentionView:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(N), size=(2, 3, N)).astype(np.float32)
    scores = AttentionRecord(list(np.log(probs)), kind="scores")
    return AttentionView(probs, [f"t{i}" for i in range(N)], scores={"scores": scores}, **options)


def replies_to(view: Any, message: Any) -> list[tuple[dict[str, Any], Any]]:
    sent: list[tuple[dict[str, Any], Any]] = []
    view.send = lambda content, buffers=None: sent.append((content, buffers))
    view._handle_custom_msg(message, [])  # what ipywidgets calls for a comm message
    return sent


def state_of(widget: Any) -> dict[str, Any]:
    return {k: v for k, v in widget.get_state().items() if k != "live_answered"}


@pytest.mark.parametrize(("message", "words"), TABLE, ids=[str(i) for i in range(len(TABLE))])
@pytest.mark.parametrize("mode", ["layers", "tiles"])
def test_every_bad_message_gets_one_error_naming_the_field(
    message: Any, words: str, mode: str
) -> None:
    view = scored_view(mode=mode)
    before = state_of(view)
    if isinstance(message, dict):
        message = {**message, "id": 17}
        if mode == "tiles" and message.get("type") == "request_layer" and "kind" not in message:
            words = "request_layer: this view is in 'tiles' mode"  # no layer is advertised
    sent = replies_to(view, message)
    assert len(sent) == 1, sent
    content, buffers = sent[0]
    assert content["type"] == "error" and buffers is None
    assert words in content["message"], content["message"]
    assert len(content["message"]) < 300  # a huge field is not echoed back
    assert content["id"] == (17 if isinstance(message, dict) else None)
    assert state_of(view) == before


@pytest.mark.parametrize("request_id", [True, {"$gt": 0}, [1, 2], "x" * 10_000, 1.5, None], ids=str)
def test_odd_ids_are_not_echoed(request_id: Any) -> None:
    view = scored_view()
    content, _ = replies_to(view, {**LAYER, "layer": 9, "id": request_id})[0]
    assert content["type"] == "error" and content["id"] is None


def test_huge_but_valid_requests_are_cut_to_what_the_browser_can_show() -> None:
    view = scored_view(mode="tiles")
    content, buffers = replies_to(view, {**TILE, "id": 1, "pixels": [10**9, 10**9]})[0]
    assert content["type"] == "tile" and content["shape"] == [N, N] and len(buffers[0]) == N * N
    content, buffers = replies_to(view, {**FOCUS, "id": 2, "width": 10**12})[0]
    assert content["type"] == "focus" and content["shape"] == [2, 6, N]


def test_the_live_box_turns_bad_messages_into_an_error_state() -> None:
    class Source:
        def __call__(self, text: str) -> Any:
            raise AssertionError("a bad message must never reach the model")

    view = AttentionView(np.full((1, 1, 2, 2), 0.5, np.float32), ["a", "b"], live=Source())
    data = {k: v for k, v in state_of(view).items() if not k.startswith("live")}
    for message, words in [
        ({"type": "run_text", "id": 1}, "the text must be a string"),
        ({"type": "run_text", "id": 2, "text": ["x"]}, "the text must be a string"),
        ({"type": "run_text", "id": 3, "text": " \t "}, "the text is empty"),
        ({"type": "generate", "id": True, "text": "x", "max_new_tokens": True}, "cannot generate"),
        ({"type": "run_text", "id": 10**30, "text": None}, "the text must be a string"),
    ]:
        assert replies_to(view, message) == []  # answers come as traits
        assert view.live_state == "error" and words in view.live_message
        assert {k: v for k, v in state_of(view).items() if not k.startswith("live")} == data
    assert view.live_answered == 3  # ids a browser cannot count on are not taken


def other_widgets() -> list[Any]:
    import attnwidgets.positions as pos
    from attnwidgets.norm_records import NormLayer, NormRecord, TensorSummary

    s = TensorSummary.from_numpy(np.ones((1, 2, 4)))
    return [
        NormView(NormRecord([NormLayer("ln", "layernorm", "LayerNorm", (1, 2, 4), s, s)])),
        PositionView(pos.rotary(16)),
        TrainingMonitorView(),
    ]


@pytest.mark.parametrize("message", [m for m, _ in TABLE[:8]], ids=str)
def test_widgets_without_handlers_ignore_messages(message: Any) -> None:
    for widget in other_widgets():
        before = state_of(widget)
        assert replies_to(widget, message) == []
        assert state_of(widget) == before
