"""Attention rollout (Abnar & Zuidema, 2020) over a vision run's layers (numpy only)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from .records import AttentionRecord
from .vision_records import FloatArray, VisionInfo, fuse_heads

HeadFusion = Literal["mean", "max", "min"]


def rollout_matrix(
    layers: Sequence[Any],
    head_fusion: HeadFusion = "mean",
    discard_ratio: float = 0.0,
    keep: Sequence[int] = (0,),
) -> FloatArray:
    """The rolled-out ``[N, N]`` matrix of ``layers`` (each ``[heads, N, N]``), first to last.

    Per layer: heads fused (``mean``/``max``/``min``); in each row the ``int(N *
    discard_ratio)`` lowest weights set to 0, never in the ``keep`` columns (the [CLS]
    column); the identity added for the residual; rows renormalised to sum 1. The product
    is ``A_L @ ... @ A_1``: row ``i`` says how much each input position reaches position
    ``i`` after the last layer.

    Example:
        >>> rollout_matrix([np.full((1, 2, 2), 0.5, np.float32)]).tolist()
        [[0.75, 0.25], [0.25, 0.75]]
    """
    if not 0.0 <= discard_ratio < 1.0:
        raise ValueError(f"discard_ratio must be in [0, 1), not {discard_ratio}")
    result: Any = None
    for index, layer in enumerate(layers):
        weights = np.asarray(layer, dtype=np.float64)
        if weights.ndim != 3 or weights.shape[1] != weights.shape[2]:
            raise ValueError(
                f"rollout needs square self-attention [heads, N, N]; layer {index} is "
                f"{weights.shape}"
            )
        fused = fuse_heads(weights, head_fusion).astype(np.float64)
        n = fused.shape[0]
        if result is not None and result.shape[0] != n:
            raise ValueError(
                f"layer {index} has {n} positions, the layers before it {result.shape[0]}: "
                "rollout multiplies layers over the same tokens (Swin merges patches between "
                "stages: give the layers of one stage)"
            )
        drop = int(n * discard_ratio)
        if drop:
            fused = _discard_lowest(fused, drop, keep)
        mixed = fused + np.eye(n)
        mixed /= mixed.sum(axis=-1, keepdims=True)
        result = mixed if result is None else mixed @ result
    if result is None:
        raise ValueError("rollout needs at least one layer")
    rolled: FloatArray = result.astype(np.float32)
    return rolled


def _discard_lowest(fused: Any, drop: int, keep: Sequence[int]) -> Any:
    """Zero the ``drop`` lowest weights of each row, never in the ``keep`` columns."""
    n = fused.shape[1]
    protected = np.zeros(n, bool)
    protected[list(keep)] = True
    ranked = np.where(protected, np.inf, fused)  # protected columns sort last
    lowest = np.argsort(ranked, axis=-1, kind="stable")[:, : min(drop, n - int(protected.sum()))]
    out = fused.copy()
    np.put_along_axis(out, lowest, 0.0, axis=-1)
    return out


def rollout(
    run: Any,
    head_fusion: HeadFusion = "mean",
    discard_ratio: float = 0.0,
    *,
    info: VisionInfo | None = None,
    layers: Sequence[int] | None = None,
) -> FloatArray:
    """Attention rollout as a ``[rows, cols]`` map over the image.

    ``run``: a vision Run (``lens(image)``), or an ``AttentionRecord`` / ``[layers, heads, N,
    N]`` array with ``info=`` (a ``VisionInfo``). The map is the [CLS] row of the rolled-out
    matrix over the patches; without a [CLS] (SigLIP) the mean of the patch rows. Unlike the
    widely copied vit-explain code, the discard is per row (it flattens the whole matrix) and
    rows are renormalised (it divides by column sums); the map is not rescaled to max 1.

    Example:
        >>> import numpy as np
        >>> info = VisionInfo.build("vit", None, (1, 2), (4, 4), ["[CLS]"])
        >>> record = AttentionRecord.from_array(np.eye(3, dtype=np.float32)[None, None])
        >>> rollout(record, info=info).tolist()  # identity attention: CLS keeps to itself
        [[0.0, 0.0]]
    """
    if info is None:
        info = getattr(run, "vision", None)
        if info is None:
            raise TypeError(
                "rollout needs a vision run (lens(image)) or info=VisionInfo for "
                f"{type(run).__name__}"
            )
    record = run.attention if hasattr(run, "attention") else run
    if isinstance(record, AttentionRecord):
        stack: Sequence[Any] = list(record)
    else:
        array = np.asarray(record, dtype=np.float32)
        if array.ndim != 4:
            raise ValueError(f"attention has shape {array.shape}; expected [layers, heads, N, N]")
        stack = list(array)
    chosen = range(len(stack)) if layers is None else layers
    if info.layer_grids and len({info.grid_of(i) for i in chosen}) > 1:
        raise ValueError(
            "rollout multiplies layers over the same tokens; Swin merges patches between "
            "stages: pass layers= of one stage"
        )
    specials = [i for i, p in enumerate(info.positions_of(chosen[0])) if p is None]
    keep = [specials[0]] if specials else []
    matrix = rollout_matrix([stack[i] for i in chosen], head_fusion, discard_ratio, keep)
    row = matrix[specials[0]] if specials else _mean_patch_row(matrix, info, chosen[0])
    return info.to_map(row, chosen[0] if info.layer_grids else None)


def _mean_patch_row(matrix: FloatArray, info: VisionInfo, layer: int) -> FloatArray:
    patches = [i for i, p in enumerate(info.positions_of(layer)) if p is not None]
    mean: FloatArray = matrix[patches].mean(axis=0)
    return mean
