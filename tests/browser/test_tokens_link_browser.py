"""The hover linked between a TokenizerView and an AttentionView in Chromium, both REAL widgets
in this process (tokens_harness), their ``hover_token`` traits tied in the page as
``ipywidgets.jslink`` ties them: a token hovered in the text marks the attention view's query
and key labels and bands; the pointer on a heatmap row marks the token in the text."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import open_page
from tokens_harness import Bridge, pixel, ready, tokens_server

import attnwidgets as aw

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
import tokenizer_cases as cases

BUNDLE = "tokenizer_view.js"
LABEL_LINKED_RGB = (255, 138, 101)


@pytest.fixture(scope="module")
def server(bundle: Any) -> Iterator[str]:
    with tokens_server() as url:
        yield url


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    tab = open_page(browser, server)
    yield tab
    assert not tab.errors, tab.errors
    tab.close()


def test_hover_is_linked_to_the_attention_views_labels(page: Any) -> None:
    text = "The cat sat on the mat"
    tokens = aw.TokenizerView(cases.minilm(), text)
    labels = tokens.spans[0].pieces
    n = len(labels)
    weights = np.random.default_rng(1).random((2, 2, n, n)).astype(np.float32)
    attention = aw.AttentionView(weights / weights.sum(-1, keepdims=True), labels)
    Bridge(page, tokens, BUNDLE, "tok")
    Bridge(page, attention, "attention_view.js", "att", width=600)
    ready(page, "tok")
    page.wait_for_function(
        "document.querySelector('#att .attnwidgets-attention')?.dataset.state === 'ready'"
    )
    page.evaluate("harness.link('tok', 'att', 'hover_token')")
    cat = labels.index("cat")
    page.hover(f"#tok .attnwidgets-tok-body [data-t='{cat}']")
    page.wait_for_function(f"window.models.tok.get('hover_token') === {cat}")  # after a frame
    att = page.locator("#att .attnwidgets-attention")
    assert att.get_attribute("data-hover-token") == str(cat)
    label = page.locator("#att .attnwidgets-qlabel").nth(cat)
    assert "attnwidgets-label-linked" in (label.get_attribute("class") or "")
    assert label.inner_text() == "cat"
    box = label.bounding_box()
    got = pixel(page, box["x"] + box["width"] - 2, box["y"] + 1)  # under the band's 18% tint
    assert max(abs(a - b) for a, b in zip(got, LABEL_LINKED_RGB, strict=True)) <= 3, got
    key = page.locator("#att .attnwidgets-klabel").nth(cat)
    assert "attnwidgets-label-linked" in (key.get_attribute("class") or "")
    assert (
        page.locator("#att .attnwidgets-linked-band").evaluate_all(
            "(b) => b.filter((e) => !e.hidden).length"
        )
        == 2
    )
    # and back: the pointer on the heatmap's row of "mat" marks "mat" in the text
    mat = labels.index("mat")
    page.locator("#att canvas.attnwidgets-heatmap").scroll_into_view_if_needed()
    heat = page.locator("#att canvas.attnwidgets-heatmap").bounding_box()
    page.mouse.move(heat["x"] + 3, heat["y"] + (mat + 0.5) * heat["height"] / n)
    span = page.locator(f"#tok .attnwidgets-tok-body [data-t='{mat}']")
    assert "attnwidgets-tok-hover" in (span.get_attribute("class") or "")
    assert page.locator("#tok .attnwidgets-tokens").get_attribute("data-hover") == f"0:{mat}"
