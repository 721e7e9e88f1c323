"""The built PositionView bundle in Chromium: every view draws what its numbers say (pixels).

The widget state comes from the Python PositionView (the real contract); the page mounts the
bundle on the fake anywidget model of fake_model.js, as tests/browser/conftest.py does.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from page_server import serve_page, wire

import attnwidgets.positions as pos
from attnwidgets.widgets.positions.view import PositionView

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "src" / "attnwidgets" / "static" / "position_view.js"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head>
<body style="margin: 20px; font-family: sans-serif">
<script type="module">
import { createHarness } from "/fake_model.js";

window.harness = {
  ...createHarness({ bundle: "position_view.js", tick: "timeout", width: 700, replace: true }),
  plot() {
    return JSON.parse(document.querySelector(".attnwidgets-position-canvas").dataset.plot);
  },
  // Data coordinates -> CSS pixel of the plot (matrices: column, row indices).
  at(x, y) {
    const p = harness.plot();
    const fx = (x - p.xRange[0]) / (p.xRange[1] - p.xRange[0]);
    const fy = (y - p.yRange[0]) / (p.yRange[1] - p.yRange[0]);
    return [p.left + fx * p.width, p.yDown ? p.top + fy * p.height : p.top + (1 - fy) * p.height];
  },
  // RGBA at a CSS pixel of the canvas.
  pixel(x, y) {
    const c = document.querySelector(".attnwidgets-position-canvas");
    const s = c.width / c.clientWidth;
    const image = c.getContext("2d").getImageData(Math.floor(x * s), Math.floor(y * s), 1, 1);
    return Array.from(image.data);
  },
  value(x, y) { return harness.pixel(...harness.at(x, y)); },
  // Pixels within r CSS px of a data point.
  around(x, y, r = 2) {
    const [cx, cy] = harness.at(x, y);
    const out = [];
    for (let dx = -r; dx <= r; dx++) {
      for (let dy = -r; dy <= r; dy++) out.push(harness.pixel(cx + dx, cy + dy));
    }
    return out;
  },
};
window.harnessReady = true;
</script></body></html>
"""


@pytest.fixture(scope="module")
def position_server() -> Iterator[str]:
    if not BUNDLE.exists():
        pytest.fail(f"{BUNDLE} is not built: run `npm run build`")
    with serve_page(PAGE) as url:
        yield url


@pytest.fixture
def page(browser: object, position_server: str) -> Iterator[object]:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.goto(position_server)
    page.wait_for_function("window.harnessReady === true")
    yield page
    assert page.errors == []
    page.close()


def mount(page, view: PositionView) -> None:
    page.evaluate("w => harness.mount(w)", wire(view))
    assert page.evaluate("document.querySelector('.attnwidgets-positions').dataset.state") == (
        "ready"
    ), page.evaluate("document.querySelector('.attnwidgets-status').textContent")


def luminance(rgba: list[int]) -> float:
    return 0.2126 * rgba[0] + 0.7152 * rgba[1] + 0.0722 * rgba[2]


def near(rgba: list[int], color: tuple[int, int, int], tolerance: int = 60) -> bool:
    return sum(abs(a - b) for a, b in zip(rgba[:3], color, strict=True)) <= tolerance


RED, BLUE = (214, 39, 40), (31, 119, 180)


def test_sinusoidal_table_has_fast_stripes_and_flat_slow_columns(page) -> None:
    scheme = pos.sinusoidal(32, length=64)
    mount(page, PositionView(scheme, view="table"))
    table = scheme.table
    # column 0 is sin(p): brightness follows the value row by row
    fast = [luminance(page.evaluate("([x, y]) => harness.value(x, y)", [0, p])) for p in range(64)]
    assert np.corrcoef(fast, table[:, 0])[0, 1] > 0.95
    assert sum(1 for a, b in pairwise(fast) if abs(a - b) > 40) > 20  # stripes
    # the last column is cos(p / 10000^(30/32)) ~ 1 at every position: one bright colour
    slow = [page.evaluate("([x, y]) => harness.value(x, y)", [31, p]) for p in range(0, 64, 7)]
    assert all(near(px, (253, 231, 37), 40) for px in slow), slow


