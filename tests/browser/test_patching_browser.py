"""The built PatchingView bundle in Chromium, with a REAL PatchingView (vision_harness): patches
numbered in sequence order, the sequence strip in order with the special tokens first, the
similarity map following a clicked patch, hostile token names drawn as text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from conftest import open_page
from vision_harness import VisionBridge, vision_server

from attnwidgets.vision_records import VisionInfo
from attnwidgets.widgets.vision.patching import PatchingView

BUNDLE = "patching_view.js"
GRID = (3, 4)
PATCH = 16


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


def striped_image() -> np.ndarray:
    """Each patch a flat colour: red = 20 * row, green = 20 * col, blue 200."""
    image = np.zeros((GRID[0] * PATCH, GRID[1] * PATCH, 3), np.uint8)
    for r in range(GRID[0]):
        for c in range(GRID[1]):
            image[r * PATCH : (r + 1) * PATCH, c * PATCH : (c + 1) * PATCH] = (20 * r, 20 * c, 200)
    return image


def view_of(before: tuple[str, ...] = ("[CLS]", "[REG0]"), **kwargs: Any) -> PatchingView:
    info = VisionInfo.build("vit", striped_image(), GRID, (PATCH, PATCH), before)
    n = GRID[0] * GRID[1]
    norms = np.arange(n, dtype=np.float32).reshape(*GRID, 1)  # norm = flat index
    angles = np.arange(n) * 0.3  # positions on a circle: neighbours in order are similar
    positions = np.stack([np.cos(angles), np.sin(angles)], axis=1).reshape(*GRID, 2)
    return PatchingView(info, norms, positions, **kwargs)


def strip_box_colour(page: Any, index: int) -> list[int]:
    """RGB at the centre of the strip's box ``index`` (28 px boxes, 32 per line)."""
    x, y = (index % 32) * 28 + 14, (index // 32) * 28 + 14
    return page.evaluate("([x, y]) => harness.pixel('canvas.attnwidgets-patching-strip', x, y)",
                         [x, y])[:3]  # fmt: skip


def test_strip_is_the_sequence_in_order(page: Any) -> None:
    view = view_of()
    VisionBridge(page, view, BUNDLE)
    assert strip_box_colour(page, 0) == [59, 111, 182]  # [CLS]
    assert strip_box_colour(page, 1) == [138, 92, 194]  # [REG0]
    for token in range(2, 2 + GRID[0] * GRID[1]):
        r, c = divmod(token - 2, GRID[1])
        assert strip_box_colour(page, token) == [20 * r, 20 * c, 200], token
    assert page.get_attribute("canvas.attnwidgets-patching-image", "data-numbered") == "true"


def test_clicking_a_patch_moves_the_similarity_map(page: Any) -> None:
    view = view_of(size=384)
    bridge = VisionBridge(page, view, BUNDLE)
    canvas = page.locator("canvas.attnwidgets-patching-similarity")

    def brightest() -> tuple[int, int]:
        got = page.evaluate("(s) => harness.pixels(s)", "canvas.attnwidgets-patching-similarity")
        rgb = np.array(got["rgb"], np.int64).reshape(got["height"], got["width"], 3)
        y, x = np.unravel_index(int(np.argmax(rgb[..., 1] + rgb[..., 0])), rgb.shape[:2])
        return int(y * GRID[0] // got["height"]), int(x * GRID[1] // got["width"])

    assert view.patch == 2 + 1 * GRID[1] + 2  # the centre patch (1, 2)
    assert brightest() == (1, 2)
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.9, box["y"] + box["height"] * 0.1)  # (0, 3)
    bridge.pump()
    assert view.patch == 2 + 3
    assert brightest() == (0, 3)
    assert "cos 1.000 with token 5" in page.inner_text(".attnwidgets-patching-readout")
    caption = page.locator(".attnwidgets-patching-caption").nth(1).inner_text()
    assert caption == "patch-embedding norm: 0.000 (dark) to 11.000 (yellow)"


def test_hostile_special_names_are_text(page: Any) -> None:
    hostile = '<img src=x onerror="window.__pwned=1">'
    view = view_of(before=(hostile, "\u202e[X]"), patch=2)
    VisionBridge(page, view, BUNDLE)
    strip = page.locator("canvas.attnwidgets-patching-strip").bounding_box()
    page.mouse.move(strip["x"] + 14, strip["y"] + 14)
    readout = page.inner_text(".attnwidgets-patching-readout")
    assert readout.startswith("token 0: <img src=x") and "a special token" in readout
    page.mouse.move(strip["x"] + 42, strip["y"] + 14)
    assert page.inner_text(".attnwidgets-patching-readout").startswith("token 1: ⟨U+202E⟩[X]")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#host img").count() == 0
