"""Per-head attention metrics, computed in the kernel with numpy only.

Every metric is an average over query rows of one head ``[query, key]``:

- ``entropy``: ``-sum_k p log p`` in nats (0 for a head that looks at one key).
- ``diagonal``: mass on the query's own position.
- ``previous``: mass on the position just before the query (rows with a previous position).
- ``first``: mass on key 0 (``[CLS]`` / BOS / the attention sink).
- ``separator``: mass on keys whose token is a separator or end token (``[SEP]``, ``</s>``...);
  NaN when no such token is given.
- ``distance``: ``sum_k p |q - k|``, the mean attention distance in tokens.

When there are fewer queries than keys (generation with a cache), query ``i`` sits at key
position ``i + keys - queries``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

METRIC_NAMES: tuple[str, ...] = (
    "entropy",
    "diagonal",
    "previous",
    "first",
    "separator",
    "distance",
)
SEPARATOR_TOKENS = frozenset(
    {"[SEP]", "</s>", "<|endoftext|>", "<eos>", "<|eot_id|>", "<|im_end|>", "<sep>"}
)


@dataclass(frozen=True)
class HeadMetrics:
    """``values[layer, head, metric]`` (float32) with the metric names in order."""

    values: npt.NDArray[np.float32]
    names: tuple[str, ...] = METRIC_NAMES

    def __getitem__(self, name: str) -> npt.NDArray[np.float32]:
        """One metric as ``[layers, heads]``."""
        if name not in self.names:
            raise KeyError(f"unknown head metric {name!r}; choose one of {list(self.names)}")
        column: npt.NDArray[np.float32] = self.values[:, :, self.names.index(name)]
        return column


def separator_positions(tokens: Sequence[str] | None) -> list[int]:
    """Positions of separator / end tokens (surrounding spaces ignored).

    Example:
        >>> separator_positions(["[CLS]", "hi", "[SEP]", "there", "[SEP]"])
        [2, 4]
    """
    if tokens is None:
        return []
    return [i for i, token in enumerate(tokens) if str(token).strip() in SEPARATOR_TOKENS]


def head_metrics_one(
    head: npt.ArrayLike, separators: Sequence[int] = ()
) -> npt.NDArray[np.float32]:
    """The metrics (in ``METRIC_NAMES`` order) of one head ``[query, key]``.

    Example:
        >>> values = head_metrics_one(np.eye(3))
        >>> {name: round(float(v), 3) for name, v in zip(METRIC_NAMES, values)}["first"]
        0.333
    """
    p = np.asarray(head, dtype=np.float32)
    if p.ndim != 2:
        raise ValueError(f"a head is [query, key]; got shape {p.shape}")
    n_q, n_k = p.shape
    out = np.full(len(METRIC_NAMES), np.nan, np.float32)
    if n_q == 0 or n_k == 0:
        return out
    p = np.where(np.isfinite(p) & (p > 0), p, np.float32(0))
    shift = n_k - n_q  # key position of query 0
    rows = np.arange(n_q)
    positions = rows + shift
    inside = (positions >= 0) & (positions < n_k)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(p > 0, np.log(np.where(p > 0, p, 1)), 0).astype(np.float32)
    out[0] = max(0.0, float(-(p * logs).sum(axis=1).mean()))
    if inside.any():
        out[1] = float(p[rows[inside], positions[inside]].mean())
    has_previous = (positions - 1 >= 0) & (positions - 1 < n_k)
    if has_previous.any():
        out[2] = float(p[rows[has_previous], positions[has_previous] - 1].mean())
    out[3] = float(p[:, 0].mean())
    seps = sorted({int(s) for s in separators if 0 <= int(s) < n_k})
    if seps:
        out[4] = float(p[:, seps].sum(axis=1).mean())
    distance = np.abs(positions[:, None] - np.arange(n_k)[None, :]).astype(np.float32)
    out[5] = float((p * distance).sum(axis=1).mean())
    return out


def head_metrics(attention: Any, tokens: Sequence[str] | None = None) -> HeadMetrics:
    """Metrics of every head of ``attention``: ``[layers, heads, query, key]`` or any
    sequence of ``[heads, query, key]`` layers (an ``AttentionRecord``).

    Example:
        >>> m = head_metrics(np.eye(4, dtype=np.float32)[None, None])
        >>> m["diagonal"].tolist(), m.values.shape
        ([[1.0]], (1, 1, 6))
    """
    layers = [np.asarray(layer, dtype=np.float32) for layer in attention]
    separators = separator_positions(tokens)
    if not layers:
        return HeadMetrics(np.zeros((0, 0, len(METRIC_NAMES)), np.float32))
    n_heads = max(layer.shape[0] for layer in layers)
    values = np.full((len(layers), n_heads, len(METRIC_NAMES)), np.nan, np.float32)
    for index, layer in enumerate(layers):
        if layer.ndim != 3:
            raise ValueError(f"layer {index} has shape {layer.shape}; expected [heads, query, key]")
        for head in range(layer.shape[0]):
            values[index, head] = head_metrics_one(layer[head], separators)
    return HeadMetrics(values)
