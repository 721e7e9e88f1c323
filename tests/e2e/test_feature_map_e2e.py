"""FeatureMap in a real JupyterLab: the scatter paints, a lasso lists the selected images
beside it, and the layer slider re-projects (kernel round trips over the real comm)."""

from __future__ import annotations

import io
from typing import Any

import nbformat
import numpy as np
import pytest
from PIL import Image
from test_jupyterlab import errors_in_outputs, open_notebook, run_all_cells

pytestmark = pytest.mark.slow

CELLS = [
    """import tempfile, torch
import attnwidgets as aw
torch.set_num_threads(1)
vit, processor, images, labels = aw.demo.load_fashion_vit(limit=300)
names = [vit.config.id2label[int(i)] for i in labels]
store = aw.extract(vit, images, "vit.layers.?", processor=processor, labels=names, pool="cls",
                   store=tempfile.mkdtemp() + "/f.sqlite", progress=False)""",
    """fmap = aw.FeatureMap(store, "vit.layers.*", point_size=24)  # 300 points: SVG
fmap""",
]


def coloured(png: bytes) -> int:
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int(((pixels.max(axis=2) - pixels.min(axis=2)) > 40).sum())


def test_feature_map_in_jupyterlab(page: Any, jupyterlab: Any, tools: Any) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nbformat.write(notebook, jupyterlab.root / "feature_map_e2e.ipynb")
    open_notebook(page, jupyterlab, "feature_map_e2e.ipynb")
    run_all_cells(page)

    panel = page.locator(".aw-feature-map")

    def shown() -> Any:
        if errors := errors_in_outputs(page):
            return ("error", errors)
        return ("ok", True) if panel.count() and "vit.layers.3" in panel.inner_text() else None

    outcome, value = tools.wait_for(shown, 240, "the FeatureMap after Run All")
    assert outcome == "ok", "a cell raised:\n" + "\n".join(value)[-3000:]
    figure = page.locator(".bqplot").first
    tools.wait_for(lambda: coloured(figure.screenshot()) > 3000, 30, "points painted")
    legend = panel.locator(".aw-fm-legend-entry").all_inner_texts()
    assert len(legend) == 10 and any(text.startswith("Trouser") for text in legend)

    area = figure.locator(".plotarea_events").first.bounding_box()
    lasso = [(0.02, 0.02), (0.6, 0.02), (0.6, 0.98), (0.02, 0.98), (0.02, 0.03)]
    page.mouse.move(area["x"] + area["width"] * 0.02, area["y"] + area["height"] * 0.02)
    page.mouse.down()
    for fx, fy in lasso[1:]:
        page.mouse.move(area["x"] + area["width"] * fx, area["y"] + area["height"] * fy, steps=6)
    page.mouse.up()
    rows = panel.locator(".aw-fm-item")
    tools.wait_for(lambda: rows.count() > 0, 30, "selected inputs listed")
    assert panel.locator(".aw-fm-item canvas.aw-fm-thumb").count() == rows.count()
    assert "selected" in panel.locator(".aw-fm-status").inner_text()

    before = figure.screenshot()
    handle = page.locator(".widget-slider .noUi-handle, .widget-slider .ui-slider-handle").first
    handle.focus()
    page.keyboard.press("ArrowLeft")
    tools.wait_for(lambda: "vit.layers.2" in panel.inner_text(), 30, "layer 2 re-projected")
    tools.wait_for(lambda: rows.count() == 0, 30, "the selection cleared")
    tools.wait_for(lambda: figure.screenshot() != before, 30, "the points redrawn")
    assert not errors_in_outputs(page)


def synthetic_store(path: Any, n: int, d: int = 16, classes: int = 10) -> None:
    """``n`` inputs in ``classes`` Gaussian clusters, two layers ``blocks.0`` / ``blocks.1``."""
    from attnwidgets.features.schema import BatchRows, StoreInfo
    from attnwidgets.features.sqlite_store import SQLiteWriter

    rng = np.random.default_rng(0)
    paths = ["blocks.0", "blocks.1"]
    centres = rng.normal(scale=3.0, size=(len(paths), classes, d)).astype(np.float32)
    info = StoreInfo("synthetic", "Clusters", "0", paths, "mean", "float32")
    writer = SQLiteWriter(path, info, rank=0)
    for start in range(0, n, 4000):
        ids = list(range(start, min(start + 4000, n)))
        labels = rng.integers(0, classes, len(ids))
        noise = rng.normal(size=(len(paths), len(ids), d))
        features = {
            p: list((centres[i][labels] + noise[i]).astype(np.float32)) for i, p in enumerate(paths)
        }
        rows = BatchRows(
            ids, [f"point {i}" for i in ids], [f"class {c}" for c in labels],
            [None] * len(ids), [None] * len(ids), [], features,
        )  # fmt: skip
        writer.write(rows, {p: [a.tobytes() for a in v] for p, v in features.items()})
    writer.close()


