"""aw.save_html on the views added after the first export: a VLM run's Cross-modal and
Features tabs, TokenizerView, FeatureMap, ProbeView and NeuronView. Each page is opened from
disk in Chromium with the network refused (``offline`` of test_save_html); what a view asks
the kernel for comes from the replies recorded in the page, or it says it is not there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_save_html import DRAW, changed, click_tab, drawn, refuse_network

import attnwidgets as aw

pytestmark = pytest.mark.slow


@pytest.fixture
def offline(page: Any) -> tuple[Any, list[str]]:
    return refuse_network(page)


@pytest.fixture(scope="module")
def vlm_run() -> Any:
    import torch

    torch.set_num_threads(1)
    model, processor, images, _ = aw.demo.load_fashion_vlm(limit=10)
    return aw.wrap(model, processor).generate(
        image=images[9], text="What is this?", max_new_tokens=3
    )


def set_range(locator: Any, value: int) -> None:
    """Move a range (or number) input as a person does (its ``input`` and ``change``)."""
    locator.evaluate(
        "(el, v) => { el.value = String(v); for (const t of ['input', 'change'])"
        " el.dispatchEvent(new Event(t, {bubbles: true})); }",
        value,
    )


def peak_of(view: Any) -> int:
    r, c = (int(v) for v in (view.get_attribute("data-peak") or "").strip("()").split(","))
    return r * 7 + c


def test_vlm_run_page_cross_modal_and_features_answer_offline(
    vlm_run: Any, offline: tuple[Any, list[str]], tools: Any, tmp_path: Path, capsys: Any
) -> None:
    path = aw.save_html(vlm_run, tmp_path / "vlm.html")
    printed = capsys.readouterr().out
    assert "CrossModalView: layers 0, 1 of 2" in printed, printed
    assert "FeatureHeatmapView: maps of modules 0-5 of 6" in printed, printed
    text = [i for i, m in enumerate(vlm_run.modality) if m == "text"]
    peaks = {i: int(np.argmax(vlm_run.image_map(i, 1, "mean"))) for i in text}
    page, attempted = offline
    page.goto(path.as_uri())
    tools.wait_for_drawn_canvas(page, DRAW)

    click_tab(page, "Cross-modal")
    view = page.locator(".attnwidgets-cross-modal").first
    tools.wait_for(lambda: view.get_attribute("data-state") == "ready", DRAW, "first paint")
    canvas = ".attnwidgets-cross-modal canvas.attnwidgets-vlm-canvas"
    set_range(view.locator("input.attnwidgets-vlm-layer"), 1)  # not in the state: a reply

    def ready_1() -> bool:
        return (
            view.get_attribute("data-layer") == "1" and view.get_attribute("data-state") == "ready"
        )

    tools.wait_for(ready_1, DRAW, "layer 1 from a recorded block")
    shown = int(view.get_attribute("data-query") or -1)
    assert peak_of(view) == peaks[shown]
    query = next(q for q in sorted(peaks, reverse=True) if peaks[q] != peaks[shown])
    before = tools.canvas_digest(page, canvas)
    row = view.locator(f'.attnwidgets-vlm-token[data-index="{query}"]')
    row.scroll_into_view_if_needed()
    row.click()
    tools.wait_for(lambda: view.get_attribute("data-query") == str(query), DRAW, "the query")
    assert peak_of(view) == peaks[query]  # the overlay moved where the model says
    changed(page, tools, canvas, before)

    click_tab(page, "Features")
    features = page.locator(".attnwidgets-features").first
    tools.wait_for(lambda: features.get_attribute("data-state") == "ready", DRAW, "first map")
    canvas = ".attnwidgets-features canvas.attnwidgets-vlm-canvas"
    before = drawn(page, tools, canvas)
    first = int(features.get_attribute("data-module") or 0)
    other = 1 if first == 0 else first - 1
    set_range(features.locator("input.attnwidgets-vlm-module"), other)
    tools.wait_for(
        lambda: (
            features.get_attribute("data-module") == str(other)
            and features.get_attribute("data-state") == "ready"
        ),
        DRAW,
        "another module's map from a recorded reply",
    )
    changed(page, tools, canvas, before)
    features.locator("select.attnwidgets-vlm-measure").select_option("norm")
    tools.wait_for(lambda: features.get_attribute("data-state") == "ready", DRAW, "norm map")
    features.locator("select.attnwidgets-vlm-measure").select_option("channel")
    tools.wait_for(lambda: features.get_attribute("data-state") == "ready", DRAW, "channel 0")
    set_range(features.locator("input.attnwidgets-vlm-channel"), 5)  # not recorded
    status = features.locator(".attnwidgets-vision-status").first
    tools.wait_for(lambda: "not in this page" in status.inner_text(), DRAW, "a missing note")
    assert attempted == [], f"the page tried to reach the network: {sorted(set(attempted))}"
    assert page.errors == []


HOSTILE_TEXT = 'tokenizers split <img src=x onerror="window.__pwned=1"> </script><!-- words'


def test_tokenizer_view_page_answers_token_clicks_and_keeps_hostile_text(
    offline: tuple[Any, list[str]], tools: Any, tmp_path: Path, capsys: Any
) -> None:
    model, tokenizer = aw.demo.load_minilm()
    view = aw.TokenizerView(tokenizer, HOSTILE_TEXT, model=model)
    path = aw.save_html(view, tmp_path / "tokens.html")
    assert "TokenizerView: nearest neighbours of the text's" in capsys.readouterr().out
    page, attempted = offline
    page.goto(path.as_uri())
    root = page.locator(".attnwidgets-tokens").first
    tools.wait_for(lambda: root.get_attribute("data-state") == "ready", DRAW, "the text")
    body = root.locator(".attnwidgets-tok-body").first
    assert "<img" in body.inner_text()  # the markup is text on the page
    assert page.locator(".attnwidgets-tokens img").count() == 0
    pieces = root.locator(".attnwidgets-tok-body [data-t]")
    index = next(i for i in range(pieces.count()) if pieces.nth(i).inner_text() == "split")
    pieces.nth(index).click()
    neighbours = root.locator(".attnwidgets-tok-neighbours").first
    tools.wait_for(lambda: "cosine" in neighbours.inner_text(), DRAW, "recorded neighbours")
    assert "split" in neighbours.inner_text()
    root.locator("input.attnwidgets-tok-query").fill("zebra")
    root.locator("button.attnwidgets-tok-search").click()
    status = root.locator(".attnwidgets-tok-vocab-status").first
    tools.wait_for(lambda: "not in this page" in status.inner_text(), DRAW, "a search note")
    assert page.evaluate("window.__pwned") is None
    assert attempted == [], f"the page tried to reach the network: {sorted(set(attempted))}"
    assert page.errors == []


def coloured(png: bytes) -> int:
    """Pixels that are clearly not grey in a screenshot."""
    import io

    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int(((pixels.max(axis=2) - pixels.min(axis=2)) > 40).sum())


def test_feature_views_pages_draw_and_say_what_needs_a_kernel(
    offline: tuple[Any, list[str]], tools: Any, tmp_path: Path
) -> None:
    import torch

    torch.set_num_threads(1)
    model, processor, images, labels = aw.demo.load_fashion_vit(limit=120)
    names = [model.config.id2label[int(i)] for i in labels]
    store = aw.extract(model, images, "vit.layers.?", processor=processor, labels=names,
                       pool="cls", store=tmp_path / "f.sqlite", progress=False)  # fmt: skip
    pages = {
        "map": aw.save_html(aw.FeatureMap(store, "vit.layers.*"), tmp_path / "m.html"),
        "probe": aw.save_html(
            aw.probe(store, "vit.layers.*", folds=3).widget(), tmp_path / "p.html"
        ),
        "neuron": aw.save_html(
            aw.neuron_view(model, processor, store, "vit.layers.*", -1, unit=3, k=3),
            tmp_path / "n.html",
        ),
    }
    page, attempted = offline
    page.goto(pages["map"].as_uri())
    panel = page.locator(".aw-feature-map").first
    tools.wait_for(lambda: "no kernel" in panel.inner_text(), DRAW, "the map's note")
    figure = page.locator(".bqplot").first
    tools.wait_for(lambda: coloured(figure.screenshot()) > 300, DRAW, "points painted")
    assert panel.locator(".aw-fm-legend-entry").count() == 10
    assert page.locator(".widget-slider .noUi-target[disabled]").count() == 1  # the layer

    page.goto(pages["probe"].as_uri())
    figure = page.locator(".bqplot").first
    tools.wait_for(lambda: coloured(figure.screenshot()) > 300, DRAW, "the probe's lines")

    page.goto(pages["neuron"].as_uri())
    root = page.locator(".aw-neuron-view").first
    tools.wait_for(lambda: "no kernel" in root.inner_text(), DRAW, "the neuron view's note")
    canvases = page.locator("canvas.aw-nv-image")
    tools.wait_for(lambda: canvases.count() == 3, DRAW, "the top inputs")
    assert coloured(canvases.first.screenshot()) > 100
    assert attempted == [], f"the page tried to reach the network: {sorted(set(attempted))}"
    assert page.errors == []
