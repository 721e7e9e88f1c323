"""Issue 12, item 7 (widget side): NaN keeps its own byte, booleans are no indices, labels with
lone surrogates still reach the browser, bundles are text."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
from jupyter_client.session import json_packer

from attnwidgets.widgets import AttentionView, NormView, PositionView, TrainingMonitorView
from attnwidgets.widgets.attention.tiles import max_pool
from attnwidgets.widgets.attention.transport import EncodedBlock, decode_block


def capture_sent(view: AttentionView) -> list[tuple[dict[str, Any], Any]]:
    sent: list[tuple[dict[str, Any], Any]] = []
    view.send = lambda content, buffers=None: sent.append((content, buffers))  # type: ignore[method-assign]
    return sent


def with_nan() -> np.ndarray:
    data = np.full((2, 2, 4, 4), 0.25, np.float32)
    data[1, 0, 2, 1] = np.nan  # a broken cell
    data[1, 0, 3, :] = [0.1, 0.2, 0.3, 0.4]
    return data


def test_nan_cells_get_their_own_byte_in_layers() -> None:
    view = AttentionView(with_nan(), list("abcd"), preload="all")
    meta = view.chunk
    assert meta["nan_byte"] == 255 and "masked_byte" not in meta
    size = 2 * 4 * 4
    block = EncodedBlock(
        view.chunk["value"][size:], (2, 4, 4), meta["offset"][1], meta["scale"][1], nan=True
    )
    raw = np.frombuffer(view.chunk["value"][size:], np.uint8).reshape(2, 4, 4)
    assert raw[0, 2, 1] == 255 and (np.delete(raw.ravel(), 2 * 4 + 1) < 255).all()
    decoded = decode_block(block)
    assert np.isnan(decoded[0, 2, 1]) and np.isnan(decoded).sum() == 1
    np.testing.assert_allclose(decoded[0, 3], [0.1, 0.2, 0.3, 0.4], atol=0.4 / 254)
    sent = capture_sent(view)
    view._on_message(view, {"type": "request_layer", "id": 1, "layer": 1}, [])
    assert sent[-1][0]["nan_byte"] == 255
    view._on_message(view, {"type": "request_layer", "id": 2, "layer": 0}, [])
    assert "nan_byte" not in sent[-1][0]  # a layer without NaN keeps all 256 levels


def test_nan_cells_get_their_own_byte_in_tiles() -> None:
    view = AttentionView(with_nan(), list("abcd"), mode="tiles")
    sent = capture_sent(view)
    tile = {
        "type": "request_tile",
        "id": "t",
        "layer": 1,
        "head": 0,
        "rows": [0, 4],
        "cols": [0, 4],
        "pixels": [2, 2],
    }
    view._on_message(view, tile, [])
    content, buffers = sent[-1]
    assert content["nan_byte"] == 255
    pooled = np.frombuffer(buffers[0], np.uint8).reshape(2, 2)
    assert pooled[1, 0] == 255  # the bin holding the NaN shows it, however far zoomed out
    assert (pooled[[0, 0, 1], [0, 1, 1]] == round(0.4 / 0.4 * 254)).sum() == 1  # 0.4 at 254
    assert np.isnan(max_pool(with_nan()[1, 0], 1, 1)[0, 0])


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (
            {
                "type": "request_tile",
                "layer": 0,
                "head": True,
                "rows": [0, 2],
                "cols": [0, 2],
                "pixels": [2, 2],
            },
            "tile head True",
        ),
        (
            {
                "type": "request_tile",
                "layer": False,
                "head": 0,
                "rows": [0, 2],
                "cols": [0, 2],
                "pixels": [2, 2],
            },
            "tile layer False",
        ),
        (
            {
                "type": "request_tile",
                "layer": 0,
                "head": 0,
                "rows": [False, True],
                "cols": [0, 2],
                "pixels": [2, 2],
            },
            "tile rows",
        ),
        ({"type": "request_focus", "token": True, "width": 4}, "focus token True"),
        ({"type": "request_focus", "token": 0, "width": True}, "focus width"),
        ({"type": "request_layer", "layer": True}, "layer True"),
    ],
)
def test_json_booleans_are_no_indices(message: dict[str, Any], field: str) -> None:
    view = AttentionView(np.full((2, 2, 4, 4), 0.25, np.float32), list("abcd"))
    sent = capture_sent(view)
    view._on_message(view, {**message, "id": 9}, [])
    content, buffers = sent[-1]
    assert content["type"] == "error" and content["id"] == 9 and buffers is None
    assert field in content["message"]


def test_lone_surrogates_in_labels_still_reach_the_browser() -> None:
    tokens = ["ok", "bad\ud800", "\udfff", "pair\ud83d\ude00"]
    view = AttentionView(np.full((1, 1, 4, 4), 0.25, np.float32), tokens)
    json_packer(view.get_state())  # what the kernel sends: raised UnicodeEncodeError before
    assert view.query_tokens == ["ok", "bad\ufffd", "\ufffd", "pair😀"]
    view.set_data(np.full((1, 1, 2, 2), 0.5, np.float32), ["new\udc80", "x"])
    json_packer(view.get_state())
    assert view.query_tokens == ["new\ufffd", "x"]
    view.text = "typed \ud800"
    assert view.text == "typed \ufffd"
    monitor = TrainingMonitorView()
    monitor.layer_names = ["ln\ud800"]
    json_packer(monitor.get_state())


def test_other_widgets_clean_their_labels_too() -> None:
    import attnwidgets.positions as pos
    from attnwidgets.norm_records import NormLayer, NormRecord, TensorSummary

    s = TensorSummary.from_numpy(np.random.default_rng(0).normal(size=(1, 2, 8)))
    norms = NormView(
        NormRecord([NormLayer("ln\ud800", "layernorm", "LayerNorm", (1, 2, 8), s, s)]),
        ["a\udfff", "b"],
    )
    json_packer(norms.get_state())
    assert norms.tokens == ["a\ufffd", "b"] and norms.layer_names == ["ln\ufffd"]
    scheme = pos.sinusoidal(4, length=8)
    scheme = dataclasses.replace(scheme, source="src\ud800")
    json_packer(PositionView(scheme).get_state())


def test_bundles_are_text_not_watched_files() -> None:
    for widget in (AttentionView, NormView, PositionView, TrainingMonitorView):
        assert isinstance(widget._esm, str) and "\n" in widget._esm, widget
