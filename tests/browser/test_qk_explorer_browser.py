"""The AttentionView bundle in Chromium on a Q/K record (``attention="qk"``): the first view,
the zoomed tiles and a head switch are answered by the kernel from Q and K (pixels: a
diagonal head and a first-token head), and at 2,048 tokens the labels are a subset with a
position ruler in the axis titles (each label the token at its position)."""

from __future__ import annotations

import numpy as np
from test_attention_explorer_browser import bright, dark, mount_view, pixel, pump

from attnwidgets import AttentionView
from attnwidgets.qk_masks import MaskRule
from attnwidgets.qk_records import QKLayer, QKRecord

N = 2048


def qk_record() -> QKRecord:
    """Head 0 attends to itself (q = k, large norms), head 1 to the first token."""
    rng = np.random.default_rng(0)
    q = np.zeros((2, N, 64), np.float32)
    q[0] = rng.normal(size=(N, 64)) * 2.0
    q[1, :, 0] = 1.0
    k = q.copy()
    k[1] = 0.0
    k[1, 0, 0] = 40.0  # every query's logit to key 0: 40; to the others: 0
    rule = MaskRule(causal=True)
    return QKRecord([QKLayer.from_qk(f"layers.{i}.attn", q, k, scale=1.0, rule=rule)
                     for i in range(2)])  # fmt: skip


def test_a_qk_record_is_explored_with_tiles_computed_from_q_and_k(page) -> None:
    record = qk_record()
    record.dense_limit = 1  # no dense layer may be made for the view
    view = AttentionView(record, [f"t{i}" for i in range(N)])
    assert view.mode == "tiles" and view.tile0["shape"] == [512, 512]
    mount_view(page, view)
    replies = pump(page, view)
    assert replies and replies[0]["type"] == "tile" and replies[0]["rows"] == [0, N]
    for t in (0.1, 0.37, 0.8):
        assert bright(pixel(page, t, t)), t
        assert dark(pixel(page, 0.05, t + 0.1)), t  # far left of the diagonal: dark
    title = page.locator(".attnwidgets-axis-title-query").text_content()
    step = int(title.split("every ")[1].split("th")[0])
    assert title == f"query 0–2,047 · every {step}th labelled" and step > 1
    labels = page.locator(".attnwidgets-qlabel")
    assert labels.count() == -(-N // step)
    assert [labels.nth(i).text_content() for i in (0, 1, 5)] == ["t0", f"t{step}", f"t{5 * step}"]

    box = page.locator(".attnwidgets-heatmap").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    for _ in range(6):
        page.mouse.wheel(0, -100)
    page.wait_for_function("!document.querySelector('.attnwidgets-attention').dataset.view"
                           ".startsWith('0,')")  # fmt: skip
    refined = pump(page, view)
    zoomed = [r for r in refined if r["type"] == "tile" and r["head"] == 0 and r["layer"] == 0]
    q0, q1 = zoomed[-1]["rows"]
    assert q1 - q0 < N / 5 and zoomed[-1]["shape"][0] == q1 - q0  # exact: one cell per token
    shown = page.locator(".attnwidgets-attention").get_attribute("data-view")
    q0, q1, k0, k1 = (int(v) for v in shown.split(","))
    title = page.locator(".attnwidgets-axis-title-query").text_content()
    assert title == "query" or title.startswith(f"query {q0:,}–{q1 - 1:,}")
    for fy in (0.25, 0.5, 0.75):
        row = q0 + int(fy * (q1 - q0))
        fx = (row - k0 + 0.5) / (k1 - k0)
        fy_centre = (row - q0 + 0.5) / (q1 - q0)
        assert bright(pixel(page, fx, fy_centre)) and dark(pixel(page, fx - 0.1, fy_centre))

    page.locator(".attnwidgets-attention").focus()
    page.keyboard.press("Escape")  # the whole head again
    page.keyboard.press("ArrowRight")  # head 1: everything on the first token
    pump(page, view)
    assert page.evaluate("window.model.get('head')") == 1
    assert bright(pixel(page, 0.001, 0.5)) and dark(pixel(page, 0.5, 0.6))
    assert page.errors == []
