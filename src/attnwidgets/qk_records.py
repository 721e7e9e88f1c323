"""Attention kept as queries and keys: exact tiles of any head at 32k tokens (numpy only).

A dense record of one layer at 32,768 tokens is 4 GiB per head. A capture with
``attention="qk"`` keeps instead, per layer, what the kernel was given: ``q`` ``[heads,
queries, d]`` after the rotary embedding, ``k`` ``[kv_heads, keys, d]`` (grouped-query
models keep the smaller K; head ``h`` reads key head ``h // group``), the scale, the
soft-cap, the mask as a ``MaskRule`` (causal, sliding window, padding, prefix), the sink
logits where the family has them, and ``lse`` ``[heads, queries]``, the log-sum-exp of every
query row (the softmax normaliser, from the flash kernel where it gives it). Any cell is then
``exp(scale * q . k - lse)``: tiles, rows and head metrics are computed on demand, block by
block (``qk_compute``), never as a ``[query, key]`` matrix.

``record[i]`` (and ``record.dense(i)``) still gives a dense ``[heads, query, key]`` layer when
it fits in ``record.dense_limit`` bytes; above that it raises ``DenseTooLarge`` saying how large
it would be and how to read tiles instead.

>>> import numpy as np
>>> from attnwidgets.qk_masks import MaskRule
>>> q = np.random.default_rng(0).normal(size=(2, 6, 4)).astype(np.float32)
>>> layer = QKLayer.from_qk("layers.0.attn", q, q[:1], scale=0.5, rule=MaskRule(causal=True))
>>> rec = QKRecord([layer])
>>> rec.shape, rec.tile(0, 1, 0, 6, 0, 6, 3, 3).shape, round(float(rec.row(0, 0, 5).sum()), 5)
((1, 2, 6, 6), (3, 3), 1.0)
>>> np.allclose(rec[0][1, 2, :3], rec.row(0, 1, 2)[:3])
True
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .metrics import METRIC_NAMES, HeadMetrics
from .qk_compute import ArrayOps, HeadView, NumpyOps, cells, column, pool_factor, pooled, row_lse
from .qk_masks import MaskRule
from .qk_metrics import head_metrics_blockwise
from .qkv_records import GroupedHeads
from .records import AttentionRecord

FloatArray = npt.NDArray[np.float32]
DENSE_LIMIT = 1 << 30
"""Bytes of float32 a dense layer may take before ``record[i]`` refuses (1 GiB: 8 heads at
5,792 tokens); ``record.dense_limit`` changes it per record."""
REDUCTIONS = ("max", "mean")


class DenseTooLarge(ValueError):
    """A dense layer of a Q/K record would pass ``record.dense_limit``: read tiles instead."""


def _float_array(value: Any, name: str, ndim: int) -> FloatArray:
    array = np.asarray(value)
    dtype = np.float16 if array.dtype == np.float16 else np.float32
    array = np.ascontiguousarray(array, dtype=dtype)
    if array.ndim != ndim:
        raise ValueError(f"{name} has shape {array.shape}; expected {ndim} dimensions")
    return array


@dataclass(frozen=True, eq=False)
class QKLayer(GroupedHeads):
    """One attention call of one sequence, kept as Q and K (see the module docstring).

    ``lse`` is finite on every row (0 on rows that see no key, which get uniform
    probabilities); ``lse_source`` says where it came from (``"kernel"``: the flash kernel's
    own output; ``"recomputed"``: one blockwise pass over Q and K after the forward).
    """

    name: str
    q: FloatArray
    k: FloatArray
    lse: FloatArray
    scale: float
    softcap: float | None = None
    sinks: FloatArray | None = None
    rule: MaskRule = field(default_factory=MaskRule)
    lse_source: str = "kernel"

    def __post_init__(self) -> None:
        q = _float_array(self.q, f"{self.name}: q", 3)
        k = _float_array(self.k, f"{self.name}: k", 3)
        object.__setattr__(self, "q", q)
        object.__setattr__(self, "k", k)
        if q.shape[2] != k.shape[2]:
            raise ValueError(f"{self.name}: q has d={q.shape[2]} but k has d={k.shape[2]}")
        if k.shape[0] == 0 or q.shape[0] % k.shape[0]:
            raise ValueError(
                f"{self.name}: {q.shape[0]} query heads cannot share {k.shape[0]} key heads evenly"
            )
        lse = np.ascontiguousarray(self.lse, np.float32)
        if lse.shape != q.shape[:2]:
            raise ValueError(f"{self.name}: lse has shape {lse.shape}; expected {q.shape[:2]}")
        object.__setattr__(self, "lse", lse)
        valid = self.rule.key_valid
        if valid is not None and len(valid) != k.shape[1]:
            raise ValueError(f"{self.name}: the mask rule has {len(valid)} keys, k {k.shape[1]}")
        if self.sinks is not None:
            sinks = np.ascontiguousarray(self.sinks, np.float32).reshape(-1)
            if len(sinks) != q.shape[0]:
                raise ValueError(f"{self.name}: {len(sinks)} sinks for {q.shape[0]} heads")
            object.__setattr__(self, "sinks", sinks)

    @classmethod
    def from_qk(
        cls,
        name: str,
        q: Any,
        k: Any,
        *,
        scale: float | None = None,
        softcap: float | None = None,
        sinks: Any = None,
        rule: MaskRule | None = None,
        ops: ArrayOps | None = None,
    ) -> QKLayer:
        """A layer from Q and K alone: each row's log-sum-exp computed here (blockwise).

        Example:
            >>> q = np.ones((1, 3, 2), np.float32)
            >>> layer = QKLayer.from_qk("a", q, q, rule=MaskRule(causal=True))
            >>> [round(float(v), 3) for v in layer.lse[0]]
            [1.414, 2.107, 2.513]
        """
        q = _float_array(q, f"{name}: q", 3)
        rule = rule or MaskRule()
        scale = float(q.shape[2] ** -0.5 if scale is None else scale)
        draft = cls(name, q, k, np.zeros(q.shape[:2], np.float32), scale, softcap, sinks, rule)
        ops = ops or NumpyOps()
        lse = np.stack([row_lse(draft.view(h), ops) for h in range(draft.heads)])
        return cls(name, q, k, lse, scale, softcap, draft.sinks, rule, "recomputed")

    @property
    def n_queries(self) -> int:
        return int(self.q.shape[1])

    @property
    def n_keys(self) -> int:
        return int(self.k.shape[1])

    @property
    def window(self) -> tuple[int, int] | None:
        """The band of ``key - query`` offsets a sliding window lets through, or None."""
        return self.rule.window

    @property
    def nbytes(self) -> int:
        sinks = 0 if self.sinks is None else self.sinks.nbytes
        valid = 0 if self.rule.key_valid is None else self.rule.key_valid.nbytes
        return int(self.q.nbytes + self.k.nbytes + self.lse.nbytes + sinks + valid)

    def cut(self, start: int, stop: int) -> QKLayer:
        """Positions ``[start, stop)`` alone (an example of a batch without its padding)."""
        return QKLayer(
            self.name, self.q[:, start:stop], self.k[:, start:stop], self.lse[:, start:stop],
            self.scale, self.softcap, self.sinks, self.rule.cut(start, stop), self.lse_source,
        )  # fmt: skip

    def view(self, head: int) -> HeadView:
        """Head ``head``'s inputs for ``qk_compute``."""
        if not 0 <= head < self.heads:
            raise IndexError(f"head {head} out of range: {self.name} has heads 0..{self.heads - 1}")
        sink = None if self.sinks is None else float(self.sinks[head])
        kv = head // self.group
        return HeadView(
            self.q[head], self.k[kv], self.lse[head], self.scale, self.softcap, self.rule, sink
        )


