"""aw.PredictionGrid timed inside JupyterLab (issue 15's grid target).

The shipped Fashion-MNIST ViT over its first 64 test images. Each display cell computes the
predictions (``predict``), stamps the kernel clock, builds ``aw.PredictionGrid(...,
probabilities=...)`` and displays it. Figures (ms, machine clock shared by page and kernel):

- grid paint: from the stamp (predictions computed) to the frame after the grid says
  ``data-state="ready"`` with its 64 thumbnails drawn;
- cell start -> painted: the same, from the start of the cell (predictions included);
- click -> attention painted: a click on a thumbnail to the frame after the image's
  ImageAttentionView (made in the kernel on the click) first paints below the grid.

Target: the 64-image grid paints < 1000 ms after its predictions are computed.
Run: ``python benchmarks/jupyterlab_prediction_grid.py [--grids 5]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import nbformat
from attention_bench_shared import CHROMIUM_ARGS
from jupyterlab_page import LabNotebook, open_notebook, running_jupyterlab

SETUP = """\
import time
from IPython.display import display
import attnwidgets as aw
from attnwidgets.predictions import predict
model, processor, images, labels = aw.demo.load_fashion_vit(limit=64)
predict(model, processor, images)  # warm up
stamps = {}"""
DISPLAY = """\
started = time.time() * 1e3
probabilities = predict(model, processor, images)
stamps[{index}] = {{"start": started, "predicted": time.time() * 1e3}}
grid_{index} = aw.PredictionGrid(model, processor, images, labels, probabilities=probabilities)
display(grid_{index})"""
STAMPS = "import json; print('STAMPS' + json.dumps(stamps))"

RECORDER = r"""
(() => {
  const rec = { ready: [], views: [], clicks: [] };
  window.gridBench = rec;
  const now = () => performance.timeOrigin + performance.now();
  const cellOf = (el) =>
    [...document.querySelectorAll(".jp-Notebook .jp-Cell")].indexOf(el.closest(".jp-Cell"));
  const noteGrid = (root) => {
    if (root.dataset.state !== "ready" || root.dataset.noted) return;
    root.dataset.noted = "1";
    const entry = { cell: cellOf(root), thumbs: root.querySelectorAll("canvas").length };
    requestAnimationFrame(() => { entry.frame_ms = now(); rec.ready.push(entry); });
  };
  const noteView = (root) => {
    if (root.dataset.state !== "ready" || root.dataset.noted) return;
    root.dataset.noted = "1";
    const entry = { cell: cellOf(root) };
    requestAnimationFrame(() => { entry.frame_ms = now(); rec.views.push(entry); });
  };
  const note = (el) => {
    if (el.classList?.contains("attnwidgets-prediction-grid")) noteGrid(el);
    if (el.classList?.contains("attnwidgets-image-attention")) noteView(el);
  };
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === "attributes") note(r.target);
      for (const added of r.addedNodes ?? []) {
        if (!added.querySelectorAll) continue;
        note(added);
        added.querySelectorAll(".attnwidgets-prediction-grid, .attnwidgets-image-attention")
          .forEach(note);
      }
    }
  }).observe(document.body, { subtree: true, childList: true, attributes: true,
                              attributeFilter: ["data-state"] });
  window.addEventListener("click", () => rec.clicks.push(now()), true);
})();
"""


def _wait(lab: LabNotebook, script: str, arg: Any, what: str) -> Any:
    from conftest import wait_for

    return wait_for(lambda: lab.page.evaluate(script, arg), 120, what, every=0.005)


def measure(grids: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3",
    }  # fmt: skip
    cells = [SETUP, *(DISPLAY.format(index=i) for i in range(1, grids + 1)), STAMPS]
    notebook.cells = [nbformat.v4.new_code_cell(s) for s in cells]
    out: dict[str, list[float]] = {"paint": [], "cell": [], "click": []}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        root = Path(tmp) / "root"
        root.mkdir()
        nbformat.write(notebook, root / "grid.ipynb")
        with running_jupyterlab(Path(tmp), root) as lab_server:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                 args=CHROMIUM_ARGS)  # fmt: skip
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            open_notebook(page, lab_server, "grid.ipynb")
            lab = LabNotebook(page)
            page.evaluate(RECORDER)
            lab.run_and_wait(0)
            last = grids + 1
            for index in range(1, grids + 1):
                lab.run_and_wait(index)
                lab.run_and_wait(last)
                printed = lab.cell(last).locator(".jp-OutputArea-output").last.inner_text()
                stamp = json.loads(printed.split("STAMPS", 1)[1])[str(index)]
                ready = _wait(lab, "(c) => gridBench.ready.find((e) => e.cell === c) ?? null",
                              index, f"grid {index}")  # fmt: skip
                assert ready["thumbs"] >= 64, ready
                out["paint"].append(ready["frame_ms"] - stamp["predicted"])
                out["cell"].append(ready["frame_ms"] - stamp["start"])
                thumb = lab.cell(index).locator("figure.attnwidgets-grid-item").nth(3 * index)
                thumb.scroll_into_view_if_needed()
                clicks = page.evaluate("() => gridBench.clicks.length")
                thumb.click()
                clicked = page.evaluate("(n) => gridBench.clicks[n]", clicks)
                view = _wait(lab, "(c) => gridBench.views.find((e) => e.cell === c) ?? null",
                             index, f"attention of grid {index}")  # fmt: skip
                out["click"].append(view["frame_ms"] - clicked)
            browser.close()
    return out


def summary(results: dict[str, list[float]]) -> list[str]:
    """Lines to print: median (min..max) of each figure, and the ratio to the target."""
    lines = []
    labels = {
        "paint": "64-image grid: predictions computed -> painted",
        "cell": "64-image grid: cell start -> painted",
        "click": "click a thumbnail -> its attention painted",
    }
    for key, label in labels.items():
        got = results[key]
        lines.append(f"{label:<50} {statistics.median(got):>8.0f} ms "
                     f"({min(got):.0f}..{max(got):.0f}, {len(got)} runs)")  # fmt: skip
    ratio = statistics.median(results["paint"]) / 1000
    lines.append(f"target: grid paints < 1000 ms after its predictions ({ratio:.2f}x)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=5)
    for line in summary(measure(parser.parse_args().grids)):
        print(line)


if __name__ == "__main__":
    main()
