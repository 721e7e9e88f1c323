"""Attention probabilities computed block by block from Q, K and each row's log-sum-exp.

``p[q, k] = exp(logit(q, k) - lse[q])`` where the query sees the key, else 0, with
``logit = scale * q . k`` (soft-capped: ``cap * tanh(logit / cap)``) and ``lse`` the softmax
normaliser of the row (sink logits included). Nothing here holds a ``[query, key]`` matrix: a
block is at most ``ROWS x COLUMNS`` cells (about 1 Mi, 4 MiB), reduced before the next one.

The hot part of each block (the matmul, the mask, the exp and the reduction of the block to
bins) runs through an ``ArrayOps`` backend: ``NumpyOps`` here, a torch one where torch is
loaded (``attnwidgets.recording.attention.qk_torch``; captures pick it). Everything else is
numpy on small arrays.

>>> import numpy as np
>>> from attnwidgets.qk_masks import MaskRule
>>> q = np.eye(3, 2, dtype=np.float32)
>>> head = HeadView(q, q, np.zeros(3, np.float32), 1.0, None, MaskRule(causal=True))
>>> head = head.with_lse(NumpyOps())
>>> print(np.round(pooled(head, NumpyOps(), 0, 3, 0, 3, 1, 1, "mean"), 3))
[[1.    0.    0.   ]
 [0.269 0.731 0.   ]
 [0.333 0.333 0.333]]
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from .qk_masks import BoolArray, MaskRule

FloatArray = npt.NDArray[np.float32]
MASKED = -1e30
"""What a hidden cell's logit becomes: exp() of it is 0, and 0 times it is 0 (unlike -inf)."""
ROWS = 256
COLUMNS = 4096


