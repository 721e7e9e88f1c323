"""The Positions explorer in a real JupyterLab: Run All, move a slider, switch views."""

from __future__ import annotations

import re
from typing import Any

import nbformat
import pytest

pytestmark = pytest.mark.slow

IDLE = re.compile(r"Python 3 \(ipykernel\) \| Idle")
KERNEL_START = 120
RUN_ALL = 120
REDRAW = 60
CANVAS = "canvas.attnwidgets-position-canvas"

CELLS = [
    """\
from attnwidgets import compare_positions, position_panel, positions

position_panel(positions.sinusoidal(32, length=64))""",
    "compare_positions(positions.alibi(4, length=32), positions.rotary(32, length=32), "
    "view='matrix')",
]


def test_positions_panel_draws_and_follows_its_sliders(
    page: Any, jupyterlab: Any, tools: Any
) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    notebook.metadata["kernelspec"] = {
        "name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"
    }  # fmt: skip
    nbformat.write(notebook, jupyterlab.root / "positions_e2e.ipynb")
    page.goto(jupyterlab.notebook_url("positions_e2e.ipynb"), timeout=KERNEL_START * 1e3)
    page.locator("#jp-main-statusbar").get_by_text(IDLE).wait_for(timeout=KERNEL_START * 1e3)
    page.locator("#jp-menu-panel .lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

    page.locator(CANVAS).first.wait_for(state="visible", timeout=RUN_ALL * 1e3)
    tools.wait_for(lambda: page.locator(CANVAS).count() == 3, RUN_ALL, "three position views")
    first = page.locator(".attnwidgets-position-explorer").first
    readout = first.locator(".attnwidgets-readout")
    tools.wait_for(lambda: readout.inner_text().startswith("position 0, dimension 0"), REDRAW,
                   "the table readout")  # fmt: skip
    before = tools.canvas_digest(page, CANVAS)
    assert before["ink"] > 0

    tools.nudge_slider(page, "attnwidgets-position-slider")
    tools.wait_for(lambda: readout.inner_text().startswith("position 1,"), REDRAW,
                   "the readout to follow the position slider")  # fmt: skip

    first.locator("button[data-view='similarity']").click()

    def new_pixels() -> dict[str, Any] | None:
        digest = tools.canvas_digest(page, CANVAS)
        return digest if digest["hash"] != before["hash"] and digest["ink"] > 0 else None

    tools.wait_for(new_pixels, REDRAW, "the similarity view to replace the table")
    tools.wait_for(lambda: "cosine with itself 1" in readout.inner_text(), REDRAW,
                   "the similarity readout")  # fmt: skip

    # compare(): the ALiBi matrix and the rotary view (rotary has no matrix view: its first view)
    titles = page.locator(".attnwidgets-position-compare .attnwidgets-title").all_inner_texts()
    assert [t.split(" · ")[0] for t in titles] == ["alibi", "rotary"]
    tools.artifacts.mkdir(exist_ok=True)
    first.screenshot(path=str(tools.artifacts / "jupyterlab-positions.png"))
