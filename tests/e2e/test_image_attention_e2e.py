"""The Image attention tab of ``run.show()`` in a real JupyterLab: a config-built ViT on
``skimage.data.chelsea()``; clicking a patch moves the overlay to where the kernel says that
patch's attention peaks (pixels change there), and the layer control asks the kernel."""

from __future__ import annotations

import json
import re
from typing import Any

import nbformat
import pytest
from test_jupyterlab import REDRAW, RUN_ALL, errors_in_outputs, open_notebook
from test_jupyterlab import run_all_cells as run_all

pytestmark = pytest.mark.slow

SETUP = """\
import json, numpy as np, torch, skimage.data, attnwidgets as aw
from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessorPil
torch.manual_seed(0)
model = ViTForImageClassification(ViTConfig(num_hidden_layers=3, num_attention_heads=4,
    hidden_size=64, intermediate_size=128, image_size=224, patch_size=16,
    initializer_range=0.3)).eval()
processor = ViTImageProcessorPil(size={"height": 224, "width": 224})
run = aw.wrap(model, processor)(skimage.data.chelsea())
peaks = {layer: [int(np.argmax(run.vision.query_map(run.attention[layer], q, "mean")))
                 for q in range(len(run.tokens))] for layer in range(3)}
open("image_attention_peaks.json", "w").write(json.dumps(peaks))"""
SHOW = "run.show()"
ROOT = ".attnwidgets-image-attention"
CANVAS = "canvas.attnwidgets-vision-canvas"
GRID = 14
CELL = 32  # 448 CSS px for 224 px: 2 px per image pixel, 32 per patch

PIXEL = """([canvas, x, y]) => Array.from(
  document.querySelector(canvas).getContext("2d").getImageData(x, y, 1, 1).data).slice(0, 3)"""


def cell_centre(flat: int) -> tuple[int, int]:
    r, c = divmod(flat, GRID)
    return c * CELL + CELL // 2, r * CELL + CELL // 2


def test_clicking_a_patch_moves_the_overlay(page: Any, jupyterlab: Any, tools: Any) -> None:
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3",
    }  # fmt: skip
    notebook.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(SHOW)]
    nbformat.write(notebook, jupyterlab.root / "image_attention.ipynb")
    open_notebook(page, jupyterlab, "image_attention.ipynb")
    run_all(page)

    def tab() -> Any:
        if errors := errors_in_outputs(page):
            raise AssertionError("a cell raised:\n" + "\n".join(errors)[-3000:])
        found = page.locator(".lm-TabBar-tab", has_text=re.compile(r"^Image attention$"))
        return found.first if found.count() else None

    tools.wait_for(tab, RUN_ALL, "the Image attention tab").click()
    view = page.locator(ROOT).first
    tools.wait_for(lambda: view.get_attribute("data-state") == "ready", REDRAW, "first paint")
    written = (jupyterlab.root / "image_attention_peaks.json").read_text()
    peaks = {int(k): v for k, v in json.loads(written).items()}

    def peak_cell() -> int:
        text = view.get_attribute("data-peak") or ""
        r, c = (int(v) for v in re.findall(r"\d+", text))
        return r * GRID + c

    assert view.get_attribute("data-query") == "0"
    assert peak_cell() == peaks[0][0]  # [CLS]'s own map first
    query = next(1 + flat for flat in (GRID * 10 + 3, GRID * 2 + 11, GRID * 7 + 7)
                 if peaks[0][1 + flat] != peaks[0][0])  # fmt: skip
    target = peaks[0][query]
    x, y = cell_centre(target)
    before = page.evaluate(PIXEL, [CANVAS, x, y])
    page.locator(CANVAS).first.scroll_into_view_if_needed()
    box = page.locator(CANVAS).first.bounding_box()
    qx, qy = cell_centre(query - 1)
    page.mouse.click(box["x"] + qx, box["y"] + qy)
    tools.wait_for(lambda: view.get_attribute("data-query") == str(query), REDRAW, "the query")
    assert peak_cell() == target
    after = page.evaluate(PIXEL, [CANVAS, x, y])
    assert after != before, "the pixels of the new peak changed"
    assert after[1] > 0.6 * 231  # the peak is drawn at the top of viridis (opacity 0.7)

    # the layer control: layer 2 comes from the kernel (layer 1 was prefetched)
    slider = view.locator("input.attnwidgets-vision-layer").bounding_box()
    page.mouse.click(slider["x"] + slider["width"] - 3, slider["y"] + slider["height"] / 2)
    tools.wait_for(lambda: view.get_attribute("data-layer") == "2" and
                   view.get_attribute("data-state") == "ready", REDRAW, "layer 2")  # fmt: skip
    assert peak_cell() == peaks[2][query]
    assert not page_errors, page_errors
    tools.artifacts.mkdir(exist_ok=True)
    view.screenshot(path=str(tools.artifacts / "jupyterlab-image-attention.png"))
