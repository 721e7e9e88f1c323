"""NaN attention in Chromium: its own colour (not the colormap's 0, not masked grey), named in
the hover and in the legend; in whole layers and in kernel tiles. And an error reply that names
no request is shown for a while, not forever."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from kernel_bridge import KernelBridge
from test_attention_view_browser import HEATMAP_CELL

from attnwidgets import AttentionView

NAN_RGB = [255, 0, 255]
MASKED_RGB = [200, 200, 200]
VIRIDIS_LOW = [68, 1, 84]


def broken(n: int = 6) -> np.ndarray:
    data = np.full((2, 2, n, n), 1 / n, np.float32)
    data[1, 1, 2, 3] = np.nan  # one broken cell in layer 1, head 1
    return data


def hover(page: Any, row: int, col: int, n: int) -> str:
    box = page.locator(".attnwidgets-heatmap").bounding_box()
    page.mouse.move(
        box["x"] + (col + 0.5) * box["width"] / n, box["y"] + (row + 0.5) * box["height"] / n
    )
    return page.locator(".attnwidgets-tooltip").text_content()


@pytest.mark.parametrize("mode", ["layers", "tiles"])
def test_nan_cells_have_their_own_colour_hover_and_legend(page: Any, mode: str) -> None:
    view = AttentionView(broken(), list("abcdef"), layer=1, head=1, mode=mode)
    bridge = KernelBridge(page, view)
    bridge.pump()
    nan_cell = page.evaluate(HEATMAP_CELL, [2, 3])[:3]
    assert nan_cell == NAN_RGB and nan_cell not in (MASKED_RGB, VIRIDIS_LOW)
    assert page.evaluate(HEATMAP_CELL, [2, 2])[:3] != NAN_RGB
    assert "NaN" in hover(page, 2, 3, 6)
    assert "NaN" not in hover(page, 2, 2, 6)
    key = page.locator(".attnwidgets-nan-key")
    assert key.is_visible() and key.text_content() == "NaN"
    swatch = key.locator(".attnwidgets-nan-swatch").evaluate(
        "(e) => getComputedStyle(e).backgroundColor"
    )
    assert swatch == "rgb(255, 0, 255)"
    view.head = 0  # a head without NaN: no key
    bridge.pump()
    assert not key.is_visible()
    assert page.errors == []


def test_an_error_without_an_id_is_shown_for_a_while(make_page: Any) -> None:
    page = make_page(fake_clock=True)
    view = AttentionView(np.full((1, 1, 3, 3), 1 / 3, np.float32), list("abc"))
    bridge = KernelBridge(page, view)
    status = page.locator(".attnwidgets-status")
    view._on_message(view, "not a dict", [])  # answered with an error that names no request
    assert "a message must be a JSON object" in status.text_content()
    root = page.locator(".attnwidgets-attention")
    assert root.get_attribute("data-state") == "error"
    page.clock.run_for(5000)
    assert status.text_content() == "" and root.get_attribute("data-state") == "ready"
    bridge.pump()
    assert page.errors == []
