"""The built RowView bundle in Chromium, talking to a REAL RowView of a Q/K record
(``aw.capture(model, attention="qk")``) in this process: the bars drawn are the row of
transformers' own eager attention (pixels, per canvas column), the top-k keys are listed with
their text as text (a hostile token stays text), and a query typed in the page is answered by
the kernel with that query's row."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from conftest import open_page
from kernel_bridge import KernelBridge
from page_server import serve_page

import attnwidgets as aw

TOKENS = 1500
PLOT_H, MARK_H = 140, 6

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head>
<body style="margin: 20px; font-family: sans-serif">
<script type="module">
import { createHarness } from "/fake_model.js";

window.harness = {
  ...createHarness({ bundle: "row_view.js", tick: "timeout", replace: true }),
  // Per canvas column: how many pixels from the bottom of the plot are the bar colour, and
  // whether the top pixel holds the top-k mark.
  columns() {
    const c = document.querySelector(".attnwidgets-row-canvas");
    const data = c.getContext("2d").getImageData(0, 0, c.width, 140).data;
    const heights = [];
    const marks = [];
    for (let x = 0; x < c.width; x++) {
      let h = 0;
      for (let y = 139; y >= 0; y--) {
        const i = (y * c.width + x) * 4;
        if (data[i] === 31 && data[i + 1] === 119 && data[i + 2] === 180) h++;
        else break;
      }
      heights.push(h);
      marks.push(data[x * 4] === 214 && data[x * 4 + 1] === 39 && data[x * 4 + 2] === 40);
    }
    return { heights, marks, width: c.width };
  },
};
window.harnessReady = true;
</script>
</body></html>
"""


@pytest.fixture(scope="module")
def row_server(bundle: Any) -> Iterator[str]:
    with serve_page(PAGE) as url:
        yield url


@pytest.fixture
def row_page(browser: Any, row_server: str) -> Iterator[Any]:
    page = open_page(browser, row_server)
    yield page
    assert page.errors == []
    page.close()


@pytest.fixture(scope="module")
def captured() -> tuple[aw.QKRecord, np.ndarray, list[str]]:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, hidden_size=32,
        intermediate_size=64, vocab_size=64, max_position_embeddings=TOKENS,
    )  # fmt: skip
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        model.model.layers[1].self_attn.q_proj.weight.mul_(8)
    ids = torch.randint(1, 64, (1, TOKENS), generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), aw.capture(model, attention="qk") as cap:
        model(input_ids=ids)
    model.set_attn_implementation("eager")
    with torch.no_grad():
        eager = model(input_ids=ids, output_attentions=True).attentions[1][0].numpy()
    tokens = [f"t{i}" for i in range(TOKENS)]
    return cap.qk, eager, tokens


def expected_heights(row: np.ndarray, width: int) -> np.ndarray:
    """What each canvas column should show: the max of its keys, scaled to the row's max."""
    n = len(row)
    out = []
    for x in range(width):
        k0 = x * n // width
        k1 = max(k0 + 1, (x + 1) * n // width)
        out.append(row[k0:k1].max())
    return np.rint(np.array(out) / row.max() * (PLOT_H - MARK_H - 1))


def test_the_row_is_drawn_from_the_eager_row_and_top_keys_listed(
    row_page: Any, captured: Any
) -> None:
    record, eager, tokens = captured
    query = TOKENS - 1
    best = int(np.argmax(eager[2, query]))
    tokens = list(tokens)
    tokens[best] = "<img src=x onerror=alert(1)>needle"
    view = aw.RowView(record, tokens, layer=1, head=2, query=query, top_k=5)
    KernelBridge(row_page, view)
    root = row_page.locator(".attnwidgets-row")
    assert root.get_attribute("data-state") == "ready"
    assert root.get_attribute("data-query") == str(query)
    drawn = row_page.evaluate("harness.columns()")
    want = expected_heights(eager[2, query], drawn["width"])
    assert np.abs(np.array(drawn["heights"]) - want).max() <= 1
    items = row_page.locator(".attnwidgets-row-top li")
    assert items.count() == 5
    first = items.nth(0).text_content()
    assert first == f"key {best} · {eager[2, query, best]:.4f} · <img src=x onerror=alert(1)>needle"
    assert row_page.locator(".attnwidgets-row-top img").count() == 0
    order = np.argsort(-eager[2, query], kind="stable")[:5]
    keys = [int(items.nth(i).get_attribute("data-key")) for i in range(5)]
    np.testing.assert_allclose(eager[2, query, keys], eager[2, query, order], atol=1e-6)
    for key in keys:  # a mark above each top key's column
        assert drawn["marks"][key * drawn["width"] // TOKENS]


def test_a_query_typed_in_the_page_is_answered_by_the_kernel(row_page: Any, captured: Any) -> None:
    record, eager, tokens = captured
    view = aw.RowView(record, tokens, layer=1, head=0, top_k=3)
    assert view.query == TOKENS - 1  # the last token by default
    bridge = KernelBridge(row_page, view)
    box = row_page.locator(".attnwidgets-row-controls input").nth(2)
    box.fill("700")
    box.dispatch_event("change")
    bridge.pump()
    assert view.query == 700
    root = row_page.locator(".attnwidgets-row")
    assert root.get_attribute("data-query") == "700"
    assert '"t700"' in row_page.locator(".attnwidgets-title").text_content()
    drawn = row_page.evaluate("harness.columns()")
    want = expected_heights(eager[0, 700], drawn["width"])
    assert np.abs(np.array(drawn["heights"]) - want).max() <= 1
    # keys after the query are never seen (causal): no bar right of its column
    assert max(drawn["heights"][701 * drawn["width"] // TOKENS + 1 :]) == 0
