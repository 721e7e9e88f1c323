"""The built PredictionGridView bundle in Chromium, connected to a REAL aw.PredictionGrid on the
shipped Fashion-MNIST ViT (grid_harness): every thumbnail holds its image's pixels (scaled x2,
nearest neighbour) in a frame that is red exactly for the wrong predictions; the selects, the
pager and a confusion cell filter the grid and the kernel sees the filter; hovering shows the
top-k bars; clicking a thumbnail makes the kernel open that image's attention, which mounts
and paints below; hostile class names stay text."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from conftest import open_page
from grid_harness import PAGE, GridBridge
from page_server import serve_page

import attnwidgets as aw
from attnwidgets.widgets.vision.prediction_grid import PredictionGridView

ROOT = "#grid .attnwidgets-prediction-grid"
ITEMS = "#grid figure.attnwidgets-grid-item"
RED = (220, 30, 30)
N = 100
SIZE, BORDER, SCALE = 62, 3, 2  # 28 px images drawn x2 in a 3 px frame

# Every thumbnail on the page: its image index and its canvas's RGBA bytes (base64).
THUMBS = """() => [...document.querySelectorAll("#grid figure.attnwidgets-grid-item")].map((f) => {
  const c = f.querySelector("canvas");
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let bin = "";
  for (let i = 0; i < d.length; i++) bin += String.fromCharCode(d[i]);
  return { index: Number(f.dataset.index), width: c.width, rgba: btoa(bin) };
})"""


@pytest.fixture(scope="module")
def server(bundle: Any) -> Iterator[str]:
    with serve_page(PAGE) as url:
        yield url


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    tab = open_page(browser, server)
    yield tab
    assert not tab.errors, tab.errors
    tab.close()


@pytest.fixture(scope="module")
def fashion() -> Any:
    return aw.demo.load_fashion_vit(limit=N)


@pytest.fixture
def grid(fashion: Any) -> Any:
    model, processor, images, labels = fashion
    return aw.PredictionGrid(model, processor, images, labels)


def shown(page: Any) -> list[int]:
    return [int(i) for i in page.eval_on_selector_all(ITEMS, "fs => fs.map(f => f.dataset.index)")]


def test_thumbnails_hold_the_images_pixels_and_wrong_ones_are_framed_red(page, grid, fashion):
    _, _, images, labels = fashion
    GridBridge(page, grid).pump()
    assert page.get_attribute(ROOT, "data-state") == "ready"
    thumbs = page.evaluate(THUMBS)
    assert [t["index"] for t in thumbs] == list(range(64))  # the first page of 64
    wrong = set(np.flatnonzero(grid.predicted != labels).tolist())
    assert wrong and len(wrong) < 64
    for thumb in thumbs:
        index = thumb["index"]
        assert thumb["width"] == SIZE
        rgba = np.frombuffer(base64.b64decode(thumb["rgba"]), np.uint8).reshape(SIZE, SIZE, 4)
        inner = rgba[BORDER : SIZE - BORDER, BORDER : SIZE - BORDER]
        expected = images[index].repeat(SCALE, axis=0).repeat(SCALE, axis=1)
        assert np.array_equal(inner[..., :3], expected), f"image {index}'s pixels"
        assert (inner[..., 3] == 255).all()
        frame = np.ones((SIZE, SIZE), bool)
        frame[BORDER:-BORDER, BORDER:-BORDER] = False
        if index in wrong:
            assert (rgba[frame][:, :3] == RED).all() and (rgba[frame][:, 3] == 255).all()
        else:
            assert (rgba[frame][:, 3] == 0).all(), f"image {index} is right: no frame"
    marked = page.eval_on_selector_all(f"{ITEMS}.is-wrong", "fs => fs.map(f => +f.dataset.index)")
    assert set(marked) == {i for i in wrong if i < 64}


def test_selects_and_pager_filter_the_grid_and_the_kernel_follows(page, grid, fashion):
    _, _, _, labels = fashion
    bridge = GridBridge(page, grid)
    bridge.pump()
    predicted = grid.predicted
    page.select_option("select.attnwidgets-grid-correctness", "wrong")
    wrong = [i for i in range(N) if predicted[i] != labels[i]]
    assert shown(page) == wrong
    assert page.get_attribute(ROOT, "data-shown") == str(len(wrong))
    bridge.pump()
    assert grid.grid.correctness == "wrong" and grid.grid.shown().tolist() == wrong
    page.select_option("select.attnwidgets-grid-true-class", "6")  # Shirt
    assert shown(page) == [i for i in wrong if labels[i] == 6]
    page.click("button.attnwidgets-grid-clear")
    assert shown(page) == list(range(64))
    page.click("button.attnwidgets-grid-next")
    assert shown(page) == list(range(64, N))
    assert page.get_attribute(ROOT, "data-page") == "1"
    assert page.is_disabled("button.attnwidgets-grid-next")
    bridge.pump()
    assert grid.grid.page == 1 and grid.grid.page_indices().tolist() == list(range(64, N))


def test_a_confusion_cell_click_filters_to_that_cell(page, grid, fashion):
    _, _, _, labels = fashion
    bridge = GridBridge(page, grid)
    bridge.pump()
    counts = grid.confusion
    off = [(i, j) for i in range(10) for j in range(10) if i != j and counts[i, j] > 0]
    true, guess = max(off, key=lambda cell: counts[cell])
    cell = f'#grid td.attnwidgets-grid-cell[data-true="{true}"][data-pred="{guess}"]'
    assert page.text_content(cell) == str(counts[true, guess])
    page.click(cell)
    expected = [i for i in range(N) if labels[i] == true and grid.predicted[i] == guess]
    assert shown(page) == expected and len(expected) == counts[true, guess]
    assert "is-active" in (page.get_attribute(cell, "class") or "")
    bridge.pump()
    assert (grid.grid.true_class, grid.grid.predicted_class) == (true, guess)


def test_hover_shows_top_k_and_a_click_opens_the_attention_below(page, grid, fashion):
    _, _, images, labels = fashion
    bridge = GridBridge(page, grid)
    bridge.pump()
    names = grid.grid.class_names
    page.hover(f'{ITEMS}[data-index="5"]')
    bars = page.locator("#grid .attnwidgets-grid-bar-label").all_text_contents()
    order = np.argsort(-grid.probabilities[5])[:5]
    assert bars == [names[c] for c in order]
    page.click(f'{ITEMS}[data-index="5"]')
    assert page.get_attribute(ROOT, "data-opening") == "5"
    bridge.pump()
    assert grid.grid.opened == 5 and bridge.mounted["grid"].replies[-1]["type"] == "opened"
    view = "#attention .attnwidgets-image-attention"
    page.wait_for_selector(f'{view}[data-state="ready"]')
    assert page.get_attribute(view, "data-query") == "0"  # [CLS]
    status = page.text_content("#grid .attnwidgets-grid-status") or ""
    assert "attention of image 5" in status
    assert page.get_attribute(ROOT, "data-opened") == "5"
    assert page.get_attribute(ROOT, "data-opening") is None
    # the attention view draws image 5: with the overlay off its canvas is that image
    grid.attention.opacity, grid.attention.show_lines = 0.0, False  # sent by the kernel
    got = page.evaluate("() => harness.rgba(document.querySelector('#attention canvas'))")
    pixels = np.array(got["rgba"], np.uint8).reshape(got["height"], got["width"], 4)
    k = got["width"] / 28
    centre = pixels[int(k * 14.5), int(k * 10.5), :3].astype(int)
    assert np.abs(centre - images[5][14, 10].astype(int)).max() <= 2
    page.click(f'{ITEMS}[data-index="8"]')  # another image replaces it
    bridge.pump()
    page.wait_for_selector(f'{view}[data-state="ready"]')
    assert grid.grid.opened == 8 and grid.attention is bridge.mounted["attention"].view
    assert int(labels[8]) >= 0


def test_hostile_class_names_stay_text(page):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)
    probs = np.full((6, 2), 0.5)
    names = ['<img src=x onerror="window.pwned=1">', "evil\u202etxt.exe"]
    view = PredictionGridView(images, probs, [0, 1, 0, 1, 0, 1], names)
    GridBridge(page, view).pump()
    assert page.evaluate("() => window.pwned") is None
    assert page.locator("#grid img").count() == 0
    header = page.locator("#grid th.attnwidgets-grid-row").all_text_contents()
    assert header[0].startswith("<img src=x") and "⟨U+202E⟩" in header[1]
    page.click(f'{ITEMS}[data-index="1"]')  # no opener: selects, says nothing is open
    assert page.get_attribute(ROOT, "data-selected") == "1"
