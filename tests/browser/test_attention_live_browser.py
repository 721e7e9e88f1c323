"""The live text box and streamed generation in Chromium, against a REAL AttentionView and a
real (tiny, random) GPT-2 with a character tokenizer in this process; the expected pixels come
from transformers' own eager attention on the same text."""

from __future__ import annotations

import sys
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import torch
from kernel_bridge import KernelBridge
from test_attention_view_browser import HEATMAP_CELL

import attnwidgets as aw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tiny_lm import char_gpt2, char_tokenizer

VIRIDIS = [(68, 1, 84), (72, 40, 120), (62, 73, 137), (49, 104, 142), (38, 130, 142),
           (31, 158, 137), (53, 183, 121), (110, 206, 88), (253, 231, 37)]  # fmt: skip


def viridis(t: float) -> list[int]:
    """The colormap of js/shared/colormap.js, at the byte the browser gets."""
    t = round(min(1.0, max(0.0, t)) * 255) / 255
    pos = t * (len(VIRIDIS) - 1)
    i = min(len(VIRIDIS) - 2, int(pos))
    f = pos - i
    return [round(a + (b - a) * f) for a, b in zip(VIRIDIS[i], VIRIDIS[i + 1], strict=True)]


def eager(model: torch.nn.Module, tokenizer: Any, text: str) -> np.ndarray:
    """Independent reference: transformers' eager attention, [layers, heads, q, k]."""
    import copy

    reference = copy.deepcopy(model)
    reference.set_attn_implementation("eager")
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = reference(input_ids=ids, output_attentions=True)
    return np.stack([a[0].numpy() for a in out.attentions])


def assert_pixels_match(page: Any, layer_values: np.ndarray, head: int) -> None:
    """Every cell of the head drawn with the colour of its value (linear, over the layer max)."""
    top = float(layer_values.max())
    n_q, n_k = layer_values.shape[1:]
    for q in range(n_q):
        for k in range(n_k):
            rgba = page.evaluate(HEATMAP_CELL, [q, k])
            expected = viridis(float(layer_values[head, q, k]) / top)
            assert max(abs(a - b) for a, b in zip(rgba[:3], expected, strict=True)) <= 6, (
                q, k, rgba, expected)  # fmt: skip


def drawn(text: str) -> list[str]:
    """The labels of a text of one character per token: a space token is drawn as "␣"."""
    return ["␣" if c == " " else c for c in text]


def labels(page: Any, kind: str = "qlabel") -> list[str]:
    return page.locator(f".attnwidgets-{kind}").all_text_contents()


def live_view(text: str, **options: Any) -> tuple[aw.Lens, aw.AttentionView]:
    model, tokenizer = char_gpt2(), char_tokenizer()
    lens = aw.wrap(model, tokenizer)
    return lens, aw.AttentionView(lens(text), **options)


def test_enter_runs_the_model_again_and_the_view_follows(page):
    lens, view = live_view("the cat", layer=1, head=2, show_metrics=True, show_overview=True)
    view.focus_token = 4
    bridge = KernelBridge(page, view)
    box = page.locator(".attnwidgets-text")
    assert box.is_visible() and box.input_value() == "the cat"
    assert labels(page) == drawn("the cat")
    assert page.locator(".attnwidgets-generate").is_visible()  # GPT-2 has an LM head

    box.fill("a dog ran")
    box.press("Enter")
    status = page.locator(".attnwidgets-live-status")
    assert status.text_content() == "running the model…"  # before the kernel answers
    bridge.pump()
    assert labels(page) == drawn("a dog ran") and labels(page, "klabel") == drawn("a dog ran")
    root = page.locator(".attnwidgets-attention")
    assert (root.get_attribute("data-layer"), root.get_attribute("data-head")) == ("1", "2")
    assert root.get_attribute("data-state") == "ready"
    assert status.text_content() == "9 tokens"
    assert_pixels_match(page, eager(lens.model, lens.tokenizer, "a dog ran")[1], head=2)
    # the locked row is still in range: kept, with the new token named
    assert page.locator(".attnwidgets-locked-row").is_visible()
    assert "query 4 «g» locked" in page.locator(".attnwidgets-focus-text").text_content()
    assert "token focus: 4 «g»" in page.locator(".attnwidgets-focus-title").text_content()
    assert page.locator(".attnwidgets-focus-to").is_visible()  # asked for and drawn again
    # metrics table and thumbnails were recomputed for the new text (9 tokens, 2 x 4 heads)
    assert view.metrics["shape"] == [2, 4, 6]
    assert page.locator(".attnwidgets-metrics-table tbody tr").count() == 8
    reference = aw.head_metrics(
        aw.AttentionRecord.from_array(eager(lens.model, lens.tokenizer, "a dog ran")),
        list("a dog ran"),
    )
    shown = np.frombuffer(view.metrics["value"], "<f4").reshape(2, 4, 6)
    np.testing.assert_allclose(shown, reference.values, atol=1e-5)
    assert view.thumbnails["shape"][2:] == [9, 9]

    # a shorter text: the locked row (4) is out of range and is cleared
    box.fill("hi")
    box.press("Enter")
    bridge.pump()
    assert labels(page) == ["h", "i"]
    assert not page.locator(".attnwidgets-locked-row").is_visible()
    assert view.focus_token == -1
    assert page.locator(".attnwidgets-focus-text").text_content() == ""
    assert_pixels_match(page, eager(lens.model, lens.tokenizer, "hi")[1], head=2)
    assert page.errors == []


