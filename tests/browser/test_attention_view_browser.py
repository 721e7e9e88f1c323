"""The built AttentionView bundle in Chromium: real pixels, messages, hover, untrusted labels."""

from __future__ import annotations

import base64
from itertools import pairwise

from page_server import wire

N = 6  # tokens
TOKENS = [f"t{i}" for i in range(N)]


def diagonal(n: int) -> list[list[float]]:
    return [[1.0 if q == k else 0.0 for k in range(n)] for q in range(n)]


def anti_diagonal(n: int) -> list[list[float]]:
    return [[1.0 if q + k == n - 1 else 0.0 for k in range(n)] for q in range(n)]


def causal_uniform(n: int) -> list[list[float]]:
    return [[1.0 / (q + 1) if k <= q else 0.0 for k in range(n)] for q in range(n)]


def first_token(n: int) -> list[list[float]]:
    return [[1.0 if k == 0 else 0.0 for k in range(n)] for q in range(n)]


def encode(heads: list[list[list[float]]]) -> tuple[bytes, list[float], list[float]]:
    """The contract's uint8 encoding of one [heads, queries, keys] layer (probabilities)."""
    data = bytearray()
    offset, scale = [], []
    for head in heads:
        top = max(max(row) for row in head) or 1.0
        offset.append(0.0)
        scale.append(top / 255)
        data.extend(round(v / scale[-1]) for row in head for v in row)
    return bytes(data), offset, scale


LAYERS = {
    0: [diagonal(N), causal_uniform(N)],
    1: [first_token(N), diagonal(N)],  # not preloaded: asked for by message
    2: [anti_diagonal(N), diagonal(N)],
}


def state(preload: tuple[int, ...] = (0, 2), **traits: object) -> dict[str, object]:
    blocks = [encode(LAYERS[i]) for i in preload]
    state = {
        "layer": 0,
        "head": 0,
        "n_layers": 3,
        "n_heads": 2,
        "layer_names": [f"encoder.layer.{i}.attention.self" for i in range(3)],
        "query_tokens": TOKENS,
        "key_tokens": TOKENS,
        "value_kind": "probability",
        "chunk": {
            "value": b"".join(b for b, _, _ in blocks),
            "layers": list(preload),
            "dtype": "uint8",
            "shape": [len(preload), 2, N, N],
            "offset": [o for _, o, _ in blocks],
            "scale": [s for _, _, s in blocks],
        },
    }
    state.update(traits)
    return state


def layer_reply(page, layer: int, request_id: int | None) -> None:
    data, offset, scale = encode(LAYERS[layer])
    msg = {
        "type": "layer",
        "id": request_id,
        "layer": layer,
        "dtype": "uint8",
        "shape": [2, N, N],
        "offset": offset,
        "scale": scale,
    }
    page.evaluate("([m, b]) => harness.reply(m, b)", [msg, base64.b64encode(data).decode()])


def mount(page, st: dict[str, object], **options: object) -> None:
    page.evaluate("([w, o]) => harness.mount(w, o)", [wire(st), options])


def is_bright(rgba: list[int]) -> bool:  # viridis top: (253, 231, 37)
    return rgba[0] > 200 and rgba[1] > 200 and rgba[3] == 255


def is_dark(rgba: list[int]) -> bool:  # viridis bottom: (68, 1, 84)
    return rgba[0] < 100 and rgba[1] < 40 and rgba[3] == 255


def assert_pattern(page, pattern: list[list[float]]) -> None:
    for q in range(N):
        for k in range(N):
            rgba = page.evaluate("([q, k]) => harness.cell(q, k)", [q, k])
            expected = is_bright if pattern[q][k] == 1.0 else is_dark
            assert expected(rgba), (q, k, rgba)


def text(page, cls: str) -> str:
    return page.locator(f".{cls}").text_content()


def sent(page) -> list[dict[str, object]]:
    return page.evaluate("window.model.sent")


def test_diagonal_head_draws_bright_diagonal(page):
    mount(page, state())
    assert_pattern(page, diagonal(N))
    assert text(page, "attnwidgets-title") == "layer 0 (encoder.layer.0.attention.self) · head 0"
    assert page.locator(".attnwidgets-attention").get_attribute("data-state") == "ready"
    assert is_dark(page.evaluate("harness.bar(0)"))
    assert is_bright(page.evaluate("harness.bar(0.999)"))
    assert text(page, "attnwidgets-min") == "0"
    assert text(page, "attnwidgets-max") == "1"
    assert sent(page) == []
    assert page.errors == []


