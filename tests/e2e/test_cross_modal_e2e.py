"""The Cross-modal tab of ``run.show()`` in a real JupyterLab, on the tiny VLM that ships
(``aw.demo.load_fashion_vlm``): clicking a text token in the list moves the overlay to where
the kernel says that token's attention to the image peaks (pixels change there); the Features
tab draws a heatmap from the kernel."""

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
import json, numpy as np, attnwidgets as aw
model, processor, images, labels = aw.demo.load_fashion_vlm(limit=10)
run = aw.wrap(model, processor).generate(image=images[9], text="What is this?", max_new_tokens=3)
text = [i for i, m in enumerate(run.modality) if m == "text"]
peaks = {i: int(np.argmax(run.image_map(i, 0, "mean"))) for i in text}
open("cross_modal_peaks.json", "w").write(json.dumps(peaks))"""
SHOW = "run.show()"
ROOT = ".attnwidgets-cross-modal"
CANVAS = f"{ROOT} canvas.attnwidgets-vlm-canvas"
GRID = 7
CELL = 64  # 448 CSS px for 28 px: 16 px per image pixel, 64 per 4 px patch

PIXEL = """([canvas, x, y]) => Array.from(
  document.querySelector(canvas).getContext("2d").getImageData(x, y, 1, 1).data).slice(0, 3)"""


def cell_centre(flat: int) -> tuple[int, int]:
    r, c = divmod(flat, GRID)
    return c * CELL + CELL // 2, r * CELL + CELL // 2


def test_clicking_a_text_token_moves_the_overlay(page: Any, jupyterlab: Any, tools: Any) -> None:
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3",
    }  # fmt: skip
    notebook.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(SHOW)]
    nbformat.write(notebook, jupyterlab.root / "cross_modal.ipynb")
    open_notebook(page, jupyterlab, "cross_modal.ipynb")
    run_all(page)

    def tab(title: str) -> Any:
        if errors := errors_in_outputs(page):
            raise AssertionError("a cell raised:\n" + "\n".join(errors)[-3000:])
        found = page.locator(".lm-TabBar-tab", has_text=re.compile(f"^{title}$"))
        return found.first if found.count() else None

    tools.wait_for(lambda: tab("Cross-modal"), RUN_ALL, "the Cross-modal tab").click()
    view = page.locator(ROOT).first
    tools.wait_for(lambda: view.get_attribute("data-state") == "ready", REDRAW, "first paint")
    written = (jupyterlab.root / "cross_modal_peaks.json").read_text()
    peaks = {int(k): v for k, v in json.loads(written).items()}

    def peak_cell() -> int:
        r, c = (int(v) for v in re.findall(r"\d+", view.get_attribute("data-peak") or ""))
        return r * GRID + c

    shown = int(view.get_attribute("data-query") or -1)
    assert peak_cell() == peaks[shown]
    query = next(q for q in sorted(peaks, reverse=True) if peaks[q] != peaks[shown])
    target = peaks[query]
    x, y = cell_centre(target)
    before = page.evaluate(PIXEL, [CANVAS, x, y])
    row = view.locator(f'.attnwidgets-vlm-token[data-index="{query}"]')
    row.scroll_into_view_if_needed()
    row.click()
    tools.wait_for(lambda: view.get_attribute("data-query") == str(query), REDRAW, "the query")
    assert peak_cell() == target
    after = page.evaluate(PIXEL, [CANVAS, x, y])
    assert after != before, "the pixels of the new peak changed"
    assert "is-selected" in (row.get_attribute("class") or "")

    tools.wait_for(lambda: tab("Features"), REDRAW, "the Features tab").click()
    features = page.locator(".attnwidgets-features").first
    tools.wait_for(lambda: features.get_attribute("data-state") == "ready", REDRAW, "PCA map")
    slider = features.locator("input.attnwidgets-vlm-module").bounding_box()
    page.mouse.click(slider["x"] + slider["width"] - 3, slider["y"] + slider["height"] / 2)
    tools.wait_for(lambda: features.get_attribute("data-module") == "5" and
                   features.get_attribute("data-state") == "ready", REDRAW, "module 5")  # fmt: skip
    assert not page_errors, page_errors
    tools.artifacts.mkdir(exist_ok=True)
    page.locator(".lm-TabBar-tab", has_text=re.compile("^Cross-modal$")).first.click()
    view.screenshot(path=str(tools.artifacts / "jupyterlab-cross-modal.png"))
