"""Hostile token strings through every widget that draws text, in Chromium: nothing runs, and
every label reads as the literal string (bidi controls and control characters as marks)."""

from __future__ import annotations

from typing import Any

import numpy as np
from hostile_page import HOSTILE, display, no_raw_controls, nothing_fired, truncated
from kernel_bridge import KernelBridge
from page_server import wire

from attnwidgets.norm_records import NormLayer, NormRecord, TensorSummary
from attnwidgets.records import AttentionRecord
from attnwidgets.widgets import AttentionView, NormView, PositionView, TrainingMonitorView

N = len(HOSTILE)


def mount_widget(page: Any, widget: Any, bundle: str, width: int = 900) -> None:
    """Every synced trait of ``widget``, as ipywidgets sends them, mounted with ``bundle``."""
    options = {"width": width, "bundle": bundle}
    page.evaluate("([w, o]) => harness.mount(w, o)", [wire(widget), options])


def hostile_attention() -> AttentionView:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(N), size=(2, 2, N)).astype(np.float32)
    names = ["<img src=x onerror=window.__pwned=1>", "layer\u202e1"]
    record = AttentionRecord(list(probs), names)
    scores = {
        "<script>alert(1)</script>": AttentionRecord(list(np.log(probs)), names, kind="scores")
    }
    return AttentionView(record, HOSTILE, scores=scores)


def test_attention_view_labels_hover_focus_and_lines(page: Any) -> None:
    view = hostile_attention()
    bridge = KernelBridge(page, view)
    titles = page.locator(".attnwidgets-qlabel").evaluate_all("(ls) => ls.map((l) => l.title)")
    assert titles == [display(t) for t in HOSTILE]  # every label, as the literal string
    texts = page.locator(".attnwidgets-klabel").all_text_contents()
    assert texts == [truncated(t, 16) for t in HOSTILE]
    assert "&lt;b&gt;&amp;" in titles  # entities stay text: never parsed
    title = page.locator(".attnwidgets-title").text_content()
    assert "layer 0 (<img src=x onerror=window.__pwned=1>)" in title
    kinds = page.locator(".attnwidgets-kind option").all_text_contents()
    assert kinds == ["probability", "<script>alert(1)</script>"]

    # hover the cell of <script> x <img>: the tooltip names both as text
    canvas = page.locator(".attnwidgets-heatmap")
    box = canvas.bounding_box()
    q, k = HOSTILE.index("<script>alert(1)</script>"), HOSTILE.index(HOSTILE[5])
    page.mouse.move(
        box["x"] + (k + 0.5) * box["width"] / N, box["y"] + (q + 0.5) * box["height"] / N
    )
    tip = page.locator(".attnwidgets-tooltip").text_content()
    assert f"query: {truncated(HOSTILE[q], 40)} → key: {truncated(HOSTILE[k], 40)}" in tip

    # lock the row of the override, open token focus and the token lines (drawn on a canvas)
    row = HOSTILE.index("\u202eexe.txt")
    view.focus_token = row
    view.show_lines = True
    bridge.pump()
    focus = page.locator(".attnwidgets-focus-text").text_content()
    assert f"query {row} «⟨U+202E⟩exe.txt» locked" in focus
    assert "⟨U+202E⟩exe.txt" in page.locator(".attnwidgets-focus-title").text_content()
    drawn = set(page.evaluate("[...window.__canvasText]"))
    assert {truncated(t, 20) for t in HOSTILE} <= drawn
    no_raw_controls(page)
    nothing_fired(page)


def test_live_box_with_hostile_text(page: Any) -> None:
    class Source:
        """Runs "a model" whose tokens are the text's words (enough for the box's path)."""

        def __call__(self, text: str) -> Any:
            words = text.split(" ")
            n = len(words)
            attention = AttentionRecord([np.full((1, n, n), 1 / n, np.float32)])
            return type("Run", (), {"attention": attention, "tokens": words, "text": text})()

    view = AttentionView(np.full((1, 1, 2, 2), 0.5, np.float32), ["a", "b"], live=Source())
    bridge = KernelBridge(page, view)
    typed = " ".join(t for t in HOSTILE if " " not in t and "\n" not in t and "\x00" not in t)
    box = page.locator(".attnwidgets-text")
    box.fill(typed)
    box.press("Enter")
    bridge.pump()
    words = typed.split(" ")
    titles = page.locator(".attnwidgets-qlabel").evaluate_all("(ls) => ls.map((l) => l.title)")
    assert titles == [display(w) for w in words]
    assert page.locator(".attnwidgets-live-status").text_content() == f"{len(words)} tokens"
    no_raw_controls(page)
    nothing_fired(page)


def norm_record() -> NormRecord:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1, 6, 16))
    x[0, 2, 3] = 80.0  # an outlier: listed with its token
    s = TensorSummary.from_numpy(x)
    layers = [
        NormLayer(
            "<svg onload=window.__pwned=1>", "layernorm", "<b>Norm</b>\u202e", (1, 6, 16), s, s
        )
    ]
    return NormRecord(layers, tokens=HOSTILE[:6])


def test_norm_view_tokens_and_names(page: Any) -> None:
    record = norm_record()
    view = NormView(record, [HOSTILE[i] for i in (3, 5, 14, 20, 21, 22)])
    mount_widget(page, view, "norm_view.js")
    title = page.locator(".attnwidgets-title").text_content()
    assert "<svg onload=window.__pwned=1>" in title and "<b>Norm</b>⟨U+202E⟩" in title
    drawn = set(page.evaluate("[...window.__canvasText]"))
    assert {truncated(t, 6) for t in view.tokens} <= drawn  # the per-token plot's labels
    outliers = page.locator(".attnwidgets-outlier").all_text_contents()
    assert any(f'"{display(view.tokens[2])}" (2)' in o for o in outliers), outliers
    no_raw_controls(page)
    nothing_fired(page)


def test_training_monitor_names(page: Any) -> None:
    view = TrainingMonitorView()
    arrays = {
        "hist_in": np.ones((1, 8), np.int32),
        "hist_out": np.ones((1, 8), np.int32),
        "range": np.array([[-1.0, 1.0]]),
        "spread": np.ones((1, 2)),
        "nonfinite": np.zeros((1, 6), np.int32),
    }
    view.push(3, arrays, ["<img src=x onerror=window.__pwned=1>\u202e"])
    view.add_loss(3, 1.5)
    view.flush()
    mount_widget(page, view, "training_monitor_view.js")
    title = page.locator(".attnwidgets-title").text_content()
    assert title == "step 3 (live) · norm 0: <img src=x onerror=window.__pwned=1>⟨U+202E⟩"
    no_raw_controls(page)
    nothing_fired(page)


def test_position_view_title(page: Any) -> None:
    import dataclasses

    import attnwidgets.positions as pos

    scheme = dataclasses.replace(
        pos.sinusoidal(8, length=16), source='"><script>alert(1)</script>\u202e'
    )
    mount_widget(page, PositionView(scheme), "position_view.js")
    title = page.locator(".attnwidgets-title").text_content()
    assert title == 'sinusoidal · "><script>alert(1)</script>⟨U+202E⟩'
    no_raw_controls(page)
    nothing_fired(page)
