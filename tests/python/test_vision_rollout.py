"""``aw.rollout`` against a hand computation written with explicit loops (Abnar & Zuidema)."""

from __future__ import annotations

import numpy as np
import pytest
from vision_cases import CASES, photo

import attnwidgets as aw
from attnwidgets.records import AttentionRecord
from attnwidgets.vision_records import VisionInfo
from attnwidgets.vision_rollout import rollout_matrix, rollout_rows


def _random_attention(layers: int, heads: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    weights = rng.random((layers, heads, n, n)) ** 3
    return (weights / weights.sum(-1, keepdims=True)).astype(np.float32)


def _by_hand(attention: np.ndarray, fusion: str, discard: float, protect: int | None) -> list:
    """Plain Python: fuse heads, drop each row's lowest, add I, renormalise, multiply."""
    layers, heads, n, _ = attention.shape
    result = [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]
    for layer in range(layers):
        fused = [[0.0] * n for _ in range(n)]
        for i in range(n):
            for j in range(n):
                values = [float(attention[layer, h, i, j]) for h in range(heads)]
                if fusion == "mean":
                    fused[i][j] = sum(values) / heads
                elif fusion == "max":
                    fused[i][j] = max(values)
                else:
                    fused[i][j] = min(values)
        drop = int(n * discard)
        for i in range(n):
            candidates = sorted((fused[i][j], j) for j in range(n) if j != protect)
            for _, j in candidates[:drop]:
                fused[i][j] = 0.0
        mixed = [[fused[i][j] + (1.0 if i == j else 0.0) for j in range(n)] for i in range(n)]
        for i in range(n):
            total = sum(mixed[i])
            mixed[i] = [v / total for v in mixed[i]]
        result = [
            [sum(mixed[i][m] * result[m][j] for m in range(n)) for j in range(n)] for i in range(n)
        ]
    return result


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
@pytest.mark.parametrize("discard", [0.0, 0.5, 0.9])
def test_rollout_of_the_cls_row_matches_the_hand_computation(fusion, discard):
    info = VisionInfo.build("deit", None, (2, 3), (8, 8), ["[CLS]", "[DIST]"])
    attention = _random_attention(3, 4, 8, seed=len(fusion) + int(10 * discard))
    record = AttentionRecord.from_array(attention)
    rolled = aw.rollout(record, head_fusion=fusion, discard_ratio=discard, info=info)
    expected = _by_hand(attention, fusion, discard, protect=0)
    assert rolled.shape == (2, 3)
    assert np.allclose(rolled.ravel(), expected[0][2:], atol=1e-6)  # [CLS] row, patch columns


def test_rollout_without_cls_is_the_mean_of_the_patch_rows():
    info = VisionInfo.build("siglip", None, (2, 2), (8, 8))
    attention = _random_attention(2, 2, 4, seed=7)
    rolled = aw.rollout(attention, discard_ratio=0.25, info=info)
    expected = _by_hand(attention, "mean", 0.25, protect=None)
    mean_row = [sum(expected[i][j] for i in range(4)) / 4 for j in range(4)]
    assert np.allclose(rolled.ravel(), mean_row, atol=1e-6)


def test_rollout_of_a_vision_run_uses_its_layers_and_layout():
    case = CASES["dinov2-registers"]
    run = aw.wrap(case.build(), case.processor((32, 48)))(photo())
    rolled = aw.rollout(run, head_fusion="max")
    expected = _by_hand(run.attention.to_numpy().astype(np.float64), "max", 0.0, protect=0)
    assert rolled.shape == run.patch_grid
    assert np.allclose(rolled.ravel(), expected[0][5:], atol=1e-5)  # after [CLS] + 4 registers


def test_rollout_refuses_layers_of_different_swin_stages():
    case = CASES["swin"]
    run = aw.wrap(case.build(), case.processor((32, 32)))(photo())
    with pytest.raises(ValueError, match="Swin merges patches between stages"):
        aw.rollout(run)
    assert aw.rollout(run, layers=[2, 3]).shape == run.vision.grid_of(2)


def test_rollout_needs_a_layout_and_a_sane_ratio():
    attention = _random_attention(1, 1, 5, seed=1)
    with pytest.raises(TypeError, match="needs a vision run"):
        aw.rollout(attention)
    info = VisionInfo.build("vit", None, (2, 2), (8, 8), ["[CLS]"])
    with pytest.raises(ValueError, match=r"discard_ratio must be in \[0, 1\)"):
        aw.rollout(attention, discard_ratio=1.0, info=info)


@pytest.mark.parametrize(("fusion", "discard", "before"), [("mean", 0.0, ["[CLS]"]),
                                                          ("max", 0.5, ["[CLS]"]),
                                                          ("min", 0.2, [])])  # fmt: skip
def test_the_row_chain_equals_the_full_product_at_1370_tokens(fusion, discard, before):
    """DINOv2 at 518 px: 37 x 37 patches + [CLS]. rollout() multiplies only the asked row
    through the layers; the full N x N product (rollout_matrix) gives the same map."""
    grid = (37, 37)
    n = len(before) + grid[0] * grid[1]
    attention = _random_attention(3, 2, n, seed=n + len(fusion))
    info = VisionInfo.build("dinov2", None, grid, (14, 14), before)
    fast = aw.rollout(attention, head_fusion=fusion, discard_ratio=discard, info=info)
    matrix = rollout_matrix(list(attention), fusion, discard, [0] if before else [])
    full = matrix[0, 1:] if before else matrix.astype(np.float64).mean(axis=0)
    assert fast.shape == grid
    assert np.allclose(fast.ravel(), full, rtol=1e-5, atol=1e-9)
    if not before:  # the mean of rows that each sum to 1
        assert np.isclose(fast.sum(), 1.0, atol=1e-5)


def test_rollout_rows_of_several_rows_are_those_rows_of_the_matrix():
    attention = _random_attention(4, 3, 9, seed=3)
    matrix = rollout_matrix(list(attention), "mean", 0.3, [0])
    picks = np.eye(9)[[0, 4, 8]]
    rows = rollout_rows(list(attention), picks, "mean", 0.3, [0])
    assert np.allclose(rows, matrix[[0, 4, 8]], atol=1e-6)
    with pytest.raises(ValueError, match="weights have 8 positions, the layers 9"):
        rollout_rows(list(attention), np.ones(8), "mean")
