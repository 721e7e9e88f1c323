"""The built StepView bundle in Chromium, talking to a REAL StepView in this process (through
kernel_bridge): a step drawn with the model's numbers (pixels), the hover explaining a cell by
its dot product, the slider and buttons moving through the steps, layer / head picked in the
page and answered by the kernel. The numbers come from transformers' eager attention."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import open_page
from kernel_bridge import KernelBridge
from page_server import serve_page
from test_attention_live_browser import viridis

import attnwidgets as aw

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head>
<body style="margin: 20px; font-family: sans-serif">
<script type="module">
import { createHarness } from "/fake_model.js";

window.harness = {
  ...createHarness({ bundle: "step_view.js", tick: "timeout", replace: true }),
  // RGBA at the centre of cell (row, col) of a panel ("main", "q", "k", "v", "z").
  cell(panel, row, col) {
    const c = document.querySelector(`[data-panel="${panel}"] canvas`);
    const entry = window.model.get("data").arrays;
    const name = { main: null, q: "q", k: "k", v: "v", z: "output" }[panel];
    const steps = window.model.get("steps");
    const shape = entry[name ?? steps[window.model.get("step")]].shape;
    const x = Math.floor(((col + 0.5) * c.width) / shape[1]);
    const y = Math.floor(((row + 0.5) * c.height) / shape[0]);
    return Array.from(c.getContext("2d").getImageData(x, y, 1, 1).data);
  },
  // Client coordinates of the centre of a cell, for the mouse.
  point(panel, row, col, rows, cols) {
    const box = document.querySelector(`[data-panel="${panel}"] canvas`).getBoundingClientRect();
    const x = box.left + ((col + 0.5) * box.width) / cols;
    return [x, box.top + ((row + 0.5) * box.height) / rows];
  },
};
window.harnessReady = true;
</script>
</body></html>
"""

IDS = torch.tensor([[5, 9, 2, 33, 14, 7, 21]])


@pytest.fixture(scope="module")
def step_server(bundle: Any) -> Iterator[str]:
    with serve_page(PAGE) as url:
        yield url


@pytest.fixture
def step_page(browser: Any, step_server: str) -> Iterator[Any]:
    page = open_page(browser, step_server)
    yield page
    assert page.errors == []
    page.close()


