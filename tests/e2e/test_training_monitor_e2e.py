"""TrainingMonitor in a real JupyterLab: the bars change WHILE the training cell runs.

Reuses the session JupyterLab and Chromium of tests/e2e/conftest.py (~40 s with the server).
"""

from __future__ import annotations

import re
import time
from typing import Any

import nbformat
import pytest

pytestmark = pytest.mark.slow

IDLE = re.compile(r"Python 3 \(ipykernel\) \| Idle")
KERNEL_START = 120
FIRST_DRAW = 180
HIST = "canvas.attnwidgets-norm-hist"

CELLS = [
    """\
import time
import torch
from attnwidgets.monitor import TrainingMonitor

torch.manual_seed(0)
model = torch.nn.Sequential(
    torch.nn.Linear(8, 32), torch.nn.LayerNorm(32),
    torch.nn.Linear(32, 32), torch.nn.LayerNorm(32), torch.nn.Linear(32, 1),
)
optimiser = torch.optim.SGD(model.parameters(), lr=0.05)
mon = TrainingMonitor(model)
mon""",
    """\
import os
step = 0
# Trains until the test drops a stop file (at most 3,000 steps): the test, not the machine's
# speed, decides how long the cell runs. Inputs drift, so the input histograms move.
while step < 3000 and not os.path.exists("stop_training"):
    x = torch.randn(16, 8) * (1 + step / 10) + step / 20
    loss = model(x).pow(2).mean()
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    mon.step(loss=loss)
    step += 1
    time.sleep(0.05)
print("training done after", mon.steps, "steps")""",
]


def write_notebook(lab: Any, name: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nbformat.write(notebook, lab.root / name)


def test_histograms_and_loss_update_while_the_training_cell_runs(
    page: Any, jupyterlab: Any, tools: Any
) -> None:
    write_notebook(jupyterlab, "monitor_live.ipynb")
    page.goto(jupyterlab.notebook_url("monitor_live.ipynb"), timeout=KERNEL_START * 1e3)
    status_bar = page.locator("#jp-main-statusbar")
    status_bar.get_by_text(IDLE).wait_for(state="visible", timeout=KERNEL_START * 1e3)
    page.locator("#jp-menu-panel .lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

    view = page.locator(".attnwidgets-monitor-view").first
    view.wait_for(state="visible", timeout=FIRST_DRAW * 1e3)
    tools.wait_for(
        lambda: int(view.get_attribute("data-step") or 0) > 0, FIRST_DRAW, "a first snapshot"
    )

    # Sample the bars while the kernel is still busy with the training cell.
    seen: list[tuple[int, str, str]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # the cell trains until the stop file below
        step = int(view.get_attribute("data-step") or 0)
        bars = tools.canvas_digest(page, HIST)["hash"]
        loss = tools.canvas_digest(page, "canvas.attnwidgets-loss")["hash"]
        if not seen or seen[-1][1:] != (bars, loss):
            seen.append((step, bars, loss))
        if len({b for _, b, _ in seen}) >= 4 and len({x for _, _, x in seen}) >= 4:
            break
        time.sleep(0.5)
    running = list(seen)
    # JupyterLab's kernel indicator flickers to Idle on every widget message; the "[*]" prompt
    # is what says a cell is still running.
    running_prompt = page.locator(".jp-InputPrompt", has_text="[*]")
    outputs = page.locator(".jp-OutputArea-output").all_inner_texts()
    assert running_prompt.count(), f"the training cell stopped early: {outputs}"
    (jupyterlab.root / "stop_training").write_text("stop")
    assert len({bars for _, bars, _ in running}) >= 3, f"bars did not change while running: {seen}"
    assert len({loss for _, _, loss in running}) >= 3
    steps = [step for step, _, _ in running]
    assert steps == sorted(steps) and steps[-1] > steps[0]

    done = page.get_by_text(re.compile(r"training done after \d+ steps"))
    done.wait_for(timeout=60e3)
    total = int(re.search(r"after (\d+) steps", done.inner_text()).group(1))
    # Captures are throttled (10/s at most, 2% of the loop's time): the last one comes within
    # the last few steps.
    tools.wait_for(
        lambda: int(view.get_attribute("data-step") or 0) >= total - 20,
        30,
        "a capture near the end",
    )
    final = int(view.get_attribute("data-step") or 0)
    assert final <= total and final >= steps[-1]
    assert "live" in view.inner_text()
    bars = tools.canvas_digest(page, HIST)["hash"]

    # Scrub back through training once the kernel is idle: the kernel sends the old snapshot.
    status_bar.get_by_text(IDLE).wait_for(state="visible", timeout=60e3)
    for _ in range(5):
        tools.nudge_slider(page, "attnwidgets-history-slider", "ArrowLeft")
    tools.wait_for(lambda: "(history" in view.inner_text(), 30, "a history snapshot")
    assert int(view.get_attribute("data-step") or 0) < final
    tools.wait_for(
        lambda: tools.canvas_digest(page, HIST)["hash"] != bars, 30, "the older histograms"
    )
    tools.artifacts.mkdir(exist_ok=True)
    page.locator(".attnwidgets-monitor").first.screenshot(
        path=str(tools.artifacts / "jupyterlab-training-monitor.png")
    )
