"""The per-head metrics of ``attnwidgets.metrics``, block by block from Q and K (numpy only).

The same numbers as ``metrics.head_metrics_one`` on the dense head, without the dense head:
``entropy`` is ``sum_k p (lse - logit)`` summed per row over the blocks, ``distance``
``sum_k p |q - k|``; ``diagonal``, ``previous``, ``first`` and ``separator`` read single cells.
Rows that see no key count as uniform rows (``log keys`` nats, ``1 / keys`` per cell).

>>> import numpy as np
>>> from attnwidgets.metrics import head_metrics_one
>>> from attnwidgets.qk_compute import HeadView, NumpyOps
>>> from attnwidgets.qk_masks import MaskRule
>>> q = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
>>> head = HeadView(q, q, None, 1.0, None, MaskRule(causal=True)).with_lse(NumpyOps())
>>> dense = np.stack([np.exp(np.where(np.tril(np.ones((5, 5))) > 0, q @ q.T, -np.inf)[i]
...     - head.lse[i]) for i in range(5)])
>>> blockwise = head_metrics_blockwise(head, NumpyOps())  # separator: NaN without tokens
>>> np.allclose(blockwise, head_metrics_one(dense), atol=1e-5, equal_nan=True)
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from .metrics import METRIC_NAMES, separator_positions
from .qk_compute import COLUMNS, ROWS, ArrayOps, HeadView, _blocks, block_mask, cells

FloatArray = npt.NDArray[np.float32]


def _row_sums(head: HeadView, ops: ArrayOps) -> npt.NDArray[np.float64]:
    """``[queries, 3]``: per row ``sum p``, ``sum p * logit``, ``sum p * |q - k|``."""
    sums = np.zeros((head.n_queries, 3), np.float64)
    for a, b, c, e, _ in _blocks(head, 0, head.n_queries, 0, head.n_keys, ROWS, COLUMNS):
        mask = block_mask(head.rule, a, b, c, e)
        sums[a:b] += ops.block_metrics(
            head.q[a:b], head.k[c:e], head.lse[a:b], head.scale, head.softcap, mask, a, c
        )
    return sums


def head_metrics_blockwise(
    head: HeadView, ops: ArrayOps, tokens: Sequence[str] | None = None
) -> FloatArray:
    """The metrics of one head in ``METRIC_NAMES`` order (see ``metrics.head_metrics_one``)."""
    n_q, n_k = head.n_queries, head.n_keys
    out = np.full(len(METRIC_NAMES), np.nan, np.float32)
    if n_q == 0 or n_k == 0:
        return out
    sums = _row_sums(head, ops)
    lse = np.asarray(head.lse, np.float64)
    entropy = lse * sums[:, 0] - sums[:, 1]
    distance = sums[:, 2]
    shift = n_k - n_q  # key position of query 0
    rows = np.arange(n_q)
    empty = head.empty & (head.sink is None)
    if empty.any():  # uniform rows: log(keys) nats, mean |q - k| over every key
        entropy[empty] = np.log(n_k)
        positions = rows[empty] + shift
        keys = np.arange(n_k)
        distance[empty] = [np.abs(p - keys).mean() for p in positions]
    out[0] = max(0.0, float(entropy.mean()))
    positions = rows + shift
    inside = (positions >= 0) & (positions < n_k)
    if inside.any():
        out[1] = float(cells(head, rows[inside], positions[inside]).mean())
    has_previous = (positions - 1 >= 0) & (positions - 1 < n_k)
    if has_previous.any():
        picked = rows[has_previous]
        out[2] = float(cells(head, picked, positions[has_previous] - 1).mean())
    out[3] = float(cells(head, rows, np.zeros_like(rows)).mean())
    separators = sorted({s for s in separator_positions(tokens) if 0 <= s < n_k})
    if separators:
        total = sum(cells(head, rows, np.full_like(rows, s)) for s in separators)
        out[4] = float(np.mean(total))
    out[5] = float(distance.mean())
    return out
