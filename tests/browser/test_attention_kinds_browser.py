"""Value kinds in Chromium: masked cells drawn grey, the kind select, signed colour bar."""

from __future__ import annotations

from page_server import wire
from test_attention_view_browser import N, causal_uniform, encode, is_bright, is_dark, mount, state

GREY = [200, 200, 200, 255]


def masked_causal() -> tuple[bytes, list[float], list[float]]:
    """One head of causal scores: key index minus 2 (signed) on and below the diagonal,
    -inf (byte 0) above; finite values on bytes 1..255 (value = offset + byte * scale)."""
    lo, hi = -2.0, float(N - 1 - 2)
    scale = (hi - lo) / 254
    offset = lo - scale
    data = bytes(
        round((k - 2 - offset) / scale) if k <= q else 0 for q in range(N) for k in range(N)
    )
    return data, [offset], [scale]


def masked_state(**traits: object) -> dict[str, object]:
    data, offset, scale = masked_causal()
    st = state(preload=(), n_layers=1, n_heads=1, layer_names=["h.0.attn"])
    st.update(
        value_kind="masked",
        available_kinds=["probability", "masked"],
        chunk={
            "value": data,
            "layers": [0],
            "dtype": "uint8",
            "shape": [1, 1, N, N],
            "offset": [offset],
            "scale": [scale],
            "masked_byte": 0,
            "kind": "masked",
        },
    )
    st.update(traits)
    return st


def set_chunk(page, chunk: dict[str, object]) -> None:
    """What the kernel does when value_kind changes: a new chunk (data and meta together)."""
    page.evaluate("(w) => harness.apply(w)", wire({"chunk": chunk}))


def test_masked_cells_are_grey_and_say_masked(page):
    mount(page, masked_state())
    for q in range(N):
        for k in range(N):
            rgba = page.evaluate("([q, k]) => harness.cell(q, k)", [q, k])
            if k > q:
                assert rgba == GREY, (q, k, rgba)
            else:
                assert rgba != GREY, (q, k, rgba)
    assert is_dark(page.evaluate("harness.cell(3, 0)"))  # -2: the finite minimum
    assert is_bright(page.evaluate("harness.cell(5, 5)"))  # 3: the maximum
    assert page.locator(".attnwidgets-min").text_content() == "-2"
    assert page.locator(".attnwidgets-max").text_content() == "3"
    box = page.locator(".attnwidgets-heatmap").bounding_box()
    page.mouse.move(box["x"] + 4.5 * box["width"] / N, box["y"] + 1.5 * box["height"] / N)
    tooltip = page.locator(".attnwidgets-tooltip").text_content()
    assert "query: t1 → key: t4" in tooltip and tooltip.endswith("masked")
    page.mouse.move(box["x"] + 0.5 * box["width"] / N, box["y"] + 1.5 * box["height"] / N)
    assert "masked: -2.000" in page.locator(".attnwidgets-tooltip").text_content()
    assert page.errors == []


def test_kind_select_switches_value_kind_and_pixels(page):
    mount(page, masked_state())
    select = page.locator(".attnwidgets-kind")
    assert select.is_visible()
    assert select.input_value() == "masked"
    options = select.locator("option").all_text_contents()
    assert options == ["probability", "masked"]
    before = page.evaluate("harness.cell(0, 5)")
    select.select_option("probability")
    assert page.evaluate("window.model.get('value_kind')") == "probability"
    assert page.evaluate("window.model.saved") >= 1
    data, offset, scale = encode([causal_uniform(N)])
    chunk = {"value": data, "layers": [0], "dtype": "uint8", "shape": [1, 1, N, N],
             "offset": [offset], "scale": [scale], "kind": "probability"}  # fmt: skip
    set_chunk(page, chunk)
    after = page.evaluate("harness.cell(0, 5)")
    assert before == GREY and after != GREY and is_dark(after)  # 0 probability, not masked
    assert is_bright(page.evaluate("harness.cell(0, 0)"))
    # a layer request carries the kind shown
    page.evaluate("harness.set('chunk', {})")  # no layer preloaded: the view asks for it
    requests = page.evaluate("window.model.sent")
    assert requests and requests[-1]["kind"] == "probability"
    assert page.errors == []


def test_single_kind_hides_the_select(page):
    mount(page, state(available_kinds=["probability"], value_kind="probability"))
    assert not page.locator(".attnwidgets-kind").is_visible()
    mount_old = state()  # an older widget state without the kind traits still works
    assert "available_kinds" not in mount_old
    assert page.errors == []