def test_head_change_redraws(page):
    mount(page, state())
    page.evaluate("harness.set('head', 1)")
    # causal uniform: row 0 is all on key 0 (bright), the upper triangle is zero (dark)
    assert is_bright(page.evaluate("harness.cell(0, 0)"))
    assert is_dark(page.evaluate("harness.cell(1, 4)"))
    assert not is_dark(page.evaluate("harness.cell(5, 2)"))  # 1/6: between the two
    assert text(page, "attnwidgets-title").endswith("· head 1")
    page.evaluate("harness.set('layer', 2)")  # preloaded: no request
    page.evaluate("harness.set('head', 0)")
    assert_pattern(page, anti_diagonal(N))
    assert sent(page) == []
    assert page.errors == []


def test_missing_layer_is_requested_once_then_drawn(page):
    mount(page, state())
    page.evaluate("harness.set('layer', 1)")
    page.evaluate("harness.set('head', 1)")  # same layer, still in flight: no second request
    requests = sent(page)
    assert len(requests) == 1
    assert requests[0]["type"] == "request_layer"
    assert requests[0]["layer"] == 1
    assert text(page, "attnwidgets-status") == "loading layer 1…"
    assert page.evaluate("harness.cell(2, 2)")[3] == 0  # no stale picture under the new title

    layer_reply(page, 1, 999)  # a reply to a request we never made is ignored
    assert text(page, "attnwidgets-status") == "loading layer 1…"
    layer_reply(page, 1, requests[0]["id"])
    assert text(page, "attnwidgets-status") == ""
    assert_pattern(page, diagonal(N))  # layer 1 head 1
    page.evaluate("harness.set('head', 0)")
    assert_pattern(page, first_token(N))
    page.evaluate("harness.set('layer', 0)")
    page.evaluate("harness.set('layer', 1)")  # cached now
    assert len(sent(page)) == 1
    assert page.errors == []


def test_error_reply_is_shown(page):
    mount(page, state())
    page.evaluate("harness.set('layer', 1)")
    request_id = sent(page)[0]["id"]
    page.evaluate(
        "(id) => harness.reply({type: 'error', id, message: 'layer 1 is gone'})", request_id
    )
    assert text(page, "attnwidgets-status") == "layer 1 is gone"
    assert page.locator(".attnwidgets-attention").get_attribute("data-state") == "error"
    assert page.errors == []


def test_unanswered_request_says_no_kernel(make_page):
    page = make_page(fake_clock=True)
    mount(page, state())
    page.evaluate("harness.set('layer', 1)")
    page.clock.run_for(4000)
    assert text(page, "attnwidgets-status") == "loading layer 1…"
    page.clock.run_for(1500)
    page.wait_for_function(
        "document.querySelector('.attnwidgets-status').textContent.includes('no kernel')"
    )
    assert text(page, "attnwidgets-status") == "layer 1 is not in this page (no kernel)"
    assert page.evaluate("harness.cell(0, 0)")[3] == 0
    page.evaluate("harness.set('layer', 0)")
    assert_pattern(page, diagonal(N))
    assert page.errors == []


def test_hover_shows_tooltip(page):
    mount(page, state(head=1))
    canvas = page.locator(".attnwidgets-heatmap")
    box = canvas.bounding_box()
    cell_w, cell_h = box["width"] / N, box["height"] / N
    page.mouse.move(box["x"] + 1.5 * cell_w, box["y"] + 3.5 * cell_h)  # query 3, key 1
    tooltip = page.locator(".attnwidgets-tooltip")
    assert tooltip.is_visible()
    content = tooltip.text_content()
    assert "query: t3 → key: t1" in content
    assert "probability: 0.251" in content  # 1/4 stored as byte 64 of 255
    page.mouse.move(box["x"] - 30, box["y"] - 30)
    assert not tooltip.is_visible()
    assert page.errors == []


