"""Widgets created, closed, dropped: collected, with the records they held, and the process's
memory comes back (anywidget's watched bundle file used to hold every view forever)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import psutil
import pytest

import attnwidgets.positions as pos
from attnwidgets.norm_records import NormLayer, NormRecord, TensorSummary
from attnwidgets.records import AttentionRecord
from attnwidgets.widgets import AttentionView, NormView, PositionView, TrainingMonitorView

LAYERS, HEADS, TOKENS = 6, 12, 256  # all-MiniLM-L6-v2 at 256 tokens: 18.9 MB of float32


def minilm_record(seed: int) -> AttentionRecord:
    rng = np.random.default_rng(seed)
    probs = rng.random((LAYERS, HEADS, TOKENS, TOKENS), dtype=np.float32)
    probs /= probs.sum(-1, keepdims=True)
    return AttentionRecord(list(probs), [f"encoder.layer.{i}.attention.self" for i in range(6)])


def attention_view(seed: int) -> tuple[Any, Any]:
    record = minilm_record(seed)
    view = AttentionView(
        record, [f"tok{i}" for i in range(TOKENS)], show_overview=True, show_metrics=True
    )
    view.send = lambda content, buffers=None: None  # type: ignore[method-assign]
    view._handle_custom_msg({"type": "request_layer", "id": 1, "layer": 3}, [])
    view._handle_custom_msg({"type": "request_focus", "id": 2, "token": 5, "width": 64}, [])
    return view, record


def norm_view(seed: int) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    layers = []
    for i in range(13):
        x = rng.normal(size=(1, TOKENS, 384))
        s = TensorSummary.from_numpy(x)
        layers.append(NormLayer(f"ln.{i}", "layernorm", "LayerNorm", x.shape, s, s))
    record = NormRecord(layers, tokens=[f"tok{i}" for i in range(TOKENS)])
    return NormView(record), record


def position_view(seed: int) -> tuple[Any, Any]:
    scheme = pos.sinusoidal(384, length=512)
    return PositionView(scheme), scheme


def monitor_view(seed: int) -> tuple[Any, Any]:
    view = TrainingMonitorView()
    arrays = {
        "hist_in": np.ones((6, 64), np.int32),
        "hist_out": np.ones((6, 64), np.int32),
        "range": np.tile([-1.0, 1.0], (6, 1)),
        "spread": np.ones((6, 2)),
        "nonfinite": np.zeros((6, 6), np.int32),
    }
    for step in range(50):
        view.push(step, arrays, [f"ln.{i}" for i in range(6)])
        view.add_loss(step, 1.0 / (step + 1))
    view.flush()
    return view, view.history


MAKERS: dict[str, Callable[[int], tuple[Any, Any]]] = {
    "AttentionView": attention_view,
    "NormView": norm_view,
    "PositionView": position_view,
    "TrainingMonitorView": monitor_view,
}


@pytest.mark.parametrize("name", list(MAKERS))
def test_a_closed_dropped_view_is_collected_with_its_record(name: str) -> None:
    view, held = MAKERS[name](0)
    view_ref, held_ref = weakref.ref(view), weakref.ref(held)
    view.close()
    del view, held
    gc.collect()
    assert view_ref() is None, f"{name} is still referenced after close(): " + ", ".join(
        type(r).__name__ for r in gc.get_referrers(view_ref())
    )
    assert held_ref() is None


def rss() -> int:
    gc.collect()
    return int(psutil.Process().memory_info().rss)


def test_memory_comes_back_after_many_views() -> None:
    def views(seeds: range) -> None:
        for seed in seeds:
            view, _ = attention_view(seed)
            view.close()
            del view

    views(range(8))  # warm up: imports, caches, and the allocator's own high-water mark
    start = rss()
    views(range(8, 32))  # a leak keeps 24 x ~20 MB records; freed ones reuse the same pages
    grown = rss() - start
    assert grown < 60 * 2**20, f"RSS grew by {grown / 2**20:.0f} MiB over 24 views"
