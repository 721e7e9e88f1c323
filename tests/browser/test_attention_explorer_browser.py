"""The explorer in Chromium against a REAL AttentionView in this process: the page's requests
go to the Python view's message handler and its binary replies come back (no Jupyter)."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from page_server import wire

from attnwidgets import AttentionView
from attnwidgets.metrics import METRIC_NAMES

TRAITS = [
    "layer", "head", "n_layers", "n_heads", "layer_names", "query_tokens", "key_tokens",
    "chunk", "mode", "show_overview", "show_metrics", "thumbnails",
    "metrics", "color_scale", "focus_token", "show_lines", "compare_heads", "tile0",
]  # fmt: skip

# RGBA at fractions (fx, fy) of a canvas.
PIXEL = """([selector, fx, fy]) => {
  const c = document.querySelector(selector);
  const x = Math.min(c.width - 1, Math.floor(fx * c.width));
  const y = Math.min(c.height - 1, Math.floor(fy * c.height));
  return Array.from(c.getContext("2d").getImageData(x, y, 1, 1).data);
}"""


def b64(data: bytes) -> str:
    return base64.b64encode(bytes(data)).decode()


def mount_view(page: Any, view: AttentionView) -> None:
    state = {name: getattr(view, name) for name in TRAITS}
    page.evaluate("([w, o]) => harness.mount(w, o)", [wire(state), {"width": 700}])


def pump(page: Any, view: AttentionView) -> list[dict[str, Any]]:
    """Answer every request the page has sent, as the kernel would; returns the replies."""
    answered = []
    for _ in range(10):
        requests = page.evaluate("window.model.sent.splice(0)")
        if not requests:
            break
        for request in requests:
            replies: list[tuple[dict[str, Any], list[bytes]]] = []
            view.send = lambda content, buffers=None, out=replies: out.append((content, buffers))
            view._on_message(view, request, [])
            for content, buffers in replies:
                answered.append(content | {"bytes": sum(len(b) for b in buffers or [])})
                data = b64(buffers[0]) if buffers else None
                page.evaluate("([m, b]) => harness.reply(m, b)", [content, data])
    return answered


def pixel(page: Any, fx: float, fy: float, selector: str = ".attnwidgets-heatmap") -> list[int]:
    return page.evaluate(PIXEL, [selector, fx, fy])


def bright(rgba: list[int]) -> bool:
    return rgba[0] > 200 and rgba[1] > 200 and rgba[3] == 255


def dark(rgba: list[int]) -> bool:
    return rgba[0] < 100 and rgba[1] < 40 and rgba[3] == 255


def long_record(n: int = 2048) -> np.ndarray:
    data = np.zeros((2, 2, n, n), np.float32)
    data[:, 0, np.arange(n), np.arange(n)] = 1.0  # head 0: diagonal
    data[:, 1, :, 0] = 1.0  # head 1: everything on the first token
    return data


def test_long_sequence_is_pooled_in_the_kernel_and_refined_on_zoom(page):
    n = 2048
    view = AttentionView(long_record(n), [f"t{i}" for i in range(n)])
    assert view.mode == "tiles"
    mount_view(page, view)
    replies = pump(page, view)
    canvas = page.evaluate(
        "(() => { const c = document.querySelector('.attnwidgets-heatmap');"
        " return [c.width, c.height]; })()"
    )
    first = replies[0]
    assert first["type"] == "tile" and first["rows"] == [0, n]
    assert first["shape"][0] <= canvas[1] and first["shape"][1] <= canvas[0]
    assert first["bytes"] <= canvas[0] * canvas[1]  # never more than the pixels shown
    for t in (0.1, 0.37, 0.8):
        assert bright(pixel(page, t, t)), t
        assert dark(pixel(page, t, 1 - t - 0.05)), t
    assert page.locator(".attnwidgets-attention").get_attribute("data-state") == "ready"

    box = page.locator(".attnwidgets-heatmap").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(6):
        page.mouse.wheel(0, -100)
    page.wait_for_function("!document.querySelector('.attnwidgets-attention').dataset.view"
                           ".startsWith('0,')")  # fmt: skip
    refined = pump(page, view)
    zoomed = [r for r in refined if r["type"] == "tile" and r["head"] == 0 and r["layer"] == 0]
    q0, q1 = zoomed[-1]["rows"]
    assert q1 - q0 < n / 5 and zoomed[-1]["shape"][0] == q1 - q0  # one cell per token again
    assert "queries" in page.locator(".attnwidgets-title").text_content()
    shown = page.locator(".attnwidgets-attention").get_attribute("data-view")
    q0, q1, k0, k1 = (int(v) for v in shown.split(","))
    for fy in (0.25, 0.5, 0.75):
        row = q0 + int(fy * (q1 - q0))  # the diagonal: key == query
        fx = (row - k0 + 0.5) / (k1 - k0)
        fy_centre = (row - q0 + 0.5) / (q1 - q0)
        assert bright(pixel(page, fx, fy_centre)) and dark(pixel(page, fx + 0.1, fy_centre))

    page.locator(".attnwidgets-attention").focus()
    page.keyboard.press("ArrowRight")  # next head: the first-token head, key 0 out of view
    assert page.evaluate("window.model.get('head')") == 1
    pump(page, view)
    assert dark(pixel(page, 0.01, 0.5)) and dark(pixel(page, 0.5, 0.5))
    page.keyboard.press("Escape")  # back to the whole head
    pump(page, view)
    assert bright(pixel(page, 0.001, 0.5)) and dark(pixel(page, 0.5, 0.5))
    page.keyboard.press("ArrowDown")
    assert page.evaluate("[window.model.get('layer'), window.model.saved]") == [1, 2]
    assert page.errors == []


def small_record() -> np.ndarray:
    n = 8
    data = np.full((3, 4, n, n), 1 / n, np.float32)
    data[2, 1] = np.eye(n)
    data[1, 3] = np.eye(n, k=-1)  # previous-token head
    data[1, 3, 0, 0] = 1.0
    return data


def test_overview_thumbnail_click_opens_that_head(page):
    view = AttentionView(small_record(), show_overview=True)
    mount_view(page, view)
    grid = ".attnwidgets-thumbnails"
    assert page.locator(".attnwidgets-overview").is_visible()
    # layer 2 head 1 is the diagonal: bright on its diagonal, dark off it
    size = page.evaluate(f"document.querySelector('{grid}').getBoundingClientRect().width")
    heads, layers = 4, 3
    pitch_x, pitch_y = 1 / heads, 1 / layers
    cell = 8 / 9  # 8 pixels of thumbnail + 1 pixel of gap per pitch
    fx = (1 + 0.5 * cell) * pitch_x
    assert bright(pixel(page, fx, (2 + 0.5 * cell) * pitch_y, grid))
    assert dark(pixel(page, fx + 0.3 * cell * pitch_x, (2 + 0.1 * cell) * pitch_y, grid))
    assert size > 0

    box = page.locator(grid).bounding_box()
    page.mouse.click(box["x"] + fx * box["width"], box["y"] + (2 + 0.5) * pitch_y * box["height"])
    assert page.evaluate("[window.model.get('layer'), window.model.get('head')]") == [2, 1]
    assert page.evaluate("window.model.saved") == 1
    assert (
        page.locator(".attnwidgets-title")
        .text_content()
        .endswith("layer 2 (layer.2) · head 1"[-26:])
    )
    assert bright(page.evaluate("harness.cell(3, 3)")) and dark(page.evaluate("harness.cell(3, 4)"))
    marker = page.locator(".attnwidgets-thumb-selected").bounding_box()
    assert abs(marker["x"] - (box["x"] + pitch_x * box["width"])) < 2
    assert page.errors == []


def test_metrics_table_sorts_and_picks_heads(page):
    view = AttentionView(small_record(), show_metrics=True)
    mount_view(page, view)
    rows = page.locator(".attnwidgets-metrics-table tbody tr")
    assert rows.count() == 12
    assert rows.first.locator("td").first.text_content() == "L0 H0"
    page.locator(".attnwidgets-metrics-table th[data-key='previous']").click()
    assert rows.first.locator("td").first.text_content() == "L1 H3"
    column = METRIC_NAMES.index("previous") + 1
    assert rows.first.locator("td").nth(column).text_content() == "1.000"
    page.locator(".attnwidgets-metrics-table th[data-key='diagonal']").click()
    assert rows.first.locator("td").first.text_content() == "L2 H1"
    rows.first.click()
    assert page.evaluate("[window.model.get('layer'), window.model.get('head')]") == [2, 1]
    assert page.locator(".attnwidgets-metrics-table tr.selected td").first.text_content() == "L2 H1"
    page.locator(".attnwidgets-toggle-head").click()  # hide: asks the kernel to switch it off
    assert page.evaluate("window.model.get('show_metrics')") is False
    assert not page.locator(".attnwidgets-metrics").is_visible()
    assert page.errors == []


def causal_uniform(n: int) -> np.ndarray:
    p = np.tril(np.ones((n, n), np.float32))
    return p / p.sum(axis=1, keepdims=True)


def test_colour_scales_and_click_to_lock_a_row(page):
    n = 6
    view = AttentionView(causal_uniform(n)[None, None], [f"t{i}" for i in range(n)])
    mount_view(page, view)
    weak = page.evaluate("harness.cell(5, 2)")  # 1/6 on a linear [0, 1] scale: dark purple
    assert weak[1] < 120 and not bright(weak)
    page.select_option(".attnwidgets-scale", "log")
    assert page.evaluate("[window.model.get('color_scale'), window.model.saved]") == ["log", 1]
    # log10(1/6) sits 80% up four decades: a light green, far brighter than on the linear scale
    logged = page.evaluate("harness.cell(5, 2)")
    assert logged[1] > 170 > weak[1]
    assert dark(page.evaluate("harness.cell(1, 4)"))  # zero stays at the bottom
    assert page.locator(".attnwidgets-min").text_content() == "≤0.0001"
    page.select_option(".attnwidgets-scale", "row")
    assert bright(page.evaluate("harness.cell(5, 2)"))  # the row's maximum
    assert dark(page.evaluate("harness.cell(4, 5)"))
    assert page.locator(".attnwidgets-max").text_content() == "row max"

    box = page.locator(".attnwidgets-heatmap").bounding_box()
    page.mouse.click(box["x"] + 0.5 * box["width"] / n, box["y"] + 3.5 * box["height"] / n)
    assert page.evaluate("window.model.get('focus_token')") == 3
    assert page.locator(".attnwidgets-locked-row").is_visible()
    text = page.locator(".attnwidgets-focus-text").text_content()
    assert text.startswith("query 3 «t3» locked · strongest keys: t0 0.251, t1 0.251")
    page.mouse.click(box["x"] + 0.5 * box["width"] / n, box["y"] + 3.5 * box["height"] / n)
    assert page.evaluate("window.model.get('focus_token')") == -1
    assert not page.locator(".attnwidgets-locked-row").is_visible()
    assert page.errors == []


def test_token_focus_shows_every_head_for_the_locked_token(page):
    view = AttentionView(small_record(), [f"t{i}" for i in range(8)])
    mount_view(page, view)
    box = page.locator(".attnwidgets-heatmap").bounding_box()
    page.mouse.click(box["x"] + 0.5 * box["width"] / 8, box["y"] + 3.5 * box["height"] / 8)
    assert page.evaluate("window.model.get('focus_token')") == 3
    replies = pump(page, view)
    assert [r["type"] for r in replies] == ["focus"] and replies[0]["shape"] == [2, 12, 8]
    title = page.locator(".attnwidgets-focus-title").text_content()
    assert title == "token focus: 3 «t3», all layers and heads"
    to, by = ".attnwidgets-focus-to", ".attnwidgets-focus-from"

    def at(selector: str, line: int, position: int) -> list[int]:
        return pixel(page, (position + 0.5) / 8, (line + 0.5) / 12, selector)

    diagonal, previous = 2 * 4 + 1, 1 * 4 + 3  # rows of (layer 2, head 1) and (layer 1, head 3)
    assert bright(at(to, diagonal, 3)) and dark(at(to, diagonal, 2))
    assert bright(at(to, previous, 2)) and dark(at(to, previous, 3))
    assert bright(at(by, previous, 4)) and dark(at(by, previous, 3))  # t4 looks back at t3
    assert bright(at(to, 0, 5))  # a uniform head: every position at its row maximum
    canvas = page.locator(to).bounding_box()
    page.mouse.click(canvas["x"] + 5, canvas["y"] + (previous + 0.5) * canvas["height"] / 12)
    assert page.evaluate("[window.model.get('layer'), window.model.get('head')]") == [1, 3]
    assert page.errors == []


LINES_PIXEL = """([x, y]) => {
  const c = document.querySelector(".attnwidgets-token-lines");
  return Array.from(c.getContext("2d").getImageData(Math.round(x), Math.round(y), 1, 1).data);
}"""


def test_token_lines_follow_attention_and_hover(page):
    n = 6
    eye = np.eye(n, dtype=np.float32)
    view = AttentionView(np.stack([eye, eye[::-1]])[None], [f"t{i}" for i in range(n)])
    mount_view(page, view)
    page.locator(".attnwidgets-toggle-token").click()
    assert page.evaluate("window.model.get('show_lines')") is True
    canvas = page.locator(".attnwidgets-token-lines")
    assert canvas.is_visible()
    width = page.evaluate("document.querySelector('.attnwidgets-token-lines').width")
    row = 16  # px per token row for 6 tokens

    def y(i: float) -> float:
        return 2 + (i + 0.5) * row

    def line_at(x: float, yy: float) -> list[int]:
        return page.evaluate(LINES_PIXEL, [x, yy])

    mid = width / 2
    for q in range(n):  # head 0, the diagonal: one flat blue line per token
        rgba = line_at(mid, y(q))
        assert rgba[3] > 150 and rgba[2] > rgba[0], (q, rgba)
    assert line_at(mid, y(2.5))[3] == 0  # nothing crosses the middle between rows
    page.locator(".attnwidgets-lines-all").check()  # head 1 (anti-diagonal) in orange
    cross = line_at(mid, y(2.5))
    assert cross[3] > 150 and cross[0] > 200 and cross[2] < 100, cross
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 10, box["y"] + y(0))  # hover query t0: only its lines remain
    assert line_at(mid, y(0))[3] > 150
    assert line_at(mid, y(3))[3] == 0 and line_at(mid, y(2.5))[3] > 0  # t0 -> t5 crosses
    page.mouse.move(box["x"] - 50, box["y"] - 50)
    assert line_at(mid, y(3))[3] > 150
    assert page.errors == []


def test_script_tokens_stay_text_in_every_panel(page):
    evil = ["<img src=x onerror=window.pwned=1>", "<script>window.pwned=2</script>", "a", "b"]
    view = AttentionView(
        np.full((2, 2, 4, 4), 0.25, np.float32), evil, show_overview=True, show_metrics=True
    )
    view.show_lines = True
    view.focus_token = 0
    mount_view(page, view)
    page.evaluate("harness.set('show_lines', true)")
    page.evaluate("harness.set('focus_token', 0)")
    pump(page, view)
    title = page.locator(".attnwidgets-focus-title").text_content()
    assert title == f"token focus: 0 «{evil[0]}», all layers and heads"
    assert (
        "«<img src=x onerror=window.pwned=1>»"
        in page.locator(".attnwidgets-focus-text").text_content()
    )
    assert page.locator(".attnwidgets-attention img, .attnwidgets-attention script").count() == 0
    assert page.evaluate("window.pwned") is None
    assert page.errors == []


def test_heads_ticked_in_the_metrics_table_are_compared_side_by_side(page):
    view = AttentionView(small_record(), show_metrics=True)
    mount_view(page, view)
    rows = page.locator(".attnwidgets-metrics-table tbody tr")
    for layer, head in ((1, 3), (2, 1)):
        rows.nth(layer * 4 + head).locator(".attnwidgets-compare-pick").check()
    state = (
        "[window.model.get('compare_heads'), window.model.get('layer'), window.model.get('head')]"
    )
    assert page.evaluate(state) == [[[1, 3], [2, 1]], 0, 0]  # ticking does not open the head
    pump(page, view)
    captions = page.locator(".attnwidgets-compare figcaption").all_text_contents()
    assert captions == ["layer 1 · head 3", "layer 2 · head 1"]
    second = ".attnwidgets-compare-head:nth-child(2) canvas"
    first = ".attnwidgets-compare-head:nth-child(1) canvas"
    for i in range(8):
        assert bright(pixel(page, (i + 0.5) / 8, (i + 0.5) / 8, second))  # the diagonal head
        if i:
            assert bright(pixel(page, (i - 0.5) / 8, (i + 0.5) / 8, first))  # previous token
    assert dark(pixel(page, 0.9, 0.1, second)) and dark(pixel(page, 0.9, 0.1, first))
    page.locator(second).click()
    assert page.evaluate(state)[1:] == [2, 1]
    rows.nth(4 + 3).locator(".attnwidgets-compare-pick").uncheck()
    assert page.locator(".attnwidgets-compare figcaption").all_text_contents() == [
        "layer 2 · head 1"
    ]
    assert page.errors == []


def test_first_view_of_a_long_sequence_comes_with_the_state(page):
    n = 2048
    view = AttentionView(long_record(n), [f"t{i}" for i in range(n)], head=1)
    assert view.tile0["shape"] == [512, 512] and len(view.tile0["value"]) == 512 * 512
    state = {name: getattr(view, name) for name in TRAITS}
    state.update(tile0={}, head=0)  # open on head 0, then move to the head of tile0
    page.evaluate("([w, o]) => harness.mount(w, o)", [wire(state), {"width": 700}])
    assert page.evaluate("window.model.sent.map((r) => [r.layer, r.head])") == [[0, 0]]
    page.evaluate("(w) => harness.apply(w)", wire({"tile0": view.tile0}))
    page.evaluate("harness.set('head', 1)")  # no kernel answers: as in an exported page
    assert page.locator(".attnwidgets-attention").get_attribute("data-state") == "ready"
    assert bright(pixel(page, 0.001, 0.5)) and dark(pixel(page, 0.5, 0.5))  # first-token head
    # 2048 tokens in ~560 px: bins of 4 tokens, as fine as the 512 x 512 first view, so only
    # the neighbours are asked for (prefetch), not the shown head
    asked = page.evaluate("window.model.sent.map((r) => [r.layer, r.head])")
    assert asked == [[0, 0], [1, 1]]
    assert page.errors == []
