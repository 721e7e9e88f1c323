"""RowView: one query's whole attention row over every key, and its top-k keys with their text.

At long context the question is often "where does this token look back to?": the row of one
query, all ``T`` keys, not a ``T x T`` picture. The kernel computes the row exactly (a Q/K
record: ``QKRecord.row``, one query against every key; a dense record: the row itself), sends it
max-pooled to at most ``bins`` positions (``row``, float32, so a sharp key stays visible), and
the ``top_k`` keys of the exact row with their token text (``top``). The browser draws the
row as bars on a canvas with a position ruler and lists the top keys (text via textContent).
Changing ``layer``, ``head``, ``query`` or ``top_k`` (the page's controls or Python) sends the
new row.

>>> import numpy as np
>>> view = RowView(np.eye(4, dtype=np.float32)[None, None], list("abcd"), query=2, top_k=2)
>>> view.top[0], view.row["shape"], view.row["step"]
({'key': 2, 'p': 1.0, 'text': 'c'}, [4], 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anywidget
import numpy as np
import traitlets

from ...qk_records import QKRecord
from ..arrays import array_value
from ..bundles import bundle, require_bundle
from ..inputs import as_attention_record, token_labels
from .tiles import max_pool, pool_factor

MAX_BINS = 4096


def attention_row(record: Any, layer: int, head: int, query: int) -> np.ndarray:
    """``[keys]``: the exact row of ``query`` (a Q/K record computes it from Q and K)."""
    if isinstance(record, QKRecord):
        return record.row(layer, head, query)
    return np.asarray(record.head(layer, head)[query], np.float32)


class RowView(anywidget.AnyWidget):
    """One query's attention row over all keys, with its ``top_k`` keys and their text.

    ``data``: a Run (``aw.wrap(model, tok, attention="qk")`` or a dense one), a ``QKRecord``
    or anything ``AttentionView`` takes. ``query`` -1 (the default) is the last token.
    """

    _esm = bundle("row_view.js")

    layer = traitlets.Int(0).tag(sync=True)
    head = traitlets.Int(0).tag(sync=True)
    query = traitlets.Int(0).tag(sync=True)
    top_k = traitlets.Int(10).tag(sync=True)
    n_layers = traitlets.Int(0).tag(sync=True)
    n_heads = traitlets.Int(0).tag(sync=True)
    n_queries = traitlets.Int(0).tag(sync=True)
    layer_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    query_text = traitlets.Unicode("").tag(sync=True)
    row = traitlets.Dict().tag(sync=True)  # float32 [bins] max-pooled, step, n_keys, top value
    top = traitlets.List(traitlets.Dict()).tag(sync=True)  # [{key, p, text}] best first

    def __init__(
        self,
        data: Any,
        tokens: Sequence[str] | None = None,
        *,
        layer: int = 0,
        head: int = 0,
        query: int = -1,
        top_k: int = 10,
        bins: int = 2048,
        **kwargs: Any,
    ) -> None:
        require_bundle("row_view.js")
        self._loading = False
        self._load(data, tokens)
        record = self._record
        n_layers, n_heads, n_queries, _ = record.shape
        if not isinstance(bins, int) or not 1 <= bins <= MAX_BINS:
            raise ValueError(f"bins must be a whole number in 1..{MAX_BINS}, got {bins!r}")
        self._bins = bins
        self._check(layer, head, query, top_k)
        query = query % n_queries
        super().__init__(
            layer=layer % n_layers,
            head=head % n_heads,
            query=query,
            top_k=top_k,
            n_layers=n_layers,
            n_heads=n_heads,
            n_queries=n_queries,
            layer_names=list(record.layer_names),
            **self._row_traits(layer % n_layers, head % n_heads, query, top_k),
            **kwargs,
        )
        self.observe(self._on_pick, names=["layer", "head", "query", "top_k"])

    def _load(self, data: Any, tokens: Sequence[str] | None) -> None:
        record = data if isinstance(data, QKRecord) else getattr(data, "attention", None)
        if not isinstance(record, QKRecord):
            record = as_attention_record(data)
        _, _, n_queries, n_keys = record.shape
        if tokens is None:
            tokens = getattr(data, "tokens", None) or None
        self._record = record
        self._keys = token_labels(tokens, n_keys, "key")
        self._queries = token_labels(tokens, n_queries, "query") if tokens else self._keys

    def set_data(self, data: Any, tokens: Sequence[str] | None = None) -> None:
        """Show new data in place (a new text in the explorer's box): layer, head and query
        are kept where they still fit (else the last one), then the row is sent."""
        self._load(data, tokens)
        n_layers, n_heads, n_queries, _ = self._record.shape
        layer, head = min(self.layer, n_layers - 1), min(self.head, n_heads - 1)
        query = self.query if self.query < n_queries else n_queries - 1
        self._loading = True  # the traits below change together: no row per trait
        with self.hold_sync():
            self.set_trait("n_layers", n_layers)
            self.set_trait("n_heads", n_heads)
            self.set_trait("n_queries", n_queries)
            self.set_trait("layer_names", list(self._record.layer_names))
            for name, value in (("layer", layer), ("head", head), ("query", query)):
                self.set_trait(name, value)
            for name, value in self._row_traits(layer, head, query, self.top_k).items():
                self.set_trait(name, value)
        self._loading = False

    @property
    def record(self) -> Any:
        """The record the rows come from (kept in the kernel)."""
        return self._record

    def _check(self, layer: Any, head: Any, query: Any, top_k: Any) -> None:
        n_layers, n_heads, n_queries, _ = self._record.shape
        for name, value, count in (("layer", layer, n_layers), ("head", head, n_heads),
                                   ("query", query, n_queries)):  # fmt: skip
            if not isinstance(value, int) or isinstance(value, bool) or not -count <= value < count:
                raise IndexError(f"{name} {value!r} out of range 0..{count - 1}")
        if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 0:
            raise ValueError(f"top_k must be a whole number >= 0, got {top_k!r}")

    def _row_traits(self, layer: int, head: int, query: int, top_k: int) -> dict[str, Any]:
        values = attention_row(self._record, layer, head, query)
        pooled = max_pool(values[None, :], 1, self._bins)[0]
        step = pool_factor(len(values), self._bins)
        count = min(top_k, len(values))
        best = np.argsort(-values, kind="stable")[:count]
        top = [{"key": int(k), "p": float(values[k]), "text": self._keys[k]} for k in best]
        top_value = float(values.max()) if len(values) else 0.0
        row = array_value(pooled, "float32", step=step, n_keys=len(values), max=top_value)
        return {"row": row, "top": top, "query_text": self._queries[query]}

    def _on_pick(self, change: dict[str, Any]) -> None:
        """A new layer, head, query or top_k: check it (restore the old value on a bad one)
        and send the row."""
        if self._loading:
            return
        try:
            self._check(self.layer, self.head, self.query, self.top_k)
        except (IndexError, ValueError):
            self.set_trait(change["name"], change["old"])
            raise
        n_queries = self._record.shape[2]
        with self.hold_sync():
            if self.query < 0:
                self.query = self.query % n_queries
            traits = self._row_traits(self.layer, self.head, self.query, self.top_k)
            for name, value in traits.items():
                self.set_trait(name, value)