def test_errors_are_shown_and_the_old_view_stays(page):
    _, view = live_view("abc")
    bridge = KernelBridge(page, view)
    before = page.evaluate("document.querySelector('.attnwidgets-heatmap').toDataURL()")
    box = page.locator(".attnwidgets-text")
    status = page.locator(".attnwidgets-live-status")
    box.fill("x" * 80)  # the model has 64 positions
    box.press("Enter")
    bridge.pump()
    assert "80 tokens is more than GPT2LMHeadModel takes: 64 positions" in status.text_content()
    assert "still shows the previous run" in status.text_content()
    assert page.locator(".attnwidgets-live").get_attribute("data-state") == "error"
    assert box.input_value() == "x" * 80  # what was typed stays, to be fixed
    assert labels(page) == ["a", "b", "c"]
    assert page.evaluate("document.querySelector('.attnwidgets-heatmap').toDataURL()") == before
    box.fill("   ")
    box.press("Enter")
    bridge.pump()
    assert "the text is empty" in status.text_content()
    assert labels(page) == ["a", "b", "c"]
    box.fill("abcd")  # and it recovers
    box.press("Enter")
    bridge.pump()
    assert labels(page) == ["a", "b", "c", "d"] and status.text_content() == "4 tokens"
    assert page.errors == []


def test_generate_streams_rows_step_by_step(page):
    lens, view = live_view("the", head=1)
    bridge = KernelBridge(page, view)
    seen: list[tuple[int, str]] = []
    apply = bridge._from_kernel

    def watch(msg: dict[str, Any], buffers: Any = None) -> None:  # after every kernel update
        apply(msg, buffers)
        shown = page.locator(".attnwidgets-attention").get_attribute("data-view")
        status = page.locator(".attnwidgets-live-status").text_content()
        seen.append((int(shown.split(",")[1]), status))

    view._send = watch
    page.locator(".attnwidgets-new-tokens").fill("5")
    page.locator(".attnwidgets-generate").click()
    bridge.pump()
    rows = [r for r, _ in seen]
    assert rows[0] == 3 and rows[-1] == 7  # the prompt, then one row per fed token
    grown = sorted(set(rows))
    assert grown == [3, 4, 5, 6, 7]
    assert all(b >= a for a, b in pairwise(rows))  # never shrinks
    assert any("generating: 2 of 5 new tokens" in s for _, s in seen)
    # the final picture: the attention of the generated sequence (its last token is never fed)
    run = lens.generate("the", max_new_tokens=5)
    assert len(run.generated) == 5 and run.attention.shape == (2, 4, 7, 7)
    np.testing.assert_array_equal(view.record.to_numpy(), run.attention.to_numpy())
    text = "the" + "".join(run.generated[:-1])
    assert labels(page) == drawn(text)
    assert_pixels_match(page, eager(lens.model, lens.tokenizer, text)[0], head=1)
    assert page.locator(".attnwidgets-text").input_value() == run.text
    assert page.locator(".attnwidgets-live-status").text_content() == "generated 5 new tokens"
    assert page.errors == []


def test_views_without_a_model_have_no_text_box(page):
    view = aw.AttentionView(np.full((1, 2, 3, 3), 1 / 3, np.float32), ["a", "b", "c"])
    KernelBridge(page, view)
    assert not page.locator(".attnwidgets-live").is_visible()
    assert page.locator(".attnwidgets-heatmap").is_visible()
    assert page.errors == []


def test_without_an_answer_the_box_says_the_kernel_is_silent(make_page):
    page = make_page(fake_clock=True)  # an exported page: nobody answers
    _, view = live_view("abc")
    KernelBridge(page, view)
    box = page.locator(".attnwidgets-text")
    box.fill("abcd")
    box.press("Enter")
    status = page.locator(".attnwidgets-live-status")
    assert status.text_content() == "running the model…"
    assert page.evaluate("window.model.sent.map((m) => [m.type, m.text])") == [["run_text", "abcd"]]
    assert page.locator(".attnwidgets-generate").is_disabled()
    page.clock.run_for(16000)
    assert "no reply from the kernel yet" in status.text_content()
    assert labels(page) == ["a", "b", "c"]
    assert page.errors == []
