"""Kernel-side slicing: max-pooled tiles, thumbnails, panels computed on demand."""

from __future__ import annotations

import numpy as np
import pytest

from attnwidgets import AttentionView
from attnwidgets.widgets.arrays import read_array
from attnwidgets.widgets.attention.tiles import (
    TileRequest,
    head_range,
    make_tile,
    max_pool,
    thumbnails,
)


def reference_pool(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """Plain loops over bins of ceil(n / pixels) tokens."""
    rows, cols = a.shape
    fr, fc = -(-rows // h), -(-cols // w)
    return np.array(
        [[a[i : i + fr, j : j + fc].max() for j in range(0, cols, fc)] for i in range(0, rows, fr)]
    )


@pytest.mark.parametrize(
    ("shape", "target"), [((10, 7), (3, 2)), ((9, 9), (9, 9)), ((5, 8), (8, 3))]
)
def test_max_pool_matches_loops(shape, target):
    a = np.random.default_rng(0).random(shape).astype(np.float32)
    np.testing.assert_array_equal(max_pool(a, *target), reference_pool(a, *target))


def test_sharp_diagonal_survives_pooling():
    eye = np.eye(1000, dtype=np.float32)
    pooled = max_pool(eye, 100, 100)
    np.testing.assert_array_equal(pooled, np.eye(100))  # the mean would be 0.01


def test_view_switches_to_tiles_for_long_sequences(monkeypatch):
    n = 1100
    data = np.zeros((2, 1, n, n), np.float32)
    data[1, 0, np.arange(n), 0] = 1.0  # first-token head in layer 1
    view = AttentionView(data)
    assert view.mode == "tiles" and len(view.chunk["value"]) == 0 and view.chunk["layers"] == []
    sent = []
    monkeypatch.setattr(view, "send", lambda content, buffers=None: sent.append((content, buffers)))
    msg = {"type": "request_tile", "id": "t1", "layer": 1, "head": 0}
    view._on_message(view, {**msg, "rows": [100, 1100], "cols": [0, 500], "pixels": [100, 50]}, [])
    content, buffers = sent[-1]
    assert content["id"] == "t1" and content["shape"] == [100, 50]
    tile = np.frombuffer(buffers[0], np.uint8).reshape(100, 50)
    assert (tile[:, 0] == 255).all() and (tile[:, 1:] == 0).all()
    assert len(buffers[0]) == 100 * 50  # not 1000 x 500: bins of 10 x 10 tokens
    view._on_message(view, {**msg, "rows": [0, 2000], "cols": [0, 5], "pixels": [1, 1]}, [])
    assert sent[-1][0]["type"] == "error"
    assert "tile rows must be [start, stop] within 0..1100" in sent[-1][0]["message"]
    view._on_message(view, {**msg, "head": 3, "rows": [0, 5], "cols": [0, 5], "pixels": [1, 1]}, [])
    assert sent[-1][0]["message"] == "tile head 3 out of range 0..0"


def test_tile_values_use_the_head_range():
    head = np.array([[-2.0, 1.0], [-np.inf, 3.0]], np.float32)  # raw scores, one masked
    assert head_range(head) == (-2.0, 3.0)
    tile = make_tile(head, TileRequest(0, 0, (0, 2), (0, 2), 2, 2))
    assert tile["dtype"] == "uint8" and tile["shape"] == [2, 2]
    decoded = tile["lo"] + read_array(tile).ravel() * (tile["hi"] - tile["lo"]) / 255
    np.testing.assert_allclose(decoded, [-2.0, 1.0, -2.0, 3.0], atol=5 / 255)


def test_thumbnails_are_pooled_per_head():
    eye = np.eye(64, dtype=np.float32)
    layer = np.stack([eye, eye[::-1] * 0.5])
    thumbs = thumbnails([layer], 16)
    assert thumbs["shape"] == [1, 2, 16, 16] and thumbs["hi"] == [[1.0, 0.5]]
    block = read_array(thumbs)[0]
    np.testing.assert_array_equal(block[0], np.eye(16) * 255)
    np.testing.assert_array_equal(block[1], np.eye(16)[::-1] * 255)


def test_panels_are_computed_when_switched_on():
    data = np.random.default_rng(2).dirichlet(np.ones(5), size=(3, 2, 5)).astype(np.float32)
    view = AttentionView(data)
    assert view.thumbnails == {} and view.metrics == {}
    view.show_overview = True
    assert view.thumbnails["shape"] == [3, 2, 5, 5]
    view.show_metrics = True
    values = np.frombuffer(view.metrics["value"], "<f4").reshape(view.metrics["shape"])
    names = view.metrics["names"]
    np.testing.assert_allclose(values[..., names.index("first")], data[..., 0].mean(-1), rtol=1e-5)
    eager = AttentionView(data, show_overview=True, show_metrics=True)
    assert eager.thumbnails == view.thumbnails and eager.metrics == view.metrics


def test_token_focus_reply_holds_rows_and_columns(monkeypatch):
    data = np.random.default_rng(4).dirichlet(np.ones(6), size=(2, 3, 6)).astype(np.float32)
    view = AttentionView(data)
    sent = []
    monkeypatch.setattr(view, "send", lambda content, buffers=None: sent.append((content, buffers)))
    view._on_message(view, {"type": "request_focus", "id": "f1", "token": 2, "width": 6}, [])
    content, buffers = sent[-1]
    assert content["type"] == "focus" and content["shape"] == [2, 6, 6]
    block = np.frombuffer(buffers[0], np.uint8).reshape(2, 6, 6).astype(np.float32) / 255
    rows = data[:, :, 2, :].reshape(6, 6)
    cols = data[:, :, :, 2].reshape(6, 6)
    np.testing.assert_allclose(block[0] * np.array(content["max"][0])[:, None], rows, atol=0.003)
    np.testing.assert_allclose(block[1] * np.array(content["max"][1])[:, None], cols, atol=0.003)
    view._on_message(view, {"type": "request_focus", "id": "f2", "token": 6, "width": 6}, [])
    assert sent[-1][0] == {
        "type": "error",
        "id": "f2",
        "message": "focus token 6 out of range 0..5",
    }


def test_tiles_mode_sends_the_first_view_with_the_state():
    n = 1100
    data = np.zeros((1, 2, n, n), np.float32)
    data[0, 1, np.arange(n), np.arange(n)] = 1.0
    view = AttentionView(data, head=1)
    meta = view.tile0
    assert (meta["layer"], meta["head"], meta["rows"], meta["cols"]) == (0, 1, [0, n], [0, n])
    assert meta["shape"] == [367, 367]  # bins of ceil(1100 / 512) = 3 tokens
    tile = np.frombuffer(view.tile0["value"], np.uint8).reshape(meta["shape"])
    np.testing.assert_array_equal(tile, np.eye(367, dtype=np.uint8) * 255)
    assert AttentionView(data[:, :, :100, :100]).tile0 == {}  # layers mode: not needed
