"""Swin's windowed attention mapped back to image coordinates (issue 15).

The reference never cuts windows: it computes attention between every pair of positions of the
stage's (padded) grid from the block's own input and weights, adds the relative position bias
read by coordinates, and lets two positions see each other only when they share a window under
the shift, by the rule ``floor((r - shift) / window)`` equal on both axes (the cyclic shift plus
its mask, written without a roll). Our dense ``[heads, N, N]`` must equal it where both are
defined (pairs the mask kept apart get ~exp(-100) in Swin and 0 here).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from vision_cases import CASES, photo

import attnwidgets as aw
from attnwidgets.vision_records import WindowLayout


def _full_grid_attention(layer, hidden: torch.Tensor, dims: tuple[int, int]) -> np.ndarray:
    height, width = dims
    window, shift = int(layer.window_size), int(layer.shift_size)
    attention = layer.attention
    heads, head_dim = attention.num_attention_heads, attention.head_dim
    x = layer.layernorm_before(hidden[:1]).view(1, height, width, -1)
    padded_h, padded_w = -(-height // window) * window, -(-width // window) * window
    x = torch.nn.functional.pad(x, (0, 0, 0, padded_w - width, 0, padded_h - height))
    x = x.reshape(padded_h * padded_w, -1)
    q = attention.q_proj(x).view(-1, heads, head_dim).transpose(0, 1)
    k = attention.k_proj(x).view(-1, heads, head_dim).transpose(0, 1)
    scores = q @ k.transpose(1, 2) * attention.scaling
    r = torch.arange(padded_h).repeat_interleave(padded_w)
    c = torch.arange(padded_w).repeat(padded_h)
    table = attention.relative_position_bias.relative_position_bias_table
    d_r, d_c = r[:, None] - r[None, :], c[:, None] - c[None, :]
    near = (d_r.abs() < window) & (d_c.abs() < window)
    index = ((d_r + window - 1) * (2 * window - 1) + d_c + window - 1).clamp(0, len(table) - 1)
    scores = scores + table[index].permute(2, 0, 1)
    group_r = torch.div(r - shift, window, rounding_mode="floor")
    group_c = torch.div(c - shift, window, rounding_mode="floor")
    same = (group_r[:, None] == group_r[None, :]) & (group_c[:, None] == group_c[None, :])
    assert bool((near | ~same).all())
    probabilities = torch.softmax(scores.masked_fill(~same, float("-inf")), dim=-1)
    real = (r < height) & (c < width)
    return probabilities[:, real][:, :, real].detach().numpy()


@pytest.mark.parametrize(
    ("size", "padded"),
    [((32, 48), False), ((20, 36), True)],  # 16x24 / 8x12 grids; 10x18 / 5x9 need padding
)
def test_swin_layers_equal_attention_over_the_whole_grid(size, padded):
    case = CASES["swin"]
    model = case.build()
    run = aw.wrap(model, case.processor(size))(photo())
    blocks = [m for m in model.modules() if type(m).__name__ == "SwinLayer"]
    seen: list[tuple[torch.Tensor, tuple[int, int]]] = []
    handles = [
        b.register_forward_pre_hook(lambda _m, args: seen.append((args[0], tuple(args[1]))))
        for b in blocks
    ]
    try:
        with torch.no_grad():
            model(**run.inputs)
    finally:
        for handle in handles:
            handle.remove()
    assert [layout.shift for layout in run.vision.windows] == [0, 2, 0, 2]
    grids = [layout.grid for layout in run.vision.windows]
    assert any(g[0] % 4 or g[1] % 4 for g in grids) == padded
    with torch.no_grad():
        for index, (block, (hidden, dims)) in enumerate(zip(blocks, seen, strict=True)):
            assert run.vision.grid_of(index) == dims
            reference = _full_grid_attention(block, hidden, dims)
            assert np.abs(run.attention[index] - reference).max() <= 1e-5, index
    cells = [run.vision.cell_of(i) for i in range(4)]
    assert cells == [(2, 2), (2, 2), (4, 4), (4, 4)]
    assert run.vision.tokens_of(2)[:2] == ["(0, 0)", "(0, 1)"]


def test_window_layout_of_a_shifted_padded_grid_by_hand():
    """Grid 3x5, window 2, shift 1: padded to 4x6, rolled up-left by one, cut into 2x2."""
    index = WindowLayout(grid=(3, 5), window=2, shift=1).index
    flat = {(r, c): r * 5 + c for r in range(3) for c in range(5)}
    expected = []
    for wr in range(2):
        for wc in range(3):
            cells = []
            for i in range(2):
                for j in range(2):
                    r, c = (wr * 2 + i + 1) % 4, (wc * 2 + j + 1) % 6
                    cells.append(flat.get((r, c), -1))
            expected.append(cells)
    assert index.tolist() == expected
    assert index[0].tolist() == [6, 7, 11, 12]  # (1, 1) (1, 2) (2, 1) (2, 2)
    assert index[5].tolist() == [-1, -1, -1, 0]  # (3, 5) (3, 0) (0, 5) padding, then (0, 0)
    assert index[3].tolist() == [-1, -1, 1, 2]  # (3, 1) (3, 2) padding, then (0, 1) (0, 2)


def test_a_query_s_map_lights_only_its_window():
    case = CASES["swin"]
    run = aw.wrap(case.build(), case.processor((32, 32)))(photo())
    layout = run.vision.windows[1]  # shifted: windows straddle the wrap-around
    query = 0  # (0, 0): rolled into the corner window with rows and columns 14-15
    grid_map = run.vision.query_map(run.attention[1], query, head="mean", layer=1)
    lit = {tuple(int(v) for v in p) for p in np.argwhere(grid_map > 1e-6)}
    window = next(w for w in layout.index if query in w)
    assert lit <= {divmod(int(i), 16) for i in window if i >= 0}
    assert lit == {(0, 0), (0, 1), (1, 0), (1, 1)}  # the mask keeps it from rows/cols 14-15
    assert grid_map.sum() == pytest.approx(1.0, abs=1e-5)
