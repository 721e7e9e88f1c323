"""aw.PredictionGrid on the shipped Fashion-MNIST ViT in a real JupyterLab: the grid paints its
64 thumbnails with wrong ones framed; a click on a thumbnail goes to the kernel (on its comm
thread), which runs the model on that image, and the image's attention view appears below the
grid and paints."""

from __future__ import annotations

import json
from typing import Any

import nbformat
import pytest
from test_jupyterlab import REDRAW, RUN_ALL, errors_in_outputs, open_notebook
from test_jupyterlab import run_all_cells as run_all

pytestmark = pytest.mark.slow

SETUP = """\
import json, numpy as np, attnwidgets as aw
model, processor, images, labels = aw.demo.load_fashion_vit(limit=64)
grid = aw.PredictionGrid(model, processor, images, labels)
open("grid_wrong.json", "w").write(json.dumps(np.flatnonzero(grid.predicted != labels).tolist()))
grid"""
ROOT = ".attnwidgets-prediction-grid"
ITEM = "figure.attnwidgets-grid-item"
VIEW = ".attnwidgets-image-attention"


def test_clicking_a_thumbnail_opens_its_attention(page: Any, jupyterlab: Any, tools: Any) -> None:
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3",
    }  # fmt: skip
    notebook.cells = [nbformat.v4.new_code_cell(SETUP)]
    nbformat.write(notebook, jupyterlab.root / "prediction_grid.ipynb")
    open_notebook(page, jupyterlab, "prediction_grid.ipynb")
    run_all(page)

    def ready() -> Any:
        if errors := errors_in_outputs(page):
            raise AssertionError("a cell raised:\n" + "\n".join(errors)[-3000:])
        found = page.locator(f'{ROOT}[data-state="ready"]')
        return found.first if found.count() else None

    grid = tools.wait_for(ready, RUN_ALL, "the prediction grid")
    assert grid.locator(ITEM).count() == 64
    wrong = json.loads((jupyterlab.root / "grid_wrong.json").read_text())
    marked = grid.locator(f"{ITEM}.is-wrong").evaluate_all("fs => fs.map(f => +f.dataset.index)")
    assert marked == wrong and wrong  # the shipped model gets some of the first 64 wrong

    target = grid.locator(f'{ITEM}[data-index="{wrong[0]}"]')
    target.scroll_into_view_if_needed()
    target.click()
    view = page.locator(VIEW).first
    tools.wait_for(lambda: view.count() and view.get_attribute("data-state") == "ready",
                   REDRAW, "the image attention view")  # fmt: skip
    assert grid.get_attribute("data-opened") == str(wrong[0])
    status = grid.locator(".attnwidgets-grid-status").inner_text()
    assert f"attention of image {wrong[0]}" in status
    digest = tools.canvas_digest(page, f"{VIEW} canvas.attnwidgets-vision-canvas")
    assert digest["ink"] > 1000 and digest["colours"] > 16  # the image and its overlay
    assert not page_errors, page_errors
    tools.artifacts.mkdir(exist_ok=True)
    page.locator(".jp-OutputArea-output").first.screenshot(
        path=str(tools.artifacts / "jupyterlab-prediction-grid.png")
    )