def test_similarity_is_brightest_on_the_diagonal(page) -> None:
    mount(page, PositionView(pos.sinusoidal(32, length=48), view="similarity"))
    for metric in ("cosine", "dot"):
        page.evaluate("m => harness.set('metric', m)", metric)
        for i in (0, 10, 30, 47):
            diagonal = luminance(page.evaluate("([x, y]) => harness.value(x, y)", [i, i]))
            for j in (0, 5, 20, 40, 47):
                if abs(i - j) > 1:
                    other = page.evaluate("([x, y]) => harness.value(x, y)", [j, i])
                    assert diagonal > luminance(other) + 20, (metric, i, j)
    readout = page.evaluate("document.querySelector('.attnwidgets-readout').textContent")
    assert readout.startswith("position 0: dot with itself 16")


def test_curves_pass_through_the_table_values(page) -> None:
    scheme = pos.sinusoidal(16, length=100)
    mount(page, PositionView(scheme, view="curves", dimension=2))
    for p in (5, 37, 80):
        pixels = page.evaluate("([x, y]) => harness.around(x, y)", [p, float(scheme.table[p, 2])])
        assert any(near(px, RED) for px in pixels), (p, pixels)
    page.evaluate("harness.set('dimension', 6)")
    p = 50
    pixels = page.evaluate("([x, y]) => harness.around(x, y)", [p, float(scheme.table[p, 6])])
    assert any(near(px, RED) for px in pixels)


def test_vit_grid_is_brightest_at_the_chosen_patch(page) -> None:
    rows, cols = 5, 6
    ys, xs = np.divmod(np.arange(rows * cols), cols)
    freqs = np.array([0.3, 0.7, 1.1])
    waves = [f(np.outer(coord, freqs)) for coord in (xs, ys) for f in (np.sin, np.cos)]
    patches = np.concatenate(waves, axis=1)
    table = np.vstack([np.full((1, patches.shape[1]), 0.1), patches])
    mount(page, PositionView(pos.learned(table, "vit", grid=(rows, cols), grid_offset=1)))
    page.evaluate("harness.set('view', 'grid')")
    for patch in (0, 13, 29):
        page.evaluate("p => harness.set('position', p)", patch + 1)
        r, c = divmod(patch, cols)
        brightest = max(
            ((luminance(page.evaluate("([x, y]) => harness.value(x, y)", [j, i])), (i, j))
             for i in range(rows) for j in range(cols)),
        )  # fmt: skip
        assert brightest[1] == (r, c)


def test_rotary_score_and_frequency_curves_follow_the_formula(page) -> None:
    scheme = pos.rotary(64, theta=10000, length=200)
    mount(page, PositionView(scheme, view="score"))
    score = scheme.relative_score()
    for d in (0, 3, 40, 150):
        pixels = page.evaluate("([x, y]) => harness.around(x, y)", [d, float(score[d])])
        assert any(near(px, BLUE) for px in pixels), d
    page.evaluate("harness.set('view', 'frequencies')")
    for i in (0, 10, 31):
        y = math.log10(float(scheme.inv_freq[i]))
        assert any(
            near(px, BLUE) for px in page.evaluate("([x, y]) => harness.around(x, y)", [i, y])
        )
    page.evaluate("harness.set('view', 'angles')")
    page.evaluate("harness.set('dimension', 1)")
    angle = (30 * float(scheme.inv_freq[1]) + math.pi) % (2 * math.pi) - math.pi
    assert any(
        near(px, RED) for px in page.evaluate("([x, y]) => harness.around(x, y)", [30, angle])
    )


