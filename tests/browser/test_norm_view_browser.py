"""The built NormView bundle in Chromium: histogram pixels, layer switch, NaN, outliers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from norm_harness import open_harness, serve, widget_state

from attnwidgets.norm_records import NormLayer, NormRecord, TensorSummary
from attnwidgets.widgets.norms.view import NormView

TRAITS = ["layer", "n_layers", "layer_names", "layer_kinds", "class_names", "tokens"]
TRAITS += ["log_counts", "data", "hist_notes"]
HIST = "canvas.attnwidgets-norm-hist"


def layer(name: str, kind: str, x: np.ndarray, y: np.ndarray, gamma: Any = None) -> NormLayer:
    lo, hi = float(min(np.nanmin(x), np.nanmin(y))), float(max(np.nanmax(x), np.nanmax(y)))
    summary = {"bins": 16, "value_range": (lo, hi), "outlier_ratio": 50.0}
    return NormLayer(
        name,
        kind,
        "LayerNorm" if kind == "layernorm" else "LlamaRMSNorm",
        x.shape,
        TensorSummary.from_numpy(x, **summary),
        TensorSummary.from_numpy(y, **summary),
        gamma=gamma,
    )


def record() -> NormRecord:
    rng = np.random.default_rng(0)
    low = rng.uniform(-10, -6, size=(1, 5, 8))  # input only in the left half of the range
    high = rng.uniform(6, 10, size=(1, 5, 8))  # output only in the right half
    swapped = layer("blocks.1.ln", "rmsnorm", high, low)
    massive = rng.normal(size=(1, 5, 8))
    massive[0, 3, 6] = 400.0
    massive[0, 1, 2] = np.nan
    return NormRecord(
        [
            layer("blocks.0.ln", "layernorm", low, high, gamma=np.linspace(0.5, 1.5, 8)),
            swapped,
            layer("blocks.2.ln", "layernorm", massive, rng.normal(size=(1, 5, 8))),
        ],
        tokens=["<b>bold</b>", "cat", "sat", "<img src=x onerror=alert(1)>", "mat"],
    )


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve() as address:
        yield address


@pytest.fixture
def page(browser: Any, url: str) -> Iterator[Any]:
    tab = open_harness(browser, url)
    state = widget_state(NormView(record()), TRAITS)
    tab.evaluate("(s) => harness.mount(s, {bundle: 'norm_view.js'})", state)
    yield tab
    assert not tab.errors
    tab.close()


def test_input_and_output_histograms_sit_where_their_values_are(page: Any) -> None:
    assert "norm 0 of 3: blocks.0.ln (LayerNorm, layernorm)" in page.inner_text(
        ".attnwidgets-title"
    )
    first = page.evaluate(f"harness.colours('{HIST}')")
    input_left, output_left = first["left"]
    input_right, output_right = first["right"]
    assert input_left > 200 and output_right > 200
    assert input_right == 0 and output_left < 20  # only the 0-free axis labels

    page.evaluate("harness.set('layer', 1)")
    assert "blocks.1.ln (LlamaRMSNorm, rmsnorm)" in page.inner_text(".attnwidgets-title")
    second = page.evaluate(f"harness.colours('{HIST}')")
    assert second["right"][0] > 200 and second["left"][1] > 200  # swapped
    assert "per-token RMS" in page.inner_text(".attnwidgets-norms")


def test_gamma_is_drawn_only_when_the_layer_has_one(page: Any) -> None:
    assert page.is_visible("canvas.attnwidgets-norm-gamma")
    assert "8 values" in page.inner_text(".attnwidgets-norms")
    page.evaluate("harness.set('layer', 2)")
    assert not page.is_visible("canvas.attnwidgets-norm-gamma")
    assert not page.is_visible("canvas.attnwidgets-norm-beta")


def test_nan_is_counted_and_outliers_named_by_token_and_dimension(page: Any) -> None:
    assert page.inner_text(".attnwidgets-status") == ""
    page.evaluate("harness.set('layer', 2)")
    assert page.inner_text(".attnwidgets-status") == "input: 1 NaN"
    items = page.locator("li.attnwidgets-outlier").all_inner_texts()
    assert items == ['input: token "<img src=x onerror=alert(1)>" (3) · dim 6 · 400']
    assert page.locator(".attnwidgets-norms img").count() == 0  # labels stay text
    assert page.locator(".attnwidgets-norms b").count() == 0


def test_clicking_a_layer_in_the_summary_selects_it(page: Any) -> None:
    before = page.evaluate(f"harness.digest('{HIST}')")
    box = page.locator("canvas.attnwidgets-norm-summary").bounding_box()
    plot_w = box["width"] - 44 - 8
    page.mouse.click(box["x"] + 44 + plot_w * (1.5 / 3), box["y"] + box["height"] / 2)
    assert page.evaluate("window.model.get('layer')") == 1
    assert page.evaluate("window.model.saved") == 1
    page.wait_for_function("document.querySelector('.attnwidgets-norms').dataset.layer === '1'")
    assert page.evaluate(f"harness.digest('{HIST}')") != before


def test_log_toggle_changes_the_bars(page: Any) -> None:
    page.evaluate("harness.set('layer', 2)")
    before = page.evaluate(f"harness.digest('{HIST}')")
    page.locator(".attnwidgets-log-toggle input").uncheck()
    assert page.evaluate("window.model.get('log_counts')") is False
    page.wait_for_function(f"harness.digest('{HIST}') !== '{before}'")


def test_sampled_histogram_says_so_in_its_heading(browser: Any, url: str) -> None:
    import torch
    from transformers import GPT2Config, GPT2Model

    import attnwidgets as aw

    torch.manual_seed(0)
    model = GPT2Model(
        GPT2Config(n_layer=1, n_head=2, n_embd=64, vocab_size=50, bos_token_id=0, eos_token_id=0)
    ).eval()
    with torch.no_grad(), aw.capture(model, attention=False, norms=True) as cap:
        model(torch.randint(0, 50, (1, 200)))  # 12,800 values per norm: over the 8,192 sample
    norms = cap.norms
    first = norms[0].input
    assert first.elements == 12_800 and first.sampled == len(range(0, 12_800, first.sample_step))
    assert first.sample_step > 1 and first.sampled <= 8_192
    tab = open_harness(browser, url)
    tab.evaluate(
        "(s) => harness.mount(s, {bundle: 'norm_view.js'})",
        widget_state(NormView(norms), TRAITS),
    )
    heading = tab.locator(".attnwidgets-norm-hist").locator("..").inner_text()
    expected = f"counts {first.sampled:,} of 12,800 values (1 in {first.sample_step})"
    assert f"{expected}; statistics use all" in heading

    exact = record()  # every value counted: the plain heading
    tab.evaluate("(s) => harness.apply(s)", widget_state(NormView(exact), ["hist_notes"]))
    tab.wait_for_function(
        "!document.querySelector('.attnwidgets-norms').innerText.includes('statistics use all')"
    )
    assert not tab.errors
    tab.close()