def pool_factor(length: int, pixels: int) -> int:
    """Tokens per bin so that ``length`` tokens fit in ``pixels`` bins: ``ceil(length / pixels)``.

    Example:
        >>> pool_factor(32768, 512), pool_factor(100, 600)
        (64, 1)
    """
    return max(1, -(-length // max(1, pixels)))


class BlockMask(NamedTuple):
    """Which cells of a block are hidden: ``cuts`` (column start, column stop, hidden
    ``[rows, stop - start]``) relative to the block, and ``padding`` ``[columns]`` (True:
    a padding key, hidden from every row) or None."""

    cuts: list[tuple[int, int, BoolArray]]
    padding: BoolArray | None


def block_mask(rule: MaskRule, q0: int, q1: int, k0: int, k1: int) -> BlockMask:
    """The hidden cells of the block ``[q0, q1) x [k0, k1)``, which lies inside the rule's
    ``span`` of those rows (outside it everything is hidden and no block is computed)."""
    cuts = [
        (low - k0, high - k0, ~rule.band(q0, q1, low, high))
        for low, high in rule.edges(q0, q1, k0, k1)
    ]
    valid = rule.valid_columns(k0, k1)
    return BlockMask(cuts, None if valid is None else ~valid)


class ArrayOps(Protocol):
    """The block kernels. Inputs are numpy: ``q`` ``[rows, d]``, ``k`` ``[cols, d]``, ``lse``
    ``[rows]``; each returns numpy float32."""

    name: str

    def block_max(
        self,
        q: Any,
        k: Any,
        lse: Any,
        scale: float,
        softcap: float | None,
        mask: BlockMask,
        step: int,
    ) -> FloatArray:
        """``[rows, ceil(cols / step)]``: the largest probability of each bin of ``step`` keys."""
        ...  # fmt: skip

    def block_sum(
        self,
        q: Any,
        k: Any,
        lse: Any,
        scale: float,
        softcap: float | None,
        mask: BlockMask,
        step: int,
    ) -> FloatArray:
        """``[rows, ceil(cols / step)]``: the probabilities summed over bins (exact at step 1)."""
        ...  # fmt: skip

    def block_lse(
        self, q: Any, k: Any, scale: float, softcap: float | None, mask: BlockMask
    ) -> FloatArray:
        """``[rows]``: log-sum-exp of each row's seen logits (-inf when it sees none)."""
        ...

    def block_metrics(
        self,
        q: Any,
        k: Any,
        lse: Any,
        scale: float,
        softcap: float | None,
        mask: BlockMask,
        q0: int,
        k0: int,
    ) -> FloatArray:
        """``[rows, 3]``: per row ``sum p``, ``sum p * logit`` and ``sum p * |q - k|``."""
        ...  # fmt: skip


class NumpyOps:
    """The block kernels in numpy (float32)."""

    name = "numpy"

    def _logits(
        self, q: Any, k: Any, scale: float, softcap: float | None, mask: BlockMask
    ) -> FloatArray:
        scaled = np.asarray(q, np.float32) * np.float32(scale)
        logits: FloatArray = scaled @ np.asarray(k, np.float32).T
        if softcap:
            cap = np.float32(softcap)
            np.divide(logits, cap, out=logits)
            np.tanh(logits, out=logits)
            np.multiply(logits, cap, out=logits)
        for start, stop, hidden in mask.cuts:
            part = logits[:, start:stop]
            part[hidden] = MASKED
        if mask.padding is not None:
            logits[:, mask.padding] = MASKED
        return logits

    def _probabilities(self, q: Any, k: Any, lse: Any, scale: float, softcap: float | None,
                       mask: BlockMask) -> FloatArray:  # fmt: skip
        logits = self._logits(q, k, scale, softcap, mask)
        logits -= np.asarray(lse, np.float32)[:, None]
        return np.exp(logits, out=logits)

    def block_max(self, q: Any, k: Any, lse: Any, scale: float, softcap: float | None,
                  mask: BlockMask, step: int) -> FloatArray:  # fmt: skip
        logits = self._logits(q, k, scale, softcap, mask)
        top = _bins(logits, step, np.maximum)
        top -= np.asarray(lse, np.float32)[:, None]
        return np.exp(top, out=top)

    def block_sum(self, q: Any, k: Any, lse: Any, scale: float, softcap: float | None,
                  mask: BlockMask, step: int) -> FloatArray:  # fmt: skip
        return _bins(self._probabilities(q, k, lse, scale, softcap, mask), step, np.add)

    def block_lse(self, q: Any, k: Any, scale: float, softcap: float | None,
                  mask: BlockMask) -> FloatArray:  # fmt: skip
        logits = self._logits(q, k, scale, softcap, mask)
        top = logits.max(axis=1)
        seen = top > MASKED / 2
        shift = np.where(seen, top, 0).astype(np.float32)
        total = np.exp(logits - shift[:, None]).sum(axis=1, dtype=np.float64)
        with np.errstate(divide="ignore"):
            out = (np.log(total) + shift).astype(np.float32)
        result: FloatArray = np.where(seen, out, np.float32(-np.inf)).astype(np.float32)
        return result

    def block_metrics(self, q: Any, k: Any, lse: Any, scale: float, softcap: float | None,
                      mask: BlockMask, q0: int, k0: int) -> FloatArray:  # fmt: skip
        logits = self._logits(q, k, scale, softcap, mask)
        p = np.exp(logits - np.asarray(lse, np.float32)[:, None])
        distance = np.abs(
            np.arange(k0, k0 + logits.shape[1])[None, :] - np.arange(q0, q0 + len(p))[:, None]
        ).astype(np.float32)
        out = np.stack(
            [p.sum(axis=1), (p * logits).sum(axis=1), (p * distance).sum(axis=1)], axis=1
        )
        return out.astype(np.float32)


def _bins(values: FloatArray, step: int, combine: Any) -> FloatArray:
    """``[rows, cols]`` reduced over bins of ``step`` columns by ``combine`` (np.maximum /
    np.add); a strided reduction (reshape + reduce over the last axis is slower here)."""
    if step == 1:
        return values
    rows, cols = values.shape
    main = cols - cols % step
    out = np.array(values[:, 0:main:step]) if main else np.zeros((rows, 0), np.float32)
    for offset in range(1, step):
        combine(out, values[:, offset:main:step], out=out)
    if main < cols:
        tail = values[:, main:]
        last = tail.max(axis=1) if combine is np.maximum else tail.sum(axis=1)
        out = np.concatenate([out, last[:, None].astype(np.float32)], axis=1)
    return out.astype(np.float32, copy=False)


@dataclass(frozen=True)
class HeadView:
    """One head's inputs: ``q`` ``[queries, d]``, ``k`` ``[keys, d]`` (its key/value head),
    ``lse`` ``[queries]`` (finite; 0 on rows that see no key), ``scale``, ``softcap``, the
    ``rule`` and the head's ``sink`` logit (None without one)."""

    q: Any
    k: Any
    lse: Any
    scale: float
    softcap: float | None
    rule: MaskRule
    sink: float | None = None

    @property
    def n_queries(self) -> int:
        return int(self.q.shape[0])

    @property
    def n_keys(self) -> int:
        return int(self.k.shape[0])

    @property
    def empty(self) -> BoolArray:
        """Rows that see no key: their probabilities are ``1 / keys`` everywhere."""
        return self.rule.empty_rows(self.n_queries, self.n_keys)

    def with_lse(self, ops: ArrayOps) -> HeadView:
        """This head with ``lse`` computed from Q and K (``row_lse``)."""
        return replace(self, lse=row_lse(self, ops))


def _blocks(head: HeadView, q0: int, q1: int, k0: int, k1: int, rows: int, cols: int) -> Any:
    """``(a, b, c, e)``: blocks of ``rows`` queries x ``cols`` keys covering what the rule lets
    the queries of ``[q0, q1)`` see within ``[k0, k1)``; ``c`` stays on multiples of ``cols``
    from ``k0`` so that bins of any divisor of ``cols`` line up."""
    for a in range(q0, q1, rows):
        b = min(a + rows, q1)
        s0, s1 = head.rule.span(a, b, head.n_keys)
        s0, s1 = max(s0, k0), min(s1, k1)
        if s1 <= s0:
            continue
        start = k0 + (s0 - k0) // cols * cols
        for c in range(start, s1, cols):
            yield a, b, max(c, s0), min(c + cols, s1), c


def pooled(
    head: HeadView, ops: ArrayOps, q0: int, q1: int, k0: int, k1: int, row_step: int,
    col_step: int, reduce: str,
) -> FloatArray:  # fmt: skip
    """``[ceil((q1 - q0) / row_step), ceil((k1 - k0) / col_step)]``: the probabilities of the
    region, each bin of ``row_step x col_step`` cells reduced by ``reduce`` (``"max"`` or
    ``"mean"``; masked cells count as 0); exact at steps of 1."""
    n_rows, n_cols = -(-(q1 - q0) // row_step), -(-(k1 - k0) // col_step)
    out = np.zeros((n_rows, n_cols), np.float32)
    rows = row_step * max(1, ROWS // row_step)
    cols = col_step * max(1, COLUMNS // col_step)
    kernel = ops.block_max if reduce == "max" else ops.block_sum
    for a, b, c, e, origin in _blocks(head, q0, q1, k0, k1, rows, cols):
        mask = block_mask(head.rule, a, b, c, e)
        # bins are counted from `origin` (a multiple of col_step from k0); the block starts
        # at c >= origin, so pad its first bin with hidden columns
        lead = c - origin
        k = head.k[c:e]
        if lead % col_step:
            pad = lead % col_step
            k = np.concatenate([np.zeros((pad, k.shape[1]), k.dtype), k])
            mask = BlockMask(
                [(s + pad, t + pad, h) for s, t, h in mask.cuts],
                np.concatenate([np.ones(pad, bool), np.zeros(e - c, bool)])
                if mask.padding is None
                else np.concatenate([np.ones(pad, bool), mask.padding]),
            )
        part = kernel(head.q[a:b], k, head.lse[a:b], head.scale, head.softcap, mask, col_step)
        part = _bins(part.T.copy(), row_step, np.maximum if reduce == "max" else np.add).T
        r0 = (a - q0) // row_step
        c0 = (c - (lead % col_step) - k0) // col_step
        target = out[r0 : r0 + part.shape[0], c0 : c0 + part.shape[1]]
        if reduce == "max":
            np.maximum(target, part, out=target)
        else:
            target += part
    _uniform_rows(head, out, q0, q1, k0, k1, row_step, col_step, reduce)
    if reduce == "mean":
        out /= _bin_sizes(q1 - q0, row_step)[:, None] * _bin_sizes(k1 - k0, col_step)[None, :]
    return out


def _bin_sizes(length: int, step: int) -> FloatArray:
    sizes = np.full(-(-length // step), step, np.float32)
    if length % step:
        sizes[-1] = length % step
    return sizes


def _uniform_rows(head: HeadView, out: FloatArray, q0: int, q1: int, k0: int, k1: int,
                  row_step: int, col_step: int, reduce: str) -> None:  # fmt: skip
    """Rows that see no key get ``1 / keys`` in every cell (eager attention's uniform row)."""
    empty = head.empty[q0:q1]
    if not empty.any() or head.sink is not None:  # with a sink, such a row goes to the sink
        return
    share = np.float32(1.0 / head.n_keys)
    counts = np.add.reduceat(empty.astype(np.float32), np.arange(0, len(empty), row_step))
    if reduce == "max":
        out[counts > 0] = np.maximum(out[counts > 0], share)
    else:
        out += counts[:, None] * _bin_sizes(k1 - k0, col_step)[None, :] * share


def row_lse(head: HeadView, ops: ArrayOps) -> FloatArray:
    """``[queries]``: each row's log-sum-exp over the keys it sees, the sink included; 0 on
    rows that see no key (they are handled as uniform rows)."""
    total = np.full(head.n_queries, -np.inf, np.float64)
    for a, b, c, e, _ in _blocks(head, 0, head.n_queries, 0, head.n_keys, ROWS, COLUMNS):
        mask = block_mask(head.rule, a, b, c, e)
        part = ops.block_lse(head.q[a:b], head.k[c:e], head.scale, head.softcap, mask)
        total[a:b] = np.logaddexp(total[a:b], part.astype(np.float64))
    if head.sink is not None:
        total = np.logaddexp(total, float(head.sink))
    total[~np.isfinite(total)] = 0.0
    return total.astype(np.float32)


def logits_at(head: HeadView, rows: Any, cols: Any) -> FloatArray:
    """The logits of the cells ``(rows[i], cols[i])`` (no mask applied)."""
    q = np.asarray(head.q[rows], np.float32) * np.float32(head.scale)
    values = np.einsum("nd,nd->n", q, np.asarray(head.k[cols], np.float32)).astype(np.float32)
    if head.softcap:
        cap = np.float32(head.softcap)
        values = (np.tanh(values / cap) * cap).astype(np.float32)
    found: FloatArray = values
    return found


def cells(head: HeadView, rows: Any, cols: Any) -> FloatArray:
    """The probabilities of the cells ``(rows[i], cols[i])``, exact."""
    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    values = np.exp(logits_at(head, rows, cols) - np.asarray(head.lse, np.float32)[rows])
    offsets = cols - rows
    seen = (offsets >= max(head.rule.lo, -(1 << 40))) & (offsets <= min(head.rule.hi, 1 << 40))
    if head.rule.prefix:
        seen |= (rows < head.rule.prefix) & (cols < head.rule.prefix)
    if head.rule.key_valid is not None:
        seen &= head.rule.key_valid[cols]
    values = np.where(seen, values, np.float32(0)).astype(np.float32)
    empty = head.empty[rows]
    if empty.any() and head.sink is None:
        values[empty] = np.float32(1.0 / head.n_keys)
    found: FloatArray = values
    return found


def column(head: HeadView, key: int) -> FloatArray:
    """``[queries]``: how much each query attends to ``key``."""
    rows = np.arange(head.n_queries)
    return cells(head, rows, np.full_like(rows, key))