def pick_box(
    coords: np.ndarray, area: dict[str, float], limits: list[tuple[float, float]], most: int
) -> tuple[tuple[float, float, float, float], np.ndarray]:
    """A brush rectangle, as whole page pixels, holding 10..``most`` points with none within
    0.05 px of its edges (float rounding cannot change the answer), and the rows inside it."""
    (xl, xh), (yl, yh) = limits
    px = area["x"] + (coords[:, 0] - xl) / (xh - xl) * area["width"]
    py = area["y"] + (yh - coords[:, 1]) / (yh - yl) * area["height"]
    for size in (0.06, 0.1, 0.16, 0.25):
        for fx in np.arange(0.05, 0.6 - size, 0.02):
            for fy in np.arange(0.05, 0.95 - size, 0.02):
                x0 = round(area["x"] + fx * area["width"])
                y0 = round(area["y"] + fy * area["height"])
                x1 = round(x0 + size * area["width"])
                y1 = round(y0 + size * area["height"])
                inside = (px >= x0) & (px <= x1) & (py >= y0) & (py <= y1)
                span_x, span_y = (px > x0 - 1) & (px < x1 + 1), (py > y0 - 1) & (py < y1 + 1)
                edge_x = np.minimum(abs(px - x0), abs(px - x1))[span_y]
                edge_y = np.minimum(abs(py - y0), abs(py - y1))[span_x]
                near = min(edge_x.min(initial=1.0), edge_y.min(initial=1.0))
                if 10 <= inside.sum() <= most and near > 0.05:
                    return (x0, y0, x1, y1), np.flatnonzero(inside)
    raise AssertionError("no brush rectangle with a clean edge found")


