"""Sliding-window layers in the attention heatmap, in Chromium: the band edge drawn along the
cell borders of the model's own window (pixels), "window 4" in the title, nothing on a global
layer. A real AttentionView of a tiny Gemma 2 (windows of 4 on layer 0) through kernel_bridge."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from kernel_bridge import KernelBridge
from test_attention_live_browser import viridis
from test_attention_view_browser import HEATMAP_CELL

import attnwidgets as aw

EDGE = (230, 30, 30)  # js/attention/window_edge.js EDGE_RGB
TOKENS = 12

# RGBA of the canvas pixels left and right of the border before key column `col`, at row `row`.
BORDER = """([row, col]) => {
  const c = document.querySelector(".attnwidgets-heatmap");
  const n = window.model.get("key_tokens").length;
  const x = (col * c.width) / n;
  const y = Math.floor(((row + 0.5) * c.height) / n);
  const ctx = c.getContext("2d");
  return [Math.floor(x) - 1, Math.floor(x)].map(
    (px) => Array.from(ctx.getImageData(px, y, 1, 1).data));
}"""


def gemma2_view() -> tuple[aw.AttentionView, Any]:
    from transformers import Gemma2Config, Gemma2ForCausalLM

    config = Gemma2Config(
        num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, head_dim=8,
        hidden_size=16, intermediate_size=32, vocab_size=64, max_position_embeddings=64,
        sliding_window=4, bos_token_id=0, eos_token_id=0, pad_token_id=0,
    )  # fmt: skip
    torch.manual_seed(0)
    model = Gemma2ForCausalLM(config).eval()
    run = aw.wrap(model, norms=False)(input_ids=torch.arange(1, TOKENS + 1)[None])
    return aw.AttentionView(run, live=None), run


def is_edge(rgba: list[int]) -> bool:
    return max(abs(a - b) for a, b in zip(rgba[:3], EDGE, strict=True)) <= 40


def test_the_window_edge_is_drawn_along_the_band(page: Any) -> None:
    view, run = gemma2_view()
    assert view.windows == [[-3, 0], []]
    KernelBridge(page, view)
    title = page.locator(".attnwidgets-title").first.text_content()
    assert "· window 4" in title
    # the band: query q sees keys q-3..q (the model's own probabilities say so); the edge is
    # the border before key q-3
    offsets = np.arange(TOKENS)[None, :] - np.arange(TOKENS)[:, None]
    assert np.array_equal(run.attention[0][0] > 0, (offsets >= -3) & (offsets <= 0))
    for row in range(3, TOKENS):
        left, right = page.evaluate(BORDER, [row, row - 3])
        assert is_edge(left) or is_edge(right), (row, left, right)
    # every cell keeps its own colour (the line runs along borders, not through cells)
    values = run.attention[0]
    top = float(values.max())
    for row in range(TOKENS):
        for col in range(TOKENS):
            rgba = page.evaluate(HEATMAP_CELL, [row, col])
            expected = viridis(float(values[0, row, col]) / top)
            assert max(abs(a - b) for a, b in zip(rgba[:3], expected, strict=True)) <= 6
    # a border that is no window edge stays unmarked
    assert not any(is_edge(px) for px in page.evaluate(BORDER, [8, 2]))


def test_a_global_layer_has_no_edge_and_no_window_title(page: Any) -> None:
    view, _ = gemma2_view()
    bridge = KernelBridge(page, view)
    view.layer = 1
    bridge.pump()
    title = page.locator(".attnwidgets-title").first.text_content()
    assert title.startswith("layer 1") and "window" not in title
    for row in range(3, TOKENS):
        assert not any(is_edge(px) for px in page.evaluate(BORDER, [row, row - 3]))