class QKRecord(Sequence[FloatArray]):
    """The ``QKLayer`` of every recorded attention call of one sequence: tiles, rows, head
    metrics and (short inputs) dense layers, computed from Q and K.

    ``tile(layer, head, q0, q1, k0, k1, out_rows, out_cols, reduce="max")`` gives the region
    ``[q0, q1) x [k0, k1)`` as at most ``out_rows x out_cols`` cells: exact probabilities at one
    cell per pixel or less, else bins of ``ceil(span / pixels)`` tokens reduced by ``reduce``
    (``"max"``, or ``"mean"``: masked cells count as 0). ``ops`` is the block backend
    (numpy by default; a capture gives torch's).
    """

    kind = "probability"

    def __init__(
        self,
        layers: Sequence[QKLayer],
        *,
        ops: ArrayOps | None = None,
        dense_limit: int = DENSE_LIMIT,
    ) -> None:
        self.layers = list(layers)
        self.ops: ArrayOps = ops or NumpyOps()
        self.dense_limit = dense_limit

    # -- the shape of a record ------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.layers)

    @property
    def layer_names(self) -> list[str]:
        """Module path of each layer, e.g. ``model.layers.0.self_attn``."""
        return [layer.name for layer in self.layers]

    @property
    def windows(self) -> list[tuple[int, int] | None]:
        """Per layer, the ``key - query`` offsets a sliding window lets through, or None."""
        return [layer.window for layer in self.layers]

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(layers, heads, query, key)`` as a dense record would have it."""
        if not self.layers:
            return (0, 0, 0, 0)
        first = self.layers[0]
        for layer in self.layers:
            if (layer.heads, layer.n_queries, layer.n_keys) != (
                first.heads, first.n_queries, first.n_keys,
            ):  # fmt: skip
                raise ValueError(
                    f"layers differ in shape ({layer.name} has {layer.heads} heads x "
                    f"{layer.n_queries} x {layer.n_keys}); index layers one by one"
                )
        return (len(self.layers), first.heads, first.n_queries, first.n_keys)

    @property
    def nbytes(self) -> int:
        """Bytes held: Q, K, the log-sum-exp rows, sinks and padding flags."""
        return sum(layer.nbytes for layer in self.layers)

    def layer(self, index: int) -> QKLayer:
        """The ``QKLayer`` of layer ``index`` (its Q, K, lse, scale, rule...)."""
        count = len(self.layers)
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"layer index must be an int, not {type(index).__name__}")
        if not -count <= index < count:
            raise IndexError(f"layer {index} out of range: this record has layers 0..{count - 1}")
        return self.layers[index]

    def check_head(self, layer: int, head: int) -> None:
        """IndexError naming the valid range when ``(layer, head)`` is not in the record."""
        self.layer(layer).view(head)

    # -- dense, where it fits ------------------------------------------------------------------
    def _dense_bytes(self, layer: QKLayer, heads: int) -> int:
        return heads * layer.n_queries * layer.n_keys * 4

    def _refuse(self, index: int, layer: QKLayer, heads: int, limit: int) -> DenseTooLarge:
        needed = self._dense_bytes(layer, heads)
        return DenseTooLarge(
            f"layer {index} ({layer.name}) as dense attention would be {heads} head"
            f"{'s' if heads != 1 else ''} x {layer.n_queries:,} queries x {layer.n_keys:,} keys "
            f"x 4 bytes = {_size(needed)}, above the limit of {_size(limit)} "
            "(record.dense_limit). This record keeps Q and K: read it in pieces with "
            f"record.tile({index}, head, q0, q1, k0, k1, out_rows, out_cols) (exact at one cell "
            f"per pixel, max-pooled above), record.row({index}, head, query), "
            "record.metrics(); or show it: aw.AttentionView(record) draws tiles. "
            "record.dense(layer, max_bytes=...) materialises it anyway."
        )

    def dense(self, index: int, max_bytes: int | None = None) -> FloatArray:
        """Layer ``index`` as dense probabilities ``[heads, query, key]`` float32 (explicit:
        ``max_bytes`` overrides ``dense_limit``; ``DenseTooLarge`` above it)."""
        layer = self.layer(index)
        limit = self.dense_limit if max_bytes is None else max_bytes
        if self._dense_bytes(layer, layer.heads) > limit:
            raise self._refuse(index, layer, layer.heads, limit)
        return np.stack([self._full_head(layer, h) for h in range(layer.heads)])

    def _full_head(self, layer: QKLayer, head: int) -> FloatArray:
        n_q, n_k = layer.n_queries, layer.n_keys
        return pooled(layer.view(head), self.ops, 0, n_q, 0, n_k, 1, 1, "mean")

    def head(self, layer: int, head: int) -> FloatArray:
        """One head as dense probabilities ``[query, key]`` (below ``dense_limit``)."""
        found = self.layer(layer)
        found.view(head)
        if self._dense_bytes(found, 1) > self.dense_limit:
            raise self._refuse(layer, found, 1, self.dense_limit)
        return self._full_head(found, head)

    def __getitem__(self, index: int) -> FloatArray:  # type: ignore[override]
        return self.dense(index)

    def __iter__(self) -> Iterator[FloatArray]:
        return (self.dense(i) for i in range(len(self.layers)))

    def cut(self, keep: Any) -> QKRecord:
        """The record of the positions where ``keep`` (bool ``[tokens]``) is True, which must
        be one run (a batch example without its left or right padding).

        Example:
            >>> q = np.ones((1, 4, 2), np.float32)
            >>> rec = QKRecord([QKLayer.from_qk("a", q, q, rule=MaskRule(causal=True))])
            >>> rec.cut(np.array([False, True, True, True])).shape
            (1, 1, 3, 3)
        """
        kept = np.flatnonzero(np.asarray(keep, bool))
        if len(kept) == 0 or kept[-1] - kept[0] + 1 != len(kept):
            raise ValueError(
                "a Q/K record can only be cut to one run of positions (left or right padding), "
                f"not {len(kept)} positions spread over {len(keep)}"
            )
        start, stop = int(kept[0]), int(kept[-1]) + 1
        layers = [layer.cut(start, stop) for layer in self.layers]
        return QKRecord(layers, ops=self.ops, dense_limit=self.dense_limit)

    def to_attention_record(self, max_bytes: int | None = None) -> AttentionRecord:
        """Every layer dense, as an ``AttentionRecord`` (short inputs)."""
        dense = [self.dense(i, max_bytes) for i in range(len(self.layers))]
        return AttentionRecord(dense, self.layer_names, windows=self.windows)

    # -- pieces at any length ------------------------------------------------------------------
    def tile(
        self,
        layer: int,
        head: int,
        q0: int,
        q1: int,
        k0: int,
        k1: int,
        out_rows: int,
        out_cols: int,
        reduce: str = "max",
    ) -> FloatArray:
        """Probabilities of ``[q0, q1) x [k0, k1)`` as at most ``out_rows x out_cols`` cells:
        exact where that is one cell per pixel or less, else bins of ``ceil(span / out)``
        tokens (the last may be shorter) reduced by ``"max"`` or ``"mean"``.

        Example:
            >>> q = np.eye(4, dtype=np.float32)[None]
            >>> rec = QKRecord([QKLayer.from_qk("a", q, q, scale=1.0)])
            >>> print(rec.tile(0, 0, 0, 4, 0, 4, 2, 2).round(3))  # max of each 2 x 2 bin
            [[0.475 0.175]
             [0.175 0.475]]
            >>> print(rec.tile(0, 0, 0, 4, 0, 4, 2, 2, reduce="mean").round(3))
            [[0.325 0.175]
             [0.175 0.325]]
        """
        found = self.layer(layer)
        view = found.view(head)
        _check_span("q", q0, q1, found.n_queries)
        _check_span("k", k0, k1, found.n_keys)
        for name, value in (("out_rows", out_rows), ("out_cols", out_cols)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        if reduce not in REDUCTIONS:
            raise ValueError(f"reduce must be one of {REDUCTIONS}, not {reduce!r}")
        rows, cols = pool_factor(q1 - q0, out_rows), pool_factor(k1 - k0, out_cols)
        return pooled(view, self.ops, q0, q1, k0, k1, rows, cols, reduce)

    def row(self, layer: int, head: int, query: int) -> FloatArray:
        """``[keys]``: query ``query``'s whole attention row, exact."""
        found = self.layer(layer)
        _check_span("query", query, query + 1, found.n_queries)
        view = found.view(head)
        values = pooled(view, self.ops, query, query + 1, 0, found.n_keys, 1, 1, "mean")
        out: FloatArray = values[0]
        return out

    def column(self, layer: int, head: int, key: int) -> FloatArray:
        """``[queries]``: how much every query attends to key ``key``, exact."""
        found = self.layer(layer)
        _check_span("key", key, key + 1, found.n_keys)
        return column(found.view(head), key)

    def cells(self, layer: int, head: int, rows: Any, cols: Any) -> FloatArray:
        """The probabilities of the cells ``(rows[i], cols[i])``, exact."""
        return cells(self.layer(layer).view(head), rows, cols)

    def metrics(self, tokens: Sequence[str] | None = None) -> HeadMetrics:
        """``attnwidgets.metrics.head_metrics`` of every head, computed block by block."""
        count = max((layer.heads for layer in self.layers), default=0)
        values = np.full((len(self.layers), count, len(METRIC_NAMES)), np.nan, np.float32)
        for index, layer in enumerate(self.layers):
            for head in range(layer.heads):
                values[index, head] = head_metrics_blockwise(layer.view(head), self.ops, tokens)
        return HeadMetrics(values)

    def __repr__(self) -> str:
        if not self.layers:
            return "QKRecord(layers=0)"
        first = self.layers[0]
        return (
            f"QKRecord(layers={len(self)}, heads={first.heads}, kv_heads={first.kv_heads}, "
            f"tokens={first.n_queries}, d_head={first.q.shape[2]}, {_size(self.nbytes)})"
        )


def _check_span(name: str, start: Any, stop: Any, length: int) -> None:
    ok = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (start, stop))
    if not ok or not 0 <= start < stop <= length:
        raise ValueError(
            f"{name} range [{start!r}, {stop!r}) is not a non-empty range within 0..{length} "
            f"(this record has {length} {'queries' if name.startswith('q') else 'keys'})"
        )


def _size(count: float) -> str:
    if count >= 1 << 30:
        return f"{count / (1 << 30):.1f} GiB"
    return f"{count / (1 << 20):.1f} MiB"
