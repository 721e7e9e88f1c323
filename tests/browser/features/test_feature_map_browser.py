"""FeatureMap in Chromium with its real front ends (bqplot, bqplot-gl, anywidget) in the
widget manager: WebGL points drawn in the class colours, a brush that lists the selected
inputs, a slider that re-projects. (tests/e2e has the JupyterLab run, SVG + lasso.)"""

# ruff: noqa: F811  (pytest fixtures imported from a module, then used as arguments)

from __future__ import annotations

from typing import Any

import numpy as np
from pixels import ink
from store_fixtures import fashion_store, screenshot_dir, text_store  # noqa: F401
from widget_host import widget_host

import attnwidgets as aw
from attnwidgets.features import pca
from attnwidgets.widgets.features.feature_map import PALETTE


def drag(
    page: Any, box: dict[str, float], start: tuple[float, float], end: tuple[float, float]
) -> None:
    """A mouse drag between two fractions of the box."""
    page.mouse.move(box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1])
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1], steps=8)
    page.mouse.up()


def test_points_brush_list_and_slider(
    browser: Any, fashion_store: Any, screenshot_dir: Any
) -> None:
    with widget_host(browser) as host:
        fmap = aw.FeatureMap(
            fashion_store, "vit.layers.*", point_size=30, webgl=True, selector="brush"
        )
        shown = host.display(fmap)
        page = host.page
        figure = shown.locator(".bqplot").first
        page.wait_for_timeout(800)  # WebGL draws on the next frames
        before = figure.screenshot(path=str(screenshot_dir / "feature_map_points.png"))
        drawn = ink(before, list(PALETTE[:10]))
        assert drawn["coloured"] > 5000
        assert sum(1 for n in drawn["by_colour"].values() if n > 50) >= 8  # ten classes

        # brush over the middle of the plot area: the kernel lists what the brush holds
        area = figure.locator(".plotarea_events").first.bounding_box()
        drag(page, area, (0.3, 0.3), (0.7, 0.7))
        host.pump_until(lambda: fmap.brush.selected_x is not None and len(fmap.selected_ids))
        x0, x1 = sorted(fmap.brush.selected_x)
        y0, y1 = sorted(fmap.brush.selected_y)
        x, y = fmap.projection.coords[:, 0], fmap.projection.coords[:, 1]
        inside = fmap.ids[(x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)]
        assert len(inside) > 0
        assert sorted(fmap.selected_ids.tolist()) == sorted(inside.tolist())
        rows = shown.locator(".aw-fm-item")
        assert rows.count() == min(len(inside), 60)
        assert shown.locator(".aw-fm-status").inner_text().startswith(f"{len(inside)} selected")
        assert shown.locator(".aw-fm-item canvas.aw-fm-thumb").count() == rows.count()
        shown.screenshot(path=str(screenshot_dir / "feature_map_selected.png"))
        first_id = int(rows.first.get_attribute("data-input-id"))
        assert first_id in inside.tolist()

        # the layer slider, moved with the keyboard: the kernel re-projects layer 1
        handle = shown.locator(".widget-slider .ui-slider-handle, .noUi-handle").first
        handle.focus()
        for _ in range(2):
            page.keyboard.press("ArrowLeft")
        assert fmap.scatter.__class__.__name__ == "ScatterGL"
        host.pump_until(lambda: fmap.layer == 1)
        X, _ = fashion_store.load("vit.layers.*", 1)
        expected = pca(X, 2).coords
        np.testing.assert_allclose(np.asarray(fmap.scatter.x), expected[:, 0], rtol=1e-5)
        page.wait_for_timeout(800)
        after = figure.screenshot(path=str(screenshot_dir / "feature_map_layer1.png"))
        assert after != before
        assert ink(after)["coloured"] > 5000  # every point drawn again, none faded
        assert fmap.panel.selected_count == 0 and shown.locator(".aw-fm-item").count() == 0
        assert not page.errors, page.errors


def test_lasso_on_the_svg_scatter(browser: Any, text_store: Any) -> None:
    with widget_host(browser) as host:
        fmap = aw.FeatureMap(text_store, "encoder.layer.*", 3)
        assert fmap.scatter.__class__.__name__ == "Scatter"  # 120 points: SVG
        shown = host.display(fmap)
        page = host.page
        path = [(0.02, 0.02), (0.98, 0.02), (0.98, 0.98), (0.02, 0.98), (0.02, 0.03)]
        for attempt in range(3):  # a cold page may take the first gesture before the
            # figure's selector is ready (fresh-clone CI): draw the lasso again after a pause
            area = shown.locator(".bqplot .plotarea_events").first.bounding_box()
            page.mouse.move(area["x"] + area["width"] * 0.02, area["y"] + area["height"] * 0.02)
            page.mouse.down()
            for fx, fy in path[1:]:
                page.mouse.move(
                    area["x"] + area["width"] * fx, area["y"] + area["height"] * fy, steps=6
                )
            page.mouse.up()
            try:
                host.pump_until(lambda: len(fmap.selected_ids) > 0, timeout=5.0)
                break
            except AssertionError:
                if attempt == 2:
                    raise
                page.wait_for_timeout(1000)
        assert len(fmap.selected_ids) > 60  # nearly everything is inside that lasso
        texts = shown.locator(".aw-fm-item pre.aw-fm-text").all_inner_texts()
        assert len(texts) == min(len(fmap.selected_ids), 60)
        # snippets are drawn with their lines, other control characters (a form feed) as U+FFFD
        known = {
            "".join("\ufffd" if ord(c) < 32 and c not in "\n\t" else c for c in text)
            for text in text_store.inputs()["text"].tolist()
        }
        assert all(t in known or " … " in t for t in texts)
        assert not page.errors, page.errors