def pick_lasso(
    px: np.ndarray, py: np.ndarray, area: dict[str, float]
) -> tuple[list[tuple[int, int]], np.ndarray]:
    """A triangle of whole page pixels, holding 10..60 points (by scikit-image's
    points_in_poly) with none within 0.05 px of an edge, and the rows inside it."""
    from skimage.measure import points_in_poly

    points = np.stack([px, py], axis=1)
    for size in (0.1, 0.16, 0.25):
        for fx in np.arange(0.05, 0.6 - size, 0.03):
            for fy in np.arange(0.05, 0.95 - size, 0.03):
                x0, y0 = area["x"] + fx * area["width"], area["y"] + fy * area["height"]
                w, h = size * area["width"], size * area["height"]
                w, h = 18 * round(w / 18), 18 * round(h / 18)  # 6 steps: whole pixels
                x0, y0 = round(x0), round(y0)
                corners = [(x0, y0), (x0 + w, y0 + h // 3), (x0 + w // 3, y0 + h)]
                triangle = np.array(corners, dtype=float)
                inside = np.flatnonzero(points_in_poly(points, triangle))
                if not 10 <= len(inside) <= 60:
                    continue
                gaps = [
                    segment_distance(points, a, b)
                    for a, b in zip(triangle, np.roll(triangle, 1, 0), strict=True)
                ]
                if min(g.min() for g in gaps) > 0.05:
                    return corners, inside
    raise AssertionError("no lasso triangle with a clean edge found")


def segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of each point to the segment from ``a`` to ``b``."""
    t = np.clip(((points - a) @ (b - a)) / ((b - a) @ (b - a)), 0.0, 1.0)
    return np.asarray(np.linalg.norm(points - (a + t[:, None] * (b - a)), axis=1))


def test_brush_and_lasso_on_webgl_scatter_in_jupyterlab(
    page: Any, jupyterlab: Any, tools: Any
) -> None:
    """50,000 points (ScatterGL): a brush, then a lasso, dragged with the mouse list exactly
    the inputs whose projected coordinates fall inside (JupyterLab 4.6, bqplot 0.13.1)."""
    store = jupyterlab.root / "points.sqlite"
    synthetic_store(store, 50_000)
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    cells = [
        """import numpy as np, attnwidgets as aw
fmap = aw.FeatureMap("points.sqlite", "blocks.*", selector="brush", point_size=6)
np.save("fm_coords.npy", fmap.projection.coords); np.save("fm_ids.npy", fmap.ids)
print("drawn with", type(fmap.scatter).__name__)
fmap""",
    ]
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(notebook, jupyterlab.root / "feature_map_brush_e2e.ipynb")
    open_notebook(page, jupyterlab, "feature_map_brush_e2e.ipynb")
    run_all_cells(page)

    panel = page.locator(".aw-feature-map")

    def shown() -> Any:
        if errors := errors_in_outputs(page):
            return ("error", errors)
        return ("ok", True) if panel.count() and "50000 inputs" in panel.inner_text() else None

    outcome, value = tools.wait_for(shown, 240, "the FeatureMap after Run All")
    assert outcome == "ok", "a cell raised:\n" + "\n".join(value)[-3000:]
    assert page.get_by_text("drawn with ScatterGL").count() == 1
    coords = np.load(jupyterlab.root / "fm_coords.npy")
    ids = np.load(jupyterlab.root / "fm_ids.npy")
    assert coords.shape == (50_000, 2)
    # the plot spans the points' range plus 5% each side (computed here, not by the package)
    limits = []
    for values in (coords[:, 0], coords[:, 1]):
        low, high = float(values.min()), float(values.max())
        limits.append((low - 0.05 * (high - low), high + 0.05 * (high - low)))

    figure = page.locator(".bqplot").first
    figure.scroll_into_view_if_needed()
    tools.wait_for(lambda: coloured(figure.screenshot()) > 3000, 30, "points painted")
    area = figure.locator(".plotarea_events").first.bounding_box()
    # the whole plot area can be dragged on: the list beside it does not cover it
    corner = (area["x"] + area["width"] - 2, area["y"] + area["height"] / 2)
    assert page.evaluate(
        "([x, y]) => !!document.elementFromPoint(x, y).closest('.bqplot')", list(corner)
    )
    rows = panel.locator(".aw-fm-item")
    status = panel.locator(".aw-fm-status")
    (xl, xh), (yl, yh) = limits
    px = area["x"] + (coords[:, 0] - xl) / (xh - xl) * area["width"]  # each point on the page
    py = area["y"] + (yh - coords[:, 1]) / (yh - yl) * area["height"]
    small, small_rows = pick_box(coords, area, limits, 60)
    large = tuple(
        round(area[k] + f * area[s]) for k, s, f in
        (("x", "width", 0.1), ("y", "height", 0.1), ("x", "width", 0.6), ("y", "height", 0.9))
    )  # fmt: skip
    large_rows = np.flatnonzero(
        (px >= large[0]) & (px <= large[2]) & (py >= large[1]) & (py <= large[3])
    )
    assert len(large_rows) > 60
    for (x0, y0, x1, y1), inside in ((small, small_rows), (large, large_rows)):
        page.mouse.move(x0, y0)
        page.mouse.down()
        page.mouse.move(x1, y1, steps=8)
        page.mouse.up()
        expected = ids[inside]
        count = f"{len(expected)} selected"
        tools.wait_for(lambda count=count: status.inner_text().startswith(count), 30, count)
        listed = [int(row.get_attribute("data-input-id")) for row in rows.all()]
        if len(expected) <= 60:
            assert sorted(listed) == sorted(expected.tolist())
        else:  # the first 60 in point order, and the count of all
            assert listed == expected[:60].tolist()
            assert "first 60 listed" in status.inner_text()
    brush_rect = page.locator(".bqplot .brushintsel rect.selection")
    assert brush_rect.is_visible()
    page.get_by_role("button", name="clear").click()
    tools.wait_for(lambda: rows.count() == 0, 30, "the brush selection cleared")
    tools.wait_for(lambda: not brush_rect.is_visible(), 30, "the brush rectangle taken off")
    page.mouse.move(*small[:2])  # brushing again after the clear shows and selects again
    page.mouse.down()
    page.mouse.move(*small[2:], steps=8)
    page.mouse.up()
    again = f"{len(small_rows)} selected"
    tools.wait_for(lambda: status.inner_text().startswith(again), 30, f"again: {again}")
    assert brush_rect.is_visible()

    page.locator(".widget-toggle-button", has_text="lasso").click()
    figure.scroll_into_view_if_needed()
    area = figure.locator(".plotarea_events").first.bounding_box()
    px = area["x"] + (coords[:, 0] - xl) / (xh - xl) * area["width"]
    py = area["y"] + (yh - coords[:, 1]) / (yh - yl) * area["height"]
    corners, inside = pick_lasso(px, py, area)
    page.mouse.move(*corners[0])
    page.mouse.down()
    for corner in [*corners[1:], corners[0]]:  # the lasso starts at the first move: end there
        page.mouse.move(*corner, steps=6)
    page.mouse.up()
    expected = ids[inside]
    count = f"{len(expected)} selected"
    tools.wait_for(lambda: status.inner_text().startswith(count), 30, f"lasso: {count}")
    listed = [int(row.get_attribute("data-input-id")) for row in rows.all()]
    assert sorted(listed) == sorted(expected.tolist())
    assert page.locator(".bqplot .lassoselector path").count() == 1
    page.get_by_role("button", name="clear").click()
    tools.wait_for(lambda: rows.count() == 0, 30, "the selection cleared")
    tools.wait_for(
        lambda: page.locator(".bqplot .lassoselector path").count() == 0, 30, "lasso taken off"
    )
    assert not errors_in_outputs(page)