def python_models() -> Any:
    """tests/python/conftest.py (tiny models from config), under another module name."""
    path = Path(__file__).resolve().parents[1] / "python" / "conftest.py"
    spec = importlib.util.spec_from_file_location("python_test_models", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def llama_run() -> tuple[Any, list[np.ndarray]]:
    models = python_models()
    model = models.tiny_llama_gqa()
    eager = models.eager_attentions(model, input_ids=IDS)
    return aw.wrap(model, qkv=True, norms=False)(input_ids=IDS), eager


def expected(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    return float(finite.min()), float(finite.max())


def assert_panel(page: Any, panel: str, values: np.ndarray) -> None:
    """Every cell drawn in the colour of its value (viridis over the finite range; -inf grey)."""
    lo, hi = expected(values)
    for row in range(values.shape[0]):
        for col in range(values.shape[1]):
            rgba = page.evaluate("([p, r, c]) => harness.cell(p, r, c)", [panel, row, col])
            value = values[row, col]
            want = [200, 200, 200] if np.isneginf(value) else viridis((value - lo) / (hi - lo))
            assert max(abs(a - b) for a, b in zip(rgba[:3], want, strict=True)) <= 6, (
                panel, row, col, rgba, want)  # fmt: skip


def test_a_step_is_drawn_with_the_models_numbers(step_page: Any) -> None:
    run, eager = llama_run()
    view = aw.StepView(run, layer=1, head=2, step="probability")
    KernelBridge(step_page, view)
    root = step_page.locator(".attnwidgets-steps")
    assert root.get_attribute("data-state") == "ready"
    assert root.get_attribute("data-step") == "probability"
    assert (
        "head 2 · reads key/value head 1 of 2"
        in step_page.locator(".attnwidgets-title").text_content()
    )
    assert "step 5 of 6 · softmax" in step_page.locator(".attnwidgets-step-title").text_content()
    assert_panel(step_page, "main", eager[1][0, 2].numpy())
    view.step = view.steps.index("masked")  # set from Python: the page follows
    assert root.get_attribute("data-step") == "masked"
    assert_panel(step_page, "main", run.qkv[1].steps(2)["masked"])  # causal: grey above


def test_hover_shows_the_dot_product_that_made_a_cell(step_page: Any) -> None:
    run, _ = llama_run()
    view = aw.StepView(run, layer=0, head=1, step="scores")
    KernelBridge(step_page, view)
    steps = run.qkv[0].steps(1)
    row, col = 4, 2
    x, y = step_page.evaluate("(a) => harness.point(...a)", ["main", row, col, 7, 7])
    step_page.mouse.move(x, y)
    tip = step_page.locator(".attnwidgets-step-tooltip")
    assert tip.is_visible()
    text = tip.text_content()
    assert text.startswith(f"query {row} «{run.tokens[row]}» · key {col} «{run.tokens[col]}»")
    assert "q · k = Σ over 8 dims of q[d] × k[d]" in text
    products = re.findall(r"(-?[\d.e+-]+)×(-?[\d.e+-]+)", text)
    assert len(products) == 8
    np.testing.assert_allclose([float(a) for a, _ in products], steps["q"][row], rtol=1e-3)
    np.testing.assert_allclose([float(b) for _, b in products], steps["k"][col], rtol=1e-3)
    total = float(re.search(r"\n= (-?[\d.e+-]+) \(cell", text)[1])
    assert total == pytest.approx(float(steps["scores"][row, col]), rel=1e-3, abs=1e-4)
    # the output: probabilities times values, summed
    view.step = view.steps.index("output")
    x, y = step_page.evaluate("(a) => harness.point(...a)", ["z", 3, 5, 7, 8])
    step_page.mouse.move(x, y)
    text = tip.text_content()
    assert text.startswith(f"output of query 3 «{run.tokens[3]}», dim 5")
    pairs = re.findall(r"(-?[\d.e+-]+)×(-?[\d.e+-]+)", text)
    assert len(pairs) == 4  # query 3 sees keys 0..3; the 3 later keys have probability 0
    np.testing.assert_allclose([float(p) for p, _ in pairs], steps["probability"][3, :4], rtol=1e-3)
    np.testing.assert_allclose([float(v) for _, v in pairs], steps["v"][:4, 5], rtol=1e-3)
    assert "(3 keys with probability 0 add nothing)" in text
    total = float(re.search(r"\n= (-?[\d.e+-]+) \(cell", text)[1])
    assert total == pytest.approx(float(run.qkv[0].z[1, 3, 5]), rel=1e-3, abs=1e-4)


def test_slider_and_buttons_move_through_the_steps(step_page: Any) -> None:
    run, _ = llama_run()
    view = aw.StepView(run, layer=0, head=0)
    bridge = KernelBridge(step_page, view)
    root = step_page.locator(".attnwidgets-steps")
    assert root.get_attribute("data-step") == "qk"
    assert step_page.locator("[data-panel]").count() == 2  # Q and K side by side
    assert_panel(step_page, "q", run.qkv[0].q[0])
    slider = step_page.locator(".attnwidgets-step-slider")
    slider.fill("2")  # the range input: sets the step trait
    bridge.pump()
    assert view.step == 2 and root.get_attribute("data-step") == "scaled"
    assert_panel(step_page, "main", run.qkv[0].steps(0)["scaled"])
    step_page.locator(".attnwidgets-step-next").click()
    bridge.pump()
    assert view.steps[view.step] == "masked" == root.get_attribute("data-step")
    step_page.locator(".attnwidgets-step-prev").click()
    step_page.locator(".attnwidgets-step-prev").click()
    bridge.pump()
    assert view.step == 1 and root.get_attribute("data-step") == "scores"
    assert slider.input_value() == "1"


def test_layer_and_head_picked_in_the_page(step_page: Any) -> None:
    run, eager = llama_run()
    view = aw.StepView(run, step="probability")
    bridge = KernelBridge(step_page, view)
    step_page.locator(".attnwidgets-step-layer").select_option("1")
    step_page.locator(".attnwidgets-step-head").select_option("3")
    bridge.pump()
    assert (view.layer, view.head) == (1, 3)
    root = step_page.locator(".attnwidgets-steps")
    assert (root.get_attribute("data-layer"), root.get_attribute("data-head")) == ("1", "3")
    assert_panel(step_page, "main", eager[1][0, 3].numpy())