def test_t5_matrix_is_constant_along_diagonals_and_bias_view_highlights_head(page) -> None:
    rng = np.random.default_rng(0)
    scheme = pos.t5_buckets(length=40, weights=rng.standard_normal((32, 3)).astype(np.float32))
    mount(page, PositionView(scheme, view="matrix", head=1))
    matrix = scheme.bias_matrix(1)
    seen = {}
    for q in range(0, 40, 3):
        for k in range(0, 40, 3):
            px = page.evaluate("([x, y]) => harness.value(x, y)", [k, q])
            seen.setdefault(k - q, []).append(px)
    for pixels in seen.values():
        assert all(p == pixels[0] for p in pixels)  # Toeplitz: one colour per distance
    hi = np.unravel_index(np.argmax(matrix), matrix.shape)
    lo = np.unravel_index(np.argmin(matrix), matrix.shape)
    bright = page.evaluate("([x, y]) => harness.value(x, y)", [int(hi[1]), int(hi[0])])
    dark = page.evaluate("([x, y]) => harness.value(x, y)", [int(lo[1]), int(lo[0])])
    assert near(bright, (253, 231, 37), 10) and near(dark, (68, 1, 84), 10)
    page.evaluate("harness.set('view', 'bias')")
    for d in (-30, -3, 0, 7, 25):
        y = float(scheme.bias[1, d + 39])
        assert any(
            near(px, RED) for px in page.evaluate("([x, y]) => harness.around(x, y)", [d, y])
        )


def test_alibi_matrix_masks_the_future_and_fades_with_distance(page) -> None:
    mount(page, PositionView(pos.alibi(4, length=30), view="matrix", head=0))
    assert page.evaluate("harness.value(20, 5)")[:3] == [224, 224, 224]  # key after query
    diagonal = luminance(page.evaluate("harness.value(20, 20)"))
    recent = luminance(page.evaluate("harness.value(15, 20)"))
    far = luminance(page.evaluate("harness.value(0, 20)"))
    assert diagonal > recent > far
    page.evaluate("harness.set('view', 'slopes')")
    slopes = pos.alibi_slopes(4)
    for h in range(4):
        px = page.evaluate("([x, y]) => harness.around(x, y)", [h, float(slopes[h])])
        assert any(near(p, BLUE) for p in px)


def test_buttons_set_the_view_and_titles_stay_text(page) -> None:
    scheme = pos.learned(np.eye(8, dtype=np.float32), source="<img src=x onerror=alert(1)>")
    mount(page, PositionView(scheme))
    title = page.evaluate("document.querySelector('.attnwidgets-title').textContent")
    assert title == "learned · <img src=x onerror=alert(1)>"
    assert page.evaluate("document.querySelectorAll('.attnwidgets-title img').length") == 0
    page.click("button[data-view='similarity']")
    assert page.evaluate("[window.model.get('view'), window.model.saved]") == ["similarity", 1]
    assert page.evaluate("document.querySelector('.attnwidgets-positions').dataset.view") == (
        "similarity"
    )
    page.click("button[data-metric='dot']")
    assert page.evaluate("window.model.get('metric')") == "dot"
    x, y = page.evaluate("harness.at(6, 6)")
    box = page.query_selector(".attnwidgets-position-canvas").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    assert page.evaluate("window.model.get('position')") == 6
    page.evaluate("window.cleanup()")
    assert page.evaluate("window.model.listenerCount()") == 0


def test_bad_data_shows_an_error_instead_of_a_picture(page) -> None:
    view = PositionView(pos.sinusoidal(8, length=16))
    mount(page, view)
    page.evaluate(
        "harness.set('data', {...window.model.get('data'),"
        " arrays: {table: {dtype: 'float32', shape: [99, 8], offset: 0}}})"
    )
    status = page.evaluate("document.querySelector('.attnwidgets-status').textContent")
    assert "data.table: bytes 0..3168 outside 512" in status
