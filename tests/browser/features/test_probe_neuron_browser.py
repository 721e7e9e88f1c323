"""ProbeView and NeuronView in Chromium. ProbeView is bqplot's: it runs in the real widget
manager (widget_host). NeuronView's bundle mounts on the one fake widget model
(tests/browser/fake_model.js), kept in sync with the real widget by kernel_bridge.KernelBridge:
clicks and typed text reach the kernel, which re-runs the model and sends the new values."""

# ruff: noqa: F811  (pytest fixtures imported from a module, then used as arguments)

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from kernel_bridge import KernelBridge
from pixels import ink
from store_fixtures import fashion_store, screenshot_dir, text_store  # noqa: F401
from widget_host import widget_host

import attnwidgets as aw
from attnwidgets.widgets.arrays import read_array
from attnwidgets.widgets.features.probe_view import COLOURS

ROOT = "#host .aw-neuron-view"


@pytest.fixture(scope="module")
def fashion_probe(fashion_store: Any) -> Any:
    return aw.probe(fashion_store, "vit.layers.*", folds=3)


def test_probe_view_draws_lines_legend_and_table(
    browser: Any, fashion_probe: Any, screenshot_dir: Any
) -> None:
    with widget_host(browser) as host:
        view = fashion_probe.widget()
        shown = host.display(view)
        host.page.wait_for_timeout(500)
        png = shown.locator(".bqplot").first.screenshot(path=str(screenshot_dir / "probe.png"))
        found = ink(png, [COLOURS["probe"], COLOURS["select"]])["by_colour"]
        assert found[COLOURS["probe"]] > 300 and found[COLOURS["select"]] > 100
        legend = shown.locator(".bqplot text.legendtext").evaluate_all(
            "els => els.map(e => e.textContent)"
        )
        for name in ("probe accuracy", "control (shuffled labels)", "majority class"):
            assert name in legend
        # the probe's markers (its colour, outside the legend) sit where the accuracies say
        dots = shown.locator(".bqplot path.dot").evaluate_all(
            """els => els.filter((e) => !e.closest('.g_legend'))
              .filter((e) => getComputedStyle(e).fill === 'rgb(78, 121, 167)')
              .map((e) => e.getBoundingClientRect()).map((r) => [r.x, r.y + r.height / 2])"""
        )
        rows = fashion_probe.table()
        assert len(dots) == len(rows)
        y_pixels = np.array([y for _, y in sorted(dots)])
        accuracy = np.array([r["accuracy"] for r in rows])
        slope, offset = np.polyfit(accuracy, y_pixels, 1)
        assert slope < 0  # higher accuracy, higher on the page
        np.testing.assert_allclose(y_pixels, slope * accuracy + offset, atol=1.5)
        assert shown.locator("table.aw-probe-table tr").count() == len(rows) + 1
        assert not host.page.errors, host.page.errors


def test_neuron_view_tokens_unit_buttons_and_typed_text(
    page: Any, text_store: Any, screenshot_dir: Any
) -> None:
    model, tokenizer = aw.demo.load_minilm()
    view = aw.neuron_view(
        model, tokenizer, text_store, "encoder.layer.*", 5, unit=7, text="f(a, [b, (c)])", k=4
    )
    bridge = KernelBridge(page, view, 900, bundle="neuron_view.js")
    shown = page.locator(ROOT)
    typed = shown.locator(".aw-nv-typed .aw-nv-token")
    assert typed.all_inner_texts() == view.text_tokens
    values = read_array(view.text_values)
    backgrounds = typed.evaluate_all("els => els.map(e => getComputedStyle(e).backgroundColor)")
    for value, colour in zip(values, backgrounds, strict=True):
        red = colour.startswith("rgba(214, 39, 40") or colour.startswith("rgb(214, 39, 40")
        assert red == (value >= 0), (value, colour)
    rows = shown.locator(".aw-nv-top .aw-nv-row")
    assert rows.count() == 4
    ids = [int(r) for r in rows.evaluate_all("els => els.map(e => e.dataset.inputId)")]
    assert ids == [item["input_id"] for item in view.top]
    shown.screenshot(path=str(screenshot_dir / "neuron_text.png"))

    shown.locator("button.aw-nv-next").click()
    bridge.pump()
    assert view.unit == 8
    expected = [i for i, _ in aw.features.top_inputs(text_store, "encoder.layer.*", 5, unit=8, k=4)]
    ids = [int(r) for r in rows.evaluate_all("els => els.map(e => e.dataset.inputId)")]
    assert ids == expected
    assert shown.locator("input.aw-nv-unit").input_value() == "8"

    box = shown.locator("input.aw-nv-text-input")
    box.fill("import os")
    box.press("Enter")
    bridge.pump()
    assert view.text == "import os"
    assert typed.all_inner_texts() == ["[CLS]", "import", "os", "[SEP]"]
    assert not page.errors, page.errors


def test_neuron_view_patches_over_images(
    page: Any, fashion_store: Any, screenshot_dir: Any
) -> None:
    model, processor, _, _ = aw.demo.load_fashion_vit(limit=1)
    view = aw.neuron_view(model, processor, fashion_store, "vit.layers.*", -1, unit=3, k=3)
    KernelBridge(page, view, 900, bundle="neuron_view.js")
    canvases = page.locator(f"{ROOT} canvas.aw-nv-image")
    assert canvases.count() == 3
    png = canvases.first.screenshot(path=str(screenshot_dir / "neuron_patches.png"))
    found = ink(png, ["#ffd400"])  # the most active patch's outline
    assert found["by_colour"]["#ffd400"] > 20 and found["coloured"] > 200
    assert not page.errors, page.errors
