"""The widgets in a real JupyterLab, driven like a person would: open, Run All, move a slider.

About 30-60 s: JupyterLab starts once per session, MiniLM loads in the kernel.
"""

from __future__ import annotations

import re
from typing import Any

import nbformat
import pytest

pytestmark = pytest.mark.slow

IDLE = re.compile(r"Python 3 \(ipykernel\) \| Idle")
KERNEL_START = 120  # seconds: a busy 2-core machine
RUN_ALL = 240  # MiniLM loads and runs in the kernel
REDRAW = 60

TINY_GPT2_CELLS = [
    """\
import torch
from transformers import GPT2Config, GPT2LMHeadModel

import attnwidgets as aw

torch.manual_seed(0)
config = GPT2Config(n_layer=3, n_head=4, n_embd=32, vocab_size=64, n_positions=64,
                    initializer_range=0.5)  # peaked, layer-specific attention
model = GPT2LMHeadModel(config).eval()
run = aw.wrap(model)(input_ids=torch.tensor([[1, 5, 7, 2, 9, 11, 3, 4]]))""",
    """\
view = aw.AttentionView(run, preload="layer")
print("preloaded layers:", view.chunk["layers"])
aw.attention_explorer(view)""",
]


def open_notebook(page: Any, lab: Any, name: str) -> None:
    """Open a notebook and wait until its kernel has started and is idle."""
    page.goto(lab.notebook_url(name), timeout=KERNEL_START * 1e3)
    page.locator(".jp-Notebook").first.wait_for(state="visible", timeout=KERNEL_START * 1e3)
    # The toolbar's idle indicator also reads idle while no kernel is attached: trust the
    # status bar, which names the kernel.
    status = page.locator("#jp-main-statusbar").get_by_text(IDLE)
    status.wait_for(state="visible", timeout=KERNEL_START * 1e3)


def run_all_cells(page: Any) -> None:
    page.locator("#jp-menu-panel .lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def errors_in_outputs(page: Any) -> list[str]:
    texts = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    return [text for text in texts.all_inner_texts() if "Traceback" in text]


def wait_for_heatmap(page: Any, tools: Any, timeout: float) -> dict[str, Any]:
    """Wait for a drawn heatmap, failing at once if a cell raised instead."""

    def probe() -> tuple[str, Any] | None:
        if errors := errors_in_outputs(page):
            return "error", errors
        if page.locator("canvas.attnwidgets-heatmap").count() == 0:
            return None
        digest = tools.canvas_digest(page)
        return ("drawn", digest) if digest["ink"] > 0 else None

    outcome, value = tools.wait_for(probe, timeout, "a drawn heatmap after Run All")
    assert outcome == "drawn", "a cell raised:\n" + "\n".join(value)[-3000:]
    return value  # type: ignore[no-any-return]


def test_quickstart_runs_and_layer_slider_redraws(page: Any, jupyterlab: Any, tools: Any) -> None:
    open_notebook(page, jupyterlab, "quickstart.ipynb")
    run_all_cells(page)

    before = wait_for_heatmap(page, tools, RUN_ALL)
    view = page.locator(".attnwidgets-explorer .attnwidgets-attention").first
    assert "layer 0" in view.inner_text()
    assert not errors_in_outputs(page)

    tools.nudge_slider(page, "attnwidgets-layer-slider")
    after = tools.wait_for_new_pixels(page, before, REDRAW)
    assert after["hash"] != before["hash"]
    assert after["colours"] >= 2
    tools.wait_for(lambda: "layer 1" in view.inner_text(), REDRAW, "the view to name layer 1")
    readout = page.locator(".attnwidgets-layer-slider .widget-readout").first
    assert readout.inner_text().strip() == "1"

    explorer = page.locator(".attnwidgets-explorer").first
    tools.artifacts.mkdir(exist_ok=True)
    explorer.screenshot(path=str(tools.artifacts / "jupyterlab-quickstart.png"))
    explorer.screenshot(path=str(tools.repo / "docs" / "screenshot.png"))


def test_layer_not_preloaded_comes_from_the_kernel(page: Any, jupyterlab: Any, tools: Any) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in TINY_GPT2_CELLS]
    nbformat.write(notebook, jupyterlab.root / "tiny_gpt2.ipynb")

    open_notebook(page, jupyterlab, "tiny_gpt2.ipynb")
    run_all_cells(page)
    before = wait_for_heatmap(page, tools, RUN_ALL)
    page.get_by_text("preloaded layers: [0]").wait_for(timeout=REDRAW * 1e3)
    view = page.locator(".attnwidgets-attention").first
    assert "layer 0" in view.inner_text()

    tools.nudge_slider(page, "attnwidgets-layer-slider")
    tools.wait_for_new_pixels(page, before, REDRAW)
    tools.wait_for(lambda: "layer 1" in view.inner_text(), REDRAW, "the view to name layer 1")
    assert "no kernel" not in view.inner_text()
    assert tools.canvas_digest(page)["colours"] >= 2
    assert not errors_in_outputs(page)
