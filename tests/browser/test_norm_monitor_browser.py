"""The built training-monitor bundle in Chromium: live snapshots redraw, loss curve, NaN."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from norm_harness import open_harness, serve, widget_state

from attnwidgets.widgets.norms.monitor import TrainingMonitorView

TRAITS = ["layer", "n_layers", "layer_names", "log_counts", "snapshot", "loss"]
TRAITS += ["n_history", "steps_seen", "status"]
HIST = "canvas.attnwidgets-norm-hist"
LOSS = "canvas.attnwidgets-loss"


def arrays(shift: int, nan: int = 0) -> dict[str, np.ndarray]:
    """Two layers, 8 bins: the input mass sits in bin ``shift``, the output in bin 7 - shift."""
    hist_in = np.zeros((2, 8), np.int32)
    hist_out = np.zeros((2, 8), np.int32)
    hist_in[:, shift] = 100
    hist_out[:, 7 - shift] = 100
    nonfinite = np.zeros((2, 6), np.int32)
    nonfinite[0, 0] = nan
    return {
        "hist_in": hist_in,
        "hist_out": hist_out,
        "range": np.array([[-4.0, 4.0]] * 2),
        "spread": np.array([[3.0, 1.0], [10.0, 1.0]]),
        "nonfinite": nonfinite,
    }


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve() as address:
        yield address


@pytest.fixture
def page(browser: Any, url: str) -> Iterator[Any]:
    tab = open_harness(browser, url)
    yield tab
    assert not tab.errors
    tab.close()


def test_waiting_state_before_the_first_step(page: Any) -> None:
    page.evaluate(
        "(s) => harness.mount(s, {bundle: 'training_monitor_view.js'})",
        widget_state(TrainingMonitorView(), TRAITS),
    )
    assert "waiting for the first training step" in page.inner_text(".attnwidgets-status")


def test_each_new_snapshot_redraws_the_bars_and_the_loss_curve(page: Any) -> None:
    view = TrainingMonitorView()
    view.push(1, arrays(0), ["blocks.0.ln", "blocks.1.ln"])
    view.add_loss(1, 3.0)
    view.flush()
    page.evaluate(
        "(s) => harness.mount(s, {bundle: 'training_monitor_view.js'})", widget_state(view, TRAITS)
    )
    title = page.inner_text(".attnwidgets-title")
    assert title == "step 1 (live) · norm 0: blocks.0.ln"
    first = page.evaluate(f"harness.colours('{HIST}')")
    assert first["left"][0] > 100 and first["right"][1] > 100  # input left, output right
    loss_before = page.evaluate(f"harness.digest('{LOSS}')")

    for step in range(2, 6):
        view.push(step, arrays(7), ["blocks.0.ln", "blocks.1.ln"])
        view.add_loss(step, 3.0 / step)
    view.flush()
    page.evaluate("(s) => harness.apply(s)", widget_state(view, TRAITS))
    page.wait_for_function(
        "document.querySelector('.attnwidgets-monitor-view').dataset.step === '5'"
    )
    second = page.evaluate(f"harness.colours('{HIST}')")
    assert second["right"][0] > 100 and second["left"][1] > 100  # moved to the other side
    assert page.evaluate(f"harness.digest('{LOSS}')") != loss_before
    assert "latest 0.6" in page.inner_text(".attnwidgets-monitor-view")


def test_scrubbed_history_is_labelled_and_nan_is_reported(page: Any) -> None:
    view = TrainingMonitorView()
    view.push(10, arrays(2, nan=3), ["ln"] * 2)
    view.push(20, arrays(5), ["ln"] * 2)
    view.position = 0
    page.evaluate(
        "(s) => harness.mount(s, {bundle: 'training_monitor_view.js'})", widget_state(view, TRAITS)
    )
    assert page.inner_text(".attnwidgets-title").startswith("step 10 (history 1 of 2)")
    status = page.inner_text(".attnwidgets-status")
    assert "non-finite values seen at step 10" in status and "input: 3 NaN" in status
