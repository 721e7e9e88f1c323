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
    _check_ratio(discard_ratio)
    result: Any = None
    for index, layer in enumerate(layers):
        mixed = _mixed(layer, index, head_fusion, discard_ratio, keep, result)
        result = mixed if result is None else mixed @ result
    if result is None:
        raise ValueError("rollout needs at least one layer")
    rolled: FloatArray = result.astype(np.float32)
    return rolled


def rollout_rows(
    layers: Sequence[Any],
    weights: Any,
    head_fusion: HeadFusion = "mean",
    discard_ratio: float = 0.0,
    keep: Sequence[int] = (0,),
) -> FloatArray:
    """``weights @ rollout_matrix(layers, ...)`` without forming the product of matrices.

    ``weights`` is ``[N]`` (e.g. one-hot on [CLS]) or ``[k, N]``: the rows of the rolled-out
    matrix to combine. Since the matrix is ``A_L @ ... @ A_1``, ``w @ A_L @ ... @ A_1`` is a
    chain of vector-matrix products taken from the last layer down: ``O(L N^2)`` instead of
    ``O(L N^3)``. The same per-layer matrices, multiplied in another order: equal to the
    full product up to float64 rounding.

    Example:
        >>> layers = [np.full((1, 2, 2), 0.5, np.float32), np.eye(2, dtype=np.float32)[None]]
        >>> rollout_rows(layers, [1.0, 0.0]).tolist()
        [0.75, 0.25]
    """
    _check_ratio(discard_ratio)
    vector = np.asarray(weights, dtype=np.float64)
    if not len(layers):
        raise ValueError("rollout needs at least one layer")
    last: Any = None
    for index in reversed(range(len(layers))):  # w @ A_L first, then @ A_(L-1) ... @ A_1
        mixed = _mixed(layers[index], index, head_fusion, discard_ratio, keep, last)
        if vector.shape[-1] != mixed.shape[0]:
            raise ValueError(
                f"weights have {vector.shape[-1]} positions, the layers {mixed.shape[0]}"
            )
        vector, last = vector @ mixed, mixed
    rows: FloatArray = vector.astype(np.float32)
    return rows


def _check_ratio(discard_ratio: float) -> None:
    if not 0.0 <= discard_ratio < 1.0:
        raise ValueError(f"discard_ratio must be in [0, 1), not {discard_ratio}")


def _mixed(
    layer: Any,
    index: int,
    head_fusion: HeadFusion,
    discard_ratio: float,
    keep: Sequence[int],
    before: Any,
) -> Any:
    """One layer's rollout step, float64 ``[N, N]``: heads fused, each row's lowest weights
    dropped, the identity added, rows renormalised."""
    weights = np.asarray(layer)
    if weights.ndim != 3 or weights.shape[1] != weights.shape[2]:
        raise ValueError(
            f"rollout needs square self-attention [heads, N, N]; layer {index} is {weights.shape}"
        )
    fused = fuse_heads(weights, head_fusion).astype(np.float64)  # heads fused in float32
    n = fused.shape[0]
    if before is not None and before.shape[0] != n:
        raise ValueError(
            f"layer {index} has {n} positions, the other layers {before.shape[0]}: "
            "rollout multiplies layers over the same tokens (Swin merges patches between "
            "stages: give the layers of one stage)"
        )
    drop = int(n * discard_ratio)
    if drop:
        fused = _discard_lowest(fused, drop, keep)
    fused[np.diag_indices(n)] += 1.0
    fused /= fused.sum(axis=-1, keepdims=True)
    return fused


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
    positions = info.positions_of(chosen[0])
    specials = [i for i, p in enumerate(positions) if p is None]
    keep = [specials[0]] if specials else []
    # only one row is asked for: [CLS]'s, or the mean of the patch rows (rollout_rows)
    weights = np.zeros(len(positions), np.float64)
    if specials:
        weights[specials[0]] = 1.0
    else:
        patches = [i for i, p in enumerate(positions) if p is not None]
        weights[patches] = 1.0 / len(patches)
    row = rollout_rows([stack[i] for i in chosen], weights, head_fusion, discard_ratio, keep)
    return info.to_map(row, chosen[0] if info.layer_grids else None)
