"""Closing what ``run.show()`` displayed frees it: the explorer, panel and tab boxes close their
children all the way down and the jslinks between them (an ipywidgets box closes itself alone,
and a link keeps both its ends in the kernel's widget registry), so the views and the records
they hold are collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from test_widget_lifetime import minilm_record, norm_view

import attnwidgets.positions as pos
from attnwidgets.run import Run
from attnwidgets.widgets import (
    AttentionView,
    NormView,
    PositionView,
    TrainingMonitorView,
    close_tree,
    compare,
    position_panel,
)
from attnwidgets.widgets.norms.monitor import monitor_panel


def run_with_norms() -> tuple[Any, list[Any]]:
    record = minilm_record(0)
    spare, norms = norm_view(0)
    spare.close()  # only its record is used
    run = Run(tokens=[f"tok{i}" for i in range(256)], attention=record, inputs={}, outputs=None)
    run.norms = norms
    shown = run.widget()
    return shown, [record, norms]


def positions_tabs() -> tuple[Any, list[Any]]:
    schemes = [pos.sinusoidal(64, length=128), pos.rotary(64, length=128)]
    return position_panel(schemes), schemes


def positions_pair() -> tuple[Any, list[Any]]:
    schemes = [pos.sinusoidal(64, length=128), pos.alibi(8, length=128)]
    return compare(*schemes), schemes


def monitor() -> tuple[Any, list[Any]]:
    view = TrainingMonitorView()
    return monitor_panel(view), [view.history]


BUILDERS: dict[str, Callable[[], tuple[Any, list[Any]]]] = {
    "run.widget() with norms": run_with_norms,
    "position_panel(list)": positions_tabs,
    "compare(a, b)": positions_pair,
    "monitor_panel": monitor,
}
VIEWS = (AttentionView, NormView, PositionView, TrainingMonitorView)


def views_in(widget: Any) -> list[Any]:
    found = [widget] if isinstance(widget, VIEWS) else []
    for child in getattr(widget, "children", ()) or ():
        found += views_in(child)
    return found


@pytest.mark.parametrize("name", list(BUILDERS))
def test_closing_the_box_frees_its_views_and_their_data(name: str) -> None:
    shown, held = BUILDERS[name]()
    views = views_in(shown)
    assert views, "the box shows no view"
    refs = [weakref.ref(item) for item in [*views, *held]]
    shown.close()
    assert all(view.comm is None for view in views), "a view is still open in the browser"
    del shown, held, views
    gc.collect()
    alive = [ref() for ref in refs if ref() is not None]
    assert not alive, f"{name}: still referenced after close(): " + ", ".join(
        type(item).__name__ for item in alive
    )


def test_a_plain_ipywidgets_box_is_closed_all_the_way_down_by_close_tree() -> None:
    import ipywidgets

    view = AttentionView(np.full((1, 2, 3, 3), 1 / 3, np.float32))
    box = ipywidgets.VBox([ipywidgets.HBox([view])])
    close_tree(box)
    assert view.comm is None and box.comm is None
