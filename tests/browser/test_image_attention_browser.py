"""The built ImageAttentionView bundle in Chromium, talking to a REAL ImageAttentionView in this
process (vision_harness): synthetic attention whose mass sits on known patches, so every lit
pixel can be predicted; grid lines on patch boundaries; a click moves the overlay; mean / max
of heads; rollout; the heads grid sets layer and head; layers asked for by message; hostile
labels stay text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from conftest import open_page
from vision_harness import VisionBridge, vision_server

from attnwidgets.records import AttentionRecord
from attnwidgets.vision_records import VisionInfo
from attnwidgets.vision_rollout import rollout
from attnwidgets.widgets.vision.image_attention import ImageAttentionView

BUNDLE = "image_attention_view.js"
CANVAS = "canvas.attnwidgets-vision-canvas"
ROOT = ".attnwidgets-image-attention"
GRID = (4, 6)
PATCH = 16
SIZE = 448  # longest side: 96 px wide -> 4.667 backing px per image px (edges not integers)
YELLOW = (253, 231, 37)  # viridis at 1


@pytest.fixture(scope="module")
def server(bundle: Any) -> Iterator[str]:
    with vision_server() as url:
        yield url


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    tab = open_page(browser, server)
    yield tab
    assert not tab.errors, tab.errors
    tab.close()


def info(before: tuple[str, ...] = ("[CLS]",), image: np.ndarray | None = None) -> VisionInfo:
    if image is None:
        image = np.zeros((GRID[0] * PATCH, GRID[1] * PATCH, 3), np.uint8)
    return VisionInfo.build("vit", image, GRID, (PATCH, PATCH), before)


def one_hot(n_tokens: int, target_of: Any, heads: int = 1) -> np.ndarray:
    """``[heads, N, N]`` where query q of head h puts all its mass on ``target_of(q, h)``."""
    weights = np.zeros((heads, n_tokens, n_tokens), np.float32)
    for h in range(heads):
        for q in range(n_tokens):
            weights[h, q, target_of(q, h)] = 1.0
    return weights


def token(r: int, c: int) -> int:
    return 1 + r * GRID[1] + c  # after [CLS]


def edges(count: int, k: float) -> list[int]:
    return [min(SIZE, round(i * PATCH * k)) for i in range(count + 1)]


K = SIZE / (GRID[1] * PATCH)
XS, YS = edges(GRID[1], K), edges(GRID[0], K)


def cell_rect(r: int, c: int) -> tuple[int, int, int, int]:
    return XS[c], YS[r], XS[c + 1], YS[r + 1]


def mount(page: Any, view: ImageAttentionView) -> VisionBridge:
    bridge = VisionBridge(page, view, BUNDLE)
    bridge.pump()
    return bridge


def click_cell(page: Any, r: int, c: int) -> None:
    box = page.locator(CANVAS).bounding_box()
    x0, y0, x1, y1 = cell_rect(r, c)
    page.mouse.click(box["x"] + (x0 + x1) / 2, box["y"] + (y0 + y1) / 2)


def lit(page: Any) -> np.ndarray:
    """[H, W, 3] uint8 of the main canvas."""
    got = page.evaluate("(s) => harness.pixels(s)", CANVAS)
    return np.array(got["rgb"], np.uint8).reshape(got["height"], got["width"], 3)


def only_rect_lit(pixels: np.ndarray, rect: tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = rect
    inside = np.zeros(pixels.shape[:2], bool)
    inside[y0:y1, x0:x1] = True
    assert (pixels[inside] == YELLOW).all(), "every pixel of the square is lit"
    assert (pixels[~inside] == 0).all(), "no pixel outside the square is lit"


def test_all_mass_on_one_patch_lights_exactly_its_square(page: Any) -> None:
    n = 1 + GRID[0] * GRID[1]
    weights = one_hot(n, lambda q, h: token(2, 3))
    view = ImageAttentionView(AttentionRecord([weights]), info=info(), opacity=1.0,
                              show_lines=False, size=SIZE)  # fmt: skip
    mount(page, view)
    assert page.get_attribute(ROOT, "data-state") == "ready"
    assert page.get_attribute(ROOT, "data-peak") == "(2, 3)"
    pixels = lit(page)
    assert pixels.shape == (round(GRID[0] * PATCH * K), SIZE, 3)
    only_rect_lit(pixels, cell_rect(2, 3))


def test_grid_lines_fall_on_patch_boundaries(page: Any) -> None:
    n = 1 + GRID[0] * GRID[1]
    view = ImageAttentionView(AttentionRecord([one_hot(n, lambda q, h: 0)]), info=info(),
                              size=SIZE)  # fmt: skip  # all mass on [CLS]: no patch lit
    mount(page, view)
    pixels = lit(page)
    row = pixels[YS[1] // 2, :, 0]  # a row of pixels through the first row of patches
    assert sorted(np.flatnonzero(row > 60).tolist()) == XS[1:-1]
    column = pixels[:, XS[1] // 2, 0]
    assert sorted(np.flatnonzero(column > 60).tolist()) == YS[1:-1]


def test_clicking_a_patch_moves_the_overlay_and_sets_query(page: Any) -> None:
    n = 1 + GRID[0] * GRID[1]

    def mirror(q: int, h: int) -> int:  # a patch looks at its mirror image; [CLS] at (0, 0)
        if q == 0:
            return token(0, 0)
        r, c = divmod(q - 1, GRID[1])
        return token(GRID[0] - 1 - r, GRID[1] - 1 - c)

    view = ImageAttentionView(AttentionRecord([one_hot(n, mirror)]), info=info(), opacity=1.0,
                              show_lines=False, size=SIZE)  # fmt: skip
    bridge = mount(page, view)
    assert page.get_attribute(ROOT, "data-peak") == "(0, 0)"
    click_cell(page, 1, 4)
    bridge.pump()
    assert view.query == token(1, 4)
    assert page.get_attribute(ROOT, "data-peak") == "(2, 1)"
    pixels = lit(page)
    centre = cell_rect(2, 1)
    assert tuple(pixels[(centre[1] + centre[3]) // 2, (centre[0] + centre[2]) // 2]) == YELLOW
    old = cell_rect(0, 0)
    assert tuple(pixels[(old[1] + old[3]) // 2, (old[0] + old[2]) // 2]) == (0, 0, 0)
    # the query's own patch is outlined in red
    qx0, qy0, qx1, _ = cell_rect(1, 4)
    assert tuple(pixels[qy0 + 1, (qx0 + qx1) // 2]) == (255, 40, 40)

    page.select_option("select.attnwidgets-vision-query", "0")  # back to [CLS]
    bridge.pump()
    assert view.query == 0
    page.mouse.move(1, 1)  # the pointer leaves the canvas: no preview left
    page.evaluate("harness.frames()")
    assert page.get_attribute(ROOT, "data-peak") == "(0, 0)"


def test_mean_and_max_of_heads(page: Any) -> None:
    n = 1 + GRID[0] * GRID[1]
    weights = np.zeros((2, n, n), np.float32)
    weights[0, :, token(0, 0)] = 1.0  # head 0: all on A
    weights[1, :, token(0, 0)] = 0.5  # head 1: half on A, half on B
    weights[1, :, token(3, 5)] = 0.5
    view = ImageAttentionView(AttentionRecord([weights]), info=info(), opacity=1.0,
                              show_lines=False, size=SIZE, heads="mean")  # fmt: skip
    bridge = mount(page, view)

    def centre(r: int, c: int) -> np.ndarray:
        x0, y0, x1, y1 = cell_rect(r, c)
        return lit(page)[(y0 + y1) // 2, (x0 + x1) // 2].astype(int)

    assert tuple(centre(0, 0)) == YELLOW
    mean_b = centre(3, 5)  # 0.25 / 0.75: a third as bright as A's colour at t = 1/3
    page.select_option("select.attnwidgets-vision-head", "max")
    bridge.pump()
    assert view.heads == "max"
    max_b = centre(3, 5)  # 0.5 / 1.0
    assert tuple(centre(0, 0)) == YELLOW
    assert 0 < mean_b.sum() < max_b.sum()
    page.select_option("select.attnwidgets-vision-head", "h0")
    bridge.pump()
    assert (view.heads, view.head) == ("one", 0)
    assert tuple(centre(3, 5)) == (0, 0, 0)
    shares = page.locator(".attnwidgets-vision-share-row").all_inner_texts()
    assert shares[0].split()[0] == "[CLS]" and shares[0].split()[-1] == "0.000"
    assert shares[1].split()[0] == "patches" and shares[1].split()[-1] == "1.000"


def test_rollout_is_drawn_from_aw_rollout(page: Any) -> None:
    rng = np.random.default_rng(3)
    n = 1 + GRID[0] * GRID[1]
    layers = [rng.dirichlet(np.full(n, 0.3), size=(2, n)).astype(np.float32) for _ in range(3)]
    record = AttentionRecord(layers)
    vision = info()
    view = ImageAttentionView(record, info=vision, opacity=1.0, show_lines=False, size=SIZE)
    bridge = mount(page, view)
    page.select_option("select.attnwidgets-vision-overlay", "rollout")
    bridge.pump()
    expected = rollout(record, "mean", 0.0, info=vision)
    r, c = np.unravel_index(int(np.argmax(expected)), GRID)
    assert page.get_attribute(ROOT, "data-state") == "ready"
    assert page.get_attribute(ROOT, "data-peak") == f"({r}, {c})"
    title = page.inner_text(".attnwidgets-vision-title")
    assert title.startswith("rollout of [CLS] through layers 0–2")
    # brightness follows the map: the cells in order of the map are in order of green
    pixels = lit(page)
    greens = [pixels[(cell_rect(i, j)[1] + cell_rect(i, j)[3]) // 2,
                     (cell_rect(i, j)[0] + cell_rect(i, j)[2]) // 2, 1]
              for i in range(GRID[0]) for j in range(GRID[1])]  # fmt: skip
    order = np.argsort(expected.reshape(-1))
    assert np.all(np.diff(np.asarray(greens, int)[order]) >= -1)

    page.select_option("select.attnwidgets-vision-fusion", "max")
    page.fill("input.attnwidgets-vision-discard", "0.5")
    page.press("input.attnwidgets-vision-discard", "Enter")
    bridge.pump()
    assert (view.rollout_fusion, view.discard_ratio) == ("max", 0.5)
    expected = rollout(record, "max", 0.5, info=vision)
    r, c = np.unravel_index(int(np.argmax(expected)), GRID)
    assert page.get_attribute(ROOT, "data-peak") == f"({r}, {c})"


def test_heads_grid_click_sets_layer_and_head(page: Any) -> None:
    n = 1 + GRID[0] * GRID[1]
    layers = [one_hot(n, lambda q, h, at=layer: token(at, h), heads=3) for layer in range(2)]
    view = ImageAttentionView(AttentionRecord(layers), info=info(), size=SIZE)
    bridge = mount(page, view)
    thumbs = page.locator("canvas.attnwidgets-vision-thumb")
    assert thumbs.count() == 6
    # thumbnail of layer 1, head 2: [CLS] looks at (1, 2): that cell is the brightest
    thumb = page.locator("canvas.attnwidgets-vision-thumb[data-layer='1'][data-head='2']")
    thumb.click()
    bridge.pump()
    assert (view.layer, view.head, view.heads) == (1, 2, "one")
    assert page.get_attribute(ROOT, "data-peak") == "(1, 2)"
    assert "is-current" in (thumb.get_attribute("class") or "")
    grid = page.evaluate(
        """() => { const c = document.querySelector(
             "canvas.attnwidgets-vision-thumb[data-layer='1'][data-head='2']");
           const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
           let best = -1, at = 0;
           for (let i = 0; i < d.length; i += 4) {
             if (d[i + 1] > best) { best = d[i + 1]; at = i / 4; }
           }
           return [at % c.width / c.width, Math.floor(at / c.width) / c.height]; }"""
    )
    assert int(grid[0] * GRID[1]) == 2 and int(grid[1] * GRID[0]) == 1


def test_layers_are_asked_for_by_message_and_cached(page: Any) -> None:
    n = 1 + GRID[0] * GRID[1]
    layers = [one_hot(n, lambda q, h, at=layer: token(at % GRID[0], at)) for layer in range(4)]
    view = ImageAttentionView(AttentionRecord(layers), info=info(), size=SIZE)
    assert view.first_data["layer"] == 0
    bridge = mount(page, view)
    asked = [r["layer"] for r in bridge.replies if r["type"] == "layer"]
    assert asked == [1]  # the neighbour was prefetched
    view.layer = 2  # from Python (a jslinked slider)
    bridge.pump()
    assert page.get_attribute(ROOT, "data-peak") == "(2, 2)"
    assert page.get_attribute(ROOT, "data-layer") == "2"
    assert [r["layer"] for r in bridge.replies if r["type"] == "layer"][:2] == [1, 2]


def test_rows_mode_asks_for_one_query_at_a_time(page: Any) -> None:
    n = 1 + GRID[0] * GRID[1]
    layers = [one_hot(n, lambda q, h: max(1, q))]  # each patch looks at itself
    view = ImageAttentionView(AttentionRecord(layers), info=info(), size=SIZE, mode="rows",
                              fetch_layers=False, query=token(1, 1))  # fmt: skip
    assert view.first_data["query"] == token(1, 1)
    bridge = mount(page, view)
    assert page.get_attribute(ROOT, "data-peak") == "(1, 1)"
    click_cell(page, 3, 2)
    bridge.pump()
    assert page.get_attribute(ROOT, "data-peak") == "(3, 2)"
    rows = [r for r in bridge.replies if r["type"] == "rows"]
    assert rows and rows[-1]["query"] == token(3, 2)
    assert not [r for r in bridge.replies if r["type"] == "layer"]


def test_rows_mode_fetches_the_shown_layer_after_the_first_paint(page: Any) -> None:
    n = 1 + GRID[0] * GRID[1]
    layers = [one_hot(n, lambda q, h: max(1, q))] * 2
    view = ImageAttentionView(AttentionRecord(layers), info=info(), size=SIZE, mode="rows",
                              query=token(1, 1))  # fmt: skip
    assert view.fetch_layers
    bridge = mount(page, view)
    replies = [(r["type"], r["layer"]) for r in bridge.replies]
    assert ("layer", 0) in replies and ("layer", 1) not in replies  # the shown one only
    before = len(bridge.replies)
    click_cell(page, 3, 2)
    bridge.pump()
    assert page.get_attribute(ROOT, "data-peak") == "(3, 2)"
    after = [(r["type"], r["layer"]) for r in bridge.replies[before:]]
    assert after == [("rows", 1)]  # layer 0 is held in the page; the neighbour prefetched


def test_no_kernel_says_the_layer_is_not_in_the_page(page: Any) -> None:
    n = 1 + GRID[0] * GRID[1]
    record = AttentionRecord([one_hot(n, lambda q, h: 1)] * 2)
    view = ImageAttentionView(record, info=info(), size=SIZE)
    VisionBridge(page, view, BUNDLE)  # messages are never handed to the kernel
    page.evaluate("() => { window.model.set('layer', 1); }")
    page.wait_for_function(
        "document.querySelector('.attnwidgets-image-attention').dataset.state === 'missing'",
        timeout=10_000,
    )
    assert "not in this page" in page.inner_text(".attnwidgets-vision-status")


def test_hostile_labels_are_text(page: Any) -> None:
    hostile = '<img src=x onerror="window.__pwned=1">'
    bidi = "[\u202eSLC]"
    vision = info(before=(hostile, bidi))
    n = 2 + GRID[0] * GRID[1]
    record = AttentionRecord([np.full((1, n, n), 1 / n, np.float32)],
                             layer_names=[f"{hostile}\u202e.attn"])  # fmt: skip
    view = ImageAttentionView(record, info=vision, size=SIZE, query=0)
    mount(page, view)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#host img").count() == 0
    options = page.locator("select.attnwidgets-vision-query option").all_inner_texts()
    assert options[0] == hostile[:23] + "…"
    assert options[1] == "[⟨U+202E⟩SLC]"
    name = page.get_attribute(".attnwidgets-vision-layer-name", "title")
    assert name == f"{hostile}⟨U+202E⟩.attn"
    assert page.inner_text(".attnwidgets-vision-title").startswith("<img src=x")


def test_swin_stages_map_the_query_to_their_own_coarser_grid(page: Any) -> None:
    """A 4 x 4 grid of 4 px patches, then a 2 x 2 stage of 8 px cells; every token looks at
    itself. At the coarse stage, clicking patch (2, 3) lights the cell covering (2..3, 2..3)."""
    image = np.zeros((16, 16, 3), np.uint8)
    stages = {"layer_grids": [(4, 4), (2, 2)], "layer_cells": [(4, 4), (8, 8)]}
    vision = VisionInfo.build("swin", image, (4, 4), (4, 4), **stages)
    record = AttentionRecord(
        [np.eye(16, dtype=np.float32)[None], np.eye(4, dtype=np.float32)[None]]
    )
    view = ImageAttentionView(record, info=vision, opacity=1.0, show_lines=False, size=SIZE,
                              layer=1, query=0)  # fmt: skip
    bridge = mount(page, view)
    assert page.get_attribute(ROOT, "data-peak") == "(0, 0)"
    box = page.locator(CANVAS).bounding_box()
    step = SIZE / 4
    page.mouse.click(box["x"] + 3.5 * step, box["y"] + 2.5 * step)  # patch (2, 3)
    bridge.pump()
    assert view.query == 11
    assert page.get_attribute(ROOT, "data-peak") == "(1, 1)"
    pixels = lit(page)
    lit_mask = (pixels != 0).any(axis=-1)
    half = SIZE // 2
    assert (
        lit_mask[half:, half:].all() and not lit_mask[:half].any() and not lit_mask[:, :half].any()
    )
    page.evaluate("() => { window.model.set('layer', 0); }")  # the fine stage: the patch itself
    bridge.pump()
    assert page.get_attribute(ROOT, "data-peak") == "(2, 3)"
