"""The explorer in a real JupyterLab: a long sequence drawn from kernel-side tiles, a click on
a model-overview thumbnail opens that head, the sliders follow and still drive the view, and
the play button steps through the layers."""

from __future__ import annotations

from typing import Any

import nbformat
import pytest
from test_jupyterlab import KERNEL_START, REDRAW, errors_in_outputs, open_notebook, run_all_cells

pytestmark = pytest.mark.slow

N = 1100  # one layer holds more than LAYER_BUDGET cells: the heatmap is served as tiles
CELLS = [
    f"""\
import numpy as np
from attnwidgets.bertviz import model_view

n, layers, heads = {N}, 3, 4
causal = np.tril(np.ones((n, n), np.float32))
data = np.broadcast_to(causal / causal.sum(1, keepdims=True), (layers, heads, n, n)).copy()
data[2, 3] = np.eye(n)  # one sharp diagonal head
tokens = [f"t{{i}}" for i in range(n)]
model_view(data, tokens)""",
]


def readout(page: Any, css_class: str) -> str:
    return page.locator(f".{css_class} .widget-readout").first.inner_text().strip()


def test_thumbnail_click_opens_head_and_sliders_follow(
    page: Any, jupyterlab: Any, tools: Any
) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nbformat.write(notebook, jupyterlab.root / "explorer.ipynb")
    open_notebook(page, jupyterlab, "explorer.ipynb")
    run_all_cells(page)

    before = tools.wait_for_drawn_canvas(page, KERNEL_START)
    view = page.locator(".attnwidgets-explorer .attnwidgets-attention").first
    assert view.get_attribute("data-state") == "ready"
    thumbs = page.locator("canvas.attnwidgets-thumbnails").first
    thumbs.wait_for(state="visible", timeout=REDRAW * 1e3)
    box = thumbs.bounding_box()
    # layer 2 (third of three rows), head 3 (fourth of four columns)
    thumbs.click(position={"x": box["width"] * 3.5 / 4, "y": box["height"] * 2.5 / 3})

    tools.wait_for(lambda: "layer 2" in view.inner_text(), REDRAW, "the view to open layer 2")
    assert "head 3" in view.locator(".attnwidgets-title").inner_text()
    diagonal = tools.wait_for_new_pixels(page, before, REDRAW)
    assert readout(page, "attnwidgets-layer-slider") == "2"
    assert readout(page, "attnwidgets-head-slider") == "3"
    tools.wait_for(
        lambda: view.get_attribute("data-state") == "ready", REDRAW, "the tile to arrive"
    )

    tools.nudge_slider(page, "attnwidgets-head-slider", "ArrowLeft")
    tools.wait_for(lambda: "head 2" in view.inner_text(), REDRAW, "the view to open head 2")
    tools.wait_for_new_pixels(page, diagonal, REDRAW)
    tools.nudge_slider(page, "attnwidgets-layer-slider", "ArrowLeft")
    tools.wait_for(lambda: "layer 1" in view.inner_text(), REDRAW, "the view to open layer 1")
    tools.wait_for(lambda: view.get_attribute("data-state") == "ready", REDRAW, "layer 1 drawn")
    assert "no reply" not in view.inner_text()

    page.locator(".attnwidgets-play button").first.click()  # play: step through the layers
    tools.wait_for(lambda: "layer 2" in view.inner_text(), REDRAW, "play to reach layer 2")
    assert readout(page, "attnwidgets-layer-slider") == "2"
    tools.wait_for(lambda: view.get_attribute("data-state") == "ready", REDRAW, "layer 2 drawn")
    assert not errors_in_outputs(page)
    tools.artifacts.mkdir(exist_ok=True)
    page.locator(".attnwidgets-explorer").first.screenshot(
        path=str(tools.artifacts / "jupyterlab-explorer.png")
    )