def test_untrusted_labels_are_text(page):
    evil = ["<img src=x onerror=window.__pwned=1>", "<script>window.__pwned=2</script>"]
    tokens = [*evil, "c", "d", "e", "f"]
    names = ["<b onmouseover=window.__pwned=3>x</b>", "y", "z"]
    mount(page, state(query_tokens=tokens, key_tokens=tokens, layer_names=names))
    box = page.locator(".attnwidgets-heatmap").bounding_box()
    page.mouse.move(box["x"] + 1.5 * box["width"] / N, box["y"] + 0.5 * box["height"] / N)
    page.mouse.move(box["x"] + 0.5 * box["width"] / N, box["y"] + 1.5 * box["height"] / N)
    page.wait_for_timeout(200)
    assert page.evaluate("window.__pwned") is None
    root = page.locator(".attnwidgets-attention")
    assert root.locator("img, script, b").count() == 0
    everything = root.text_content()
    assert "<script>window.__pwned=2</script>" in everything
    assert "<b onmouseover=window.__pwned=3>x</b>" in text(page, "attnwidgets-title")
    tooltip = text(page, "attnwidgets-tooltip")
    assert "query: <script>window.__pwned=2</script> → key: <img src=x onerror=" in tooltip
    labels = page.locator(".attnwidgets-qlabel").all_text_contents()
    assert labels[0].startswith("<img src=x")  # truncated, but literal
    assert page.errors == []


def test_out_of_range_layer_and_head_clamp(page):
    mount(page, state())
    page.evaluate("harness.set('layer', 99)")
    page.evaluate("harness.set('head', 99)")
    assert text(page, "attnwidgets-title") == "layer 2 (encoder.layer.2.attention.self) · head 1"
    assert_pattern(page, diagonal(N))  # layer 2 head 1
    page.evaluate("harness.set('head', -5)")
    assert_pattern(page, anti_diagonal(N))  # layer 2 head 0
    page.evaluate("harness.set('layer', -1)")
    assert text(page, "attnwidgets-title").startswith("layer 0 ")
    page.evaluate("harness.set('layer', 'nonsense')")
    assert text(page, "attnwidgets-title").startswith("layer 0 ")
    # clamping is for drawing only: nothing is written back or requested
    assert page.evaluate("window.model.get('head')") == -5
    assert page.evaluate("window.model.saved") == 0
    assert sent(page) == []
    assert page.errors == []


def test_long_sequence_skips_labels_and_uses_device_pixels(page):
    n = 300
    tokens = [f"token{i}" for i in range(n)]
    pattern = [[1.0 if k == q else 0.0 for k in range(n)] for q in range(n)]
    data, offset, scale = encode([pattern])
    st = state(query_tokens=tokens, key_tokens=tokens, n_heads=1, n_layers=1)
    st["chunk"] = {
        "value": data,
        "layers": [0],
        "dtype": "uint8",
        "shape": [1, 1, n, n],
        "offset": [offset],
        "scale": [scale],
    }
    mount(page, st, width=2000, dpr=2)
    canvas = page.locator(".attnwidgets-heatmap")
    css = canvas.bounding_box()
    assert css["width"] <= 600
    size = page.evaluate(
        "(() => { const c = document.querySelector('.attnwidgets-heatmap');"
        " return [c.width, c.height]; })()"
    )
    assert size == [round(css["width"] * 2), round(css["height"] * 2)]
    boxes = [label.bounding_box() for label in page.locator(".attnwidgets-qlabel").all()]
    assert 5 < len(boxes) < n
    for upper, lower in pairwise(boxes):
        assert lower["y"] >= upper["y"] + upper["height"] - 0.5  # no overlap
    keys = page.locator(".attnwidgets-klabel").count()
    assert 5 < keys < n
    assert is_bright(page.evaluate("harness.cell(150, 150)"))
    assert is_dark(page.evaluate("harness.cell(150, 10)"))
    assert page.errors == []


def test_cleanup_removes_listeners(page):
    mount(page, state())
    assert page.evaluate("window.model.listenerCount()") > 0
    page.evaluate("window.cleanup()")
    assert page.evaluate("window.model.listenerCount()") == 0
    assert page.locator(".attnwidgets-attention").count() == 0
    page.evaluate("harness.set('layer', 1)")
    assert sent(page) == []
    assert page.errors == []


# The RGBA of the heatmap pixel at the centre of cell (row, col) of the region shown.
HEATMAP_CELL = """([row, col]) => {
  const c = document.querySelector(".attnwidgets-heatmap");
  const [q0, q1, k0, k1] = document.querySelector(".attnwidgets-attention").dataset.view
    .split(",").map(Number);
  const x = Math.floor(((col - k0 + 0.5) * c.width) / (k1 - k0));
  const y = Math.floor(((row - q0 + 0.5) * c.height) / (q1 - q0));
  return Array.from(c.getContext("2d").getImageData(x, y, 1, 1).data);
}"""
