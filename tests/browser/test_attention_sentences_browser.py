"""bertviz's sentence_b_start in Chromium: the sentence select restricts the query rows and
key columns drawn (labels and pixels), and the overview follows (a REAL view in this process)."""

from __future__ import annotations

from typing import Any

import numpy as np
from kernel_bridge import KernelBridge
from test_attention_view_browser import HEATMAP_CELL

from attnwidgets.bertviz import head_view, model_view

TOKENS = ["[CLS]", "the", "cat", "[SEP]", "a", "dog", "[SEP]"]
B = 4  # sentence B starts at "a"


def pattern() -> np.ndarray:
    """One head where each query attends to one key: A -> A tokens look at the token before
    (or themselves), B -> A tokens at [CLS]; a bright cell therefore marks exactly one key."""
    n = len(TOKENS)
    head = np.zeros((n, n), np.float32)
    for q in range(n):
        head[q, max(0, q - 1) if q < B else 0] = 1.0
    return head[None, None]  # [layers=1, heads=1, q, k]


def bright(rgba: list[int]) -> bool:
    return rgba[0] > 200 and rgba[1] > 200


def labels(page: Any, kind: str) -> list[str]:
    return page.locator(f".attnwidgets-{kind}").all_text_contents()


def test_sentence_select_restricts_rows_and_columns(page):
    box = head_view(pattern(), TOKENS, sentence_b_start=B, html_action="return")
    view = box.children[1]
    bridge = KernelBridge(page, view)
    select = page.locator(".attnwidgets-sentence")
    assert select.is_visible()
    assert select.locator("option").all_text_contents() == [
        "All", "Sentence A → Sentence A", "Sentence B → Sentence B",
        "Sentence A → Sentence B", "Sentence B → Sentence A"]  # fmt: skip
    assert labels(page, "qlabel") == TOKENS

    select.select_option("B->A")
    bridge.pump()
    assert view.sentence_filter == "B->A"  # saved to the kernel
    assert labels(page, "qlabel") == TOKENS[B:]
    assert labels(page, "klabel") == TOKENS[:B]
    assert "Sentence B → Sentence A" in page.locator(".attnwidgets-title").text_content()
    for q in range(B, len(TOKENS)):
        for k in range(B):
            assert bright(page.evaluate(HEATMAP_CELL, [q, k])) == (k == 0), (q, k)

    select.select_option("A->A")
    bridge.pump()
    assert labels(page, "qlabel") == TOKENS[:B] == labels(page, "klabel")
    for q in range(B):
        for k in range(B):
            assert bright(page.evaluate(HEATMAP_CELL, [q, k])) == (k == max(0, q - 1)), (q, k)
    # the cells keep their aspect: 4 x 4 tokens drawn square
    size = page.evaluate("(() => { const c = document.querySelector('.attnwidgets-heatmap');"
                         " return [c.clientWidth, c.clientHeight]; })()")  # fmt: skip
    assert abs(size[0] - size[1]) <= 1

    select.select_option("A->B")  # A never looks at B: an all-dark block
    bridge.pump()
    assert labels(page, "qlabel") == TOKENS[:B] and labels(page, "klabel") == TOKENS[B:]
    a_to_b = [(q, k) for q in range(B) for k in range(B, 7)]
    assert not any(bright(page.evaluate(HEATMAP_CELL, cell)) for cell in a_to_b)

    select.select_option("all")
    bridge.pump()
    assert labels(page, "qlabel") == TOKENS and labels(page, "klabel") == TOKENS
    assert page.errors == []


def test_model_view_thumbnails_follow_the_sentence_pair(page):
    box = model_view(pattern(), TOKENS, sentence_b_start=B, html_action="return")
    view = box.children[1]
    bridge = KernelBridge(page, view)
    assert view.thumbnails["shape"] == [1, 1, 7, 7]
    page.locator(".attnwidgets-sentence").select_option("B->A")
    bridge.pump()
    assert view.thumbnails["shape"] == [1, 1, 3, 4]
    assert view.thumbnails["region"] == [B, 7, 0, B]
    assert list(view.thumbnails["value"]) == [255, 0, 0, 0] * 3  # every B query on [CLS]
    thumbs = page.locator("canvas.attnwidgets-thumbnails")
    assert thumbs.is_visible()
    ratio = page.evaluate(
        "(() => { const c = document.querySelector('canvas.attnwidgets-thumbnails');"
        " return c.width / c.height; })()"
    )
    assert ratio > 1  # 4 keys wide, 3 queries tall
    assert page.errors == []


def test_sentence_b_start_without_a_split_shows_no_select(page):
    box = head_view(pattern(), TOKENS, html_action="return")
    KernelBridge(page, box.children[1])
    assert not page.locator(".attnwidgets-sentence").is_visible()
    assert page.errors == []
