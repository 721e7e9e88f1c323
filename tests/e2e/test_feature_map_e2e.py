"""FeatureMap in a real JupyterLab: the scatter paints, a lasso lists the selected images
beside it, and the layer slider re-projects (kernel round trips over the real comm)."""

from __future__ import annotations

import io
from typing import Any

import nbformat
import numpy as np
import pytest
from PIL import Image
from test_jupyterlab import errors_in_outputs, open_notebook, run_all_cells

pytestmark = pytest.mark.slow

CELLS = [
    """import tempfile, torch
import attnwidgets as aw
torch.set_num_threads(1)
vit, processor, images, labels = aw.demo.load_fashion_vit(limit=300)
names = [vit.config.id2label[int(i)] for i in labels]
store = aw.extract(vit, images, "vit.layers.?", processor=processor, labels=names, pool="cls",
                   store=tempfile.mkdtemp() + "/f.sqlite", progress=False)""",
    """fmap = aw.FeatureMap(store, "vit.layers.*", point_size=24)  # 300 points: SVG
fmap""",
]


def coloured(png: bytes) -> int:
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int(((pixels.max(axis=2) - pixels.min(axis=2)) > 40).sum())


def test_feature_map_in_jupyterlab(page: Any, jupyterlab: Any, tools: Any) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nbformat.write(notebook, jupyterlab.root / "feature_map_e2e.ipynb")
    open_notebook(page, jupyterlab, "feature_map_e2e.ipynb")
    run_all_cells(page)

    panel = page.locator(".aw-feature-map")

    def shown() -> Any:
        if errors := errors_in_outputs(page):
            return ("error", errors)
        return ("ok", True) if panel.count() and "vit.layers.3" in panel.inner_text() else None

    outcome, value = tools.wait_for(shown, 240, "the FeatureMap after Run All")
    assert outcome == "ok", "a cell raised:\n" + "\n".join(value)[-3000:]
    figure = page.locator(".bqplot").first
    tools.wait_for(lambda: coloured(figure.screenshot()) > 3000, 30, "points painted")
    legend = panel.locator(".aw-fm-legend-entry").all_inner_texts()
    assert len(legend) == 10 and any(text.startswith("Trouser") for text in legend)

    area = figure.locator(".plotarea_events").first.bounding_box()
    lasso = [(0.02, 0.02), (0.6, 0.02), (0.6, 0.98), (0.02, 0.98), (0.02, 0.03)]
    page.mouse.move(area["x"] + area["width"] * 0.02, area["y"] + area["height"] * 0.02)
    page.mouse.down()
    for fx, fy in lasso[1:]:
        page.mouse.move(area["x"] + area["width"] * fx, area["y"] + area["height"] * fy, steps=6)
    page.mouse.up()
    rows = panel.locator(".aw-fm-item")
    tools.wait_for(lambda: rows.count() > 0, 30, "selected inputs listed")
    assert panel.locator(".aw-fm-item canvas.aw-fm-thumb").count() == rows.count()
    assert "selected" in panel.locator(".aw-fm-status").inner_text()

    before = figure.screenshot()
    handle = page.locator(".widget-slider .noUi-handle, .widget-slider .ui-slider-handle").first
    handle.focus()
    page.keyboard.press("ArrowLeft")
    tools.wait_for(lambda: "vit.layers.2" in panel.inner_text(), 30, "layer 2 re-projected")
    tools.wait_for(lambda: rows.count() == 0, 30, "the selection cleared")
    tools.wait_for(lambda: figure.screenshot() != before, 30, "the points redrawn")
    assert not errors_in_outputs(page)