def causal_kinds(n: int):
    import numpy as np

    from attnwidgets.records import AttentionRecord

    q, k = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    scores = ((k - q) / n * 4.0).astype(np.float32)[None, None]  # signed: -4..4
    masked = np.where(k > q, np.float32(-np.inf), scores)
    probs = np.exp(masked - masked.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    rec = lambda a, kind: AttentionRecord(list(a), ["h.0.attn"], kind=kind)  # noqa: E731
    return rec(probs, "probability"), {"scores": rec(scores, "scores"),
                                       "masked": rec(masked, "masked")}  # fmt: skip


def test_real_view_in_both_modes_switches_kind_end_to_end(page):
    from test_attention_explorer_browser import TRAITS, pixel, pump

    from attnwidgets import AttentionView

    n = 48
    for mode in ("layers", "tiles"):
        probs, scores = causal_kinds(n)
        view = AttentionView(probs, [f"t{i}" for i in range(n)], scores=scores, mode=mode,
                             value_kind="masked")  # fmt: skip
        traits = [*TRAITS, "value_kind", "available_kinds"]
        st = {name: getattr(view, name) for name in traits}
        page.evaluate("document.body.querySelectorAll('#host').forEach((e) => e.remove())")
        page.evaluate("([w, o]) => harness.mount(w, o)", [wire(st), {"width": 700}])
        pump(page, view)
        assert pixel(page, 0.9, 0.1) == GREY, mode  # upper triangle: masked
        lower = pixel(page, 0.1, 0.9)
        assert lower != GREY and lower[3] == 255, mode
        page.locator(".attnwidgets-kind").select_option("scores")
        kind = page.evaluate("window.model.get('value_kind')")
        assert kind == "scores"
        view.value_kind = kind  # what the kernel does on the synced change
        update = {name: getattr(view, name) for name in ("chunk", "tile0")}
        page.evaluate("(w) => harness.apply(w)", wire(update))
        replies = pump(page, view)
        assert all(r.get("kind", "scores") == "scores" for r in replies), mode
        assert pixel(page, 0.9, 0.1) != GREY, mode  # scores: the upper triangle has values
        assert is_bright(pixel(page, 0.98, 0.02)), mode  # k - q largest: top right
        assert page.locator(".attnwidgets-value-label").text_content() == "scores"
        page.evaluate("window.cleanup()")
    assert page.errors == []


def test_overview_and_token_focus_follow_the_kind_and_metrics_say_probabilities(page):
    """Switch the kind select: the kernel recomputes the thumbnails for the kind drawn, token
    focus asks for that kind (each row over its own signed range, masked keys at the bottom),
    and the metrics table says its numbers are of the probabilities."""
    from kernel_bridge import KernelBridge

    from attnwidgets import AttentionView

    n = 8
    probs, scores = causal_kinds(n)
    view = AttentionView(probs, [f"t{i}" for i in range(n)], scores=scores,
                         show_overview=True, show_metrics=True)  # fmt: skip
    view.focus_token = 5
    bridge = KernelBridge(page, view)
    bridge.pump()
    status = page.locator(".attnwidgets-metrics .attnwidgets-panel-status")
    assert status.text_content() == ""
    assert "values" not in page.locator(".attnwidgets-focus-title").text_content()
    thumb_before = page.evaluate(PIXEL_AT, [".attnwidgets-thumbnails", 0.8, 0.05])
    assert is_dark(thumb_before)  # probability 0 above the diagonal

    page.locator(".attnwidgets-kind").select_option("scores")
    bridge.pump()
    assert view.thumbnails["kind"] == "scores"
    # scores = (k - q) / n * 4: largest at the top right (the 9th source column is a gap)
    assert is_bright(page.evaluate(PIXEL_AT, [".attnwidgets-thumbnails", 0.8, 0.05]))
    assert "thumbnails of scores values" in page.locator(".attnwidgets-overview").text_content()
    assert "computed on the probabilities" in status.text_content()
    title = page.locator(".attnwidgets-focus-title").text_content()
    assert "token focus: 5 «t5»" in title and "(scores values" in title
    # token 5's query row in scores: k - 5, rising left to right over its own range
    left = page.evaluate(PIXEL_AT, [".attnwidgets-focus-to", 0.02, 0.5])
    right = page.evaluate(PIXEL_AT, [".attnwidgets-focus-to", 0.98, 0.5])
    assert is_dark(left) and is_bright(right)

    page.locator(".attnwidgets-kind").select_option("masked")
    bridge.pump()
    # masked: keys after 5 are -inf (drawn at the bottom), key 5 is the row's maximum
    right = page.evaluate(PIXEL_AT, [".attnwidgets-focus-to", 0.98, 0.5])
    own = page.evaluate(PIXEL_AT, [".attnwidgets-focus-to", 5.5 / n, 0.5])
    assert is_dark(right) and is_bright(own)
    assert page.errors == []


PIXEL_AT = """([selector, fx, fy]) => {
  const c = document.querySelector(selector);
  const x = Math.min(c.width - 1, Math.floor(fx * c.width));
  const y = Math.min(c.height - 1, Math.floor(fy * c.height));
  return Array.from(c.getContext("2d").getImageData(x, y, 1, 1).data);
}"""
