"""What an AttentionView sends for a Q/K record (``attention="qk"``), computed from Q and K.

A ``QKRecord`` holds no ``[query, key]`` matrix, so the view never asks it for a dense head
above its limit: the first view (``tile0``), every ``request_tile`` reply, the colour range,
the thumbnails, the token focus and the metrics come from ``QKTiles``, which asks the record
for exactly the max-pooled region the page will draw (``QKRecord.tile``: exact at one cell
per pixel). Whole-head tiles are kept (up to ``KEPT_BYTES``), and after the first whole-head
request the other heads' overviews at that size are computed in a background thread
(``warm``: the shown layer's heads first, then the layers around it, as many as are kept), so
a head switch then costs a dictionary lookup.

The colour range of a head is ``[0, its largest probability]``: the maximum of any whole-head
max-pooled tile of it, which is exact (a max pool keeps the maximum).

>>> import numpy as np
>>> from attnwidgets.qk_masks import MaskRule
>>> from attnwidgets.qk_records import QKLayer, QKRecord
>>> q = np.random.default_rng(0).normal(size=(2, 64, 8)).astype(np.float32)
>>> rec = QKRecord([QKLayer.from_qk("a", q, q, rule=MaskRule(causal=True))])
>>> tiles = qk_tiles(rec)
>>> tiles.colour(0, 1).hi == float(rec.dense(0)[1].max()), tiles.overview(0, 1, 16, 16).shape
(True, (16, 16))
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ...qk_records import QKRecord
from ..arrays import array_value
from .tiles import TileRange, TileRequest, max_pool, pool_factor, tile_bytes

FloatArray = npt.NDArray[np.float32]
OVERVIEW_SIDE = 512  # cells per side of the overview a colour range is read from
KEPT_BYTES = 128 << 20  # whole-head tiles kept per record (float32), oldest dropped first

_TILES: weakref.WeakKeyDictionary[QKRecord, QKTiles] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def qk_tiles(record: QKRecord) -> QKTiles:
    """The one ``QKTiles`` of ``record`` (its caches are shared by every view of it)."""
    with _LOCK:
        found = _TILES.get(record)
        if found is None:
            found = _TILES[record] = QKTiles(record)
        return found


class QKTiles:
    """Tiles, colour ranges, thumbnails, focus lines and metrics of one ``QKRecord``."""

    def __init__(self, record: QKRecord) -> None:
        self.record = record
        self._kept: OrderedDict[tuple[int, ...], FloatArray] = OrderedDict()
        self._tops: dict[tuple[int, int], float] = {}  # each head's largest probability
        self._lock = threading.Lock()
        self._warming: threading.Thread | None = None
        self._warm_size: tuple[int, int] | None = None

    # -- whole heads -------------------------------------------------------------------------
    def overview(self, layer: int, head: int, height: int, width: int) -> FloatArray:
        """The whole head max-pooled to at most ``height x width`` (kept)."""
        _, _, n_q, n_k = self.record.shape
        return self.region(layer, head, (0, n_q), (0, n_k), height, width)

    def region(self, layer: int, head: int, rows: tuple[int, int], cols: tuple[int, int],
               height: int, width: int) -> FloatArray:  # fmt: skip
        """``[rows) x [cols)`` of one head max-pooled to at most ``height x width``; whole-head
        regions are kept (the overview, and what a head switch asks for)."""
        key = (layer, head, *rows, *cols, height, width)
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
                return found
        found = self.record.tile(layer, head, *rows, *cols, height, width, "max")
        _, _, n_q, n_k = self.record.shape
        if rows == (0, n_q) and cols == (0, n_k):
            with self._lock:
                self._tops[(layer, head)] = float(found.max()) if found.size else 0.0
                self._kept[key] = found
                while sum(t.nbytes for t in self._kept.values()) > KEPT_BYTES:
                    self._kept.popitem(last=False)
        return found

    def _any_overview(self, layer: int, head: int) -> FloatArray:
        """A kept whole-head tile of the head (the background's, at the page's size), else
        its overview at ``OVERVIEW_SIDE``."""
        _, _, n_q, n_k = self.record.shape
        with self._lock:
            for key, found in self._kept.items():
                if key[:6] == (layer, head, 0, n_q, 0, n_k) and min(found.shape) >= 32:
                    return found
        return self.overview(layer, head, OVERVIEW_SIDE, OVERVIEW_SIDE)

    def colour(self, layer: int, head: int) -> TileRange:
        """``[0, the head's largest probability]``, from its overview (exact: max-pooled)."""
        top = self._tops.get((layer, head))
        if top is None:
            top = float(self.overview(layer, head, OVERVIEW_SIDE, OVERVIEW_SIDE).max())
        return TileRange(0.0, top if top > 0 else 1.0, False, False)

    def tile(
        self, request: TileRequest, kind: str | None = None, *, warm: bool = True
    ) -> dict[str, Any]:
        """A ``tile`` reply value (see ``tiles.make_tile``) computed from Q and K; a
        whole-head request starts the background overviews at its size (``warm``; not for
        ``tile0``, whose size the page may not ask for)."""
        (q0, q1), (k0, k1) = request.rows, request.cols
        values = self.region(
            request.layer, request.head, request.rows, request.cols, request.height, request.width
        )
        colour = self.colour(request.layer, request.head)
        meta: dict[str, Any] = {
            "type": "tile",
            "layer": request.layer,
            "head": request.head,
            "rows": [q0, q1],
            "cols": [k0, k1],
            **colour.meta(),
        }
        if kind is not None:
            meta["kind"] = kind
        _, _, n_q, n_k = self.record.shape
        if warm and request.rows == (0, n_q) and request.cols == (0, n_k):
            self.warm(request.height, request.width, request.layer)
        return array_value(tile_bytes(values, colour), "uint8", **meta)

    def warm(self, height: int, width: int, layer: int = 0) -> threading.Thread | None:
        """Compute the heads' overviews at ``height x width`` in a background thread (once
        per size): ``layer``'s heads first, then the layers nearest it, as many as
        ``KEPT_BYTES`` keeps; the thread, or None when that size is warm or warming already."""
        with self._lock:
            if self._warm_size == (height, width):
                return None
            self._warm_size = (height, width)
        n_layers, n_heads, n_q, n_k = self.record.shape
        size = 4 * -(-n_q // pool_factor(n_q, height)) * -(-n_k // pool_factor(n_k, width))
        count = max(1, KEPT_BYTES // size)
        layers = sorted(range(n_layers), key=lambda other: (abs(other - layer), other))
        order = [(other, head) for other in layers for head in range(n_heads)][:count]

        def fill() -> None:
            for other, head in order:
                if self._warm_size != (height, width):
                    return  # a newer size asked for: that one is warmed instead
                self.overview(other, head, height, width)

        thread = threading.Thread(target=fill, name="attnwidgets-qk-overviews", daemon=True)
        self._warming = thread
        thread.start()
        return thread

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the background overviews (tests, benchmarks)."""
        if self._warming is not None:
            self._warming.join(timeout)

    # -- panels -------------------------------------------------------------------------------
    def thumbnails(self, side: int, region: Sequence[int] | None = None, **meta: Any) -> Any:
        """``tiles.thumbnails`` of every head, from the overviews (or of ``region``)."""
        n_layers, n_heads, n_q, n_k = self.record.shape
        q0, q1, k0, k1 = region if region is not None else (0, n_q, 0, n_k)
        blocks: list[npt.NDArray[np.uint8]] = []
        lows: list[list[float]] = []
        highs: list[list[float]] = []
        for layer in range(n_layers):
            lows.append([0.0] * n_heads)
            highs.append([])
            for head in range(n_heads):
                if region is None:
                    pooled = max_pool(self._any_overview(layer, head), side, side)
                else:
                    pooled = self.region(layer, head, (q0, q1), (k0, k1), side, side)
                hi = float(pooled.max()) if pooled.size else 1.0
                highs[-1].append(hi if hi > 0 else 1.0)
                blocks.append(tile_bytes(pooled, TileRange(0.0, highs[-1][-1], False, False)))
        shape = [n_layers, n_heads, *blocks[0].shape] if blocks else [0, 0, 0, 0]
        data = np.concatenate([b.reshape(-1) for b in blocks]) if blocks else np.zeros(0, np.uint8)
        return array_value(data.reshape(shape), "uint8", lo=lows, hi=highs, **meta)

    def focus(self, token: int, width: int) -> dict[str, Any]:
        """``tiles.token_focus`` for probabilities: ``token``'s row and column in every head,
        max-pooled to ``width`` positions, each scaled to its own maximum."""
        n_layers, n_heads, n_q, n_k = self.record.shape
        rows, cols = [], []
        for layer in range(n_layers):
            for head in range(n_heads):
                rows.append(self.record.tile(layer, head, token, token + 1, 0, n_k, 1, width)[0])
                column = self.record.column(layer, head, token) if token < n_k else np.zeros(n_q)
                cols.append(max_pool(column[None, :], 1, width)[0])
        out, maxima = [], []
        for lines in (rows, cols):
            stacked = np.stack(lines).astype(np.float32)
            top = np.maximum(stacked.max(axis=1, initial=0.0), 1e-30)
            maxima.append([float(x) for x in top])
            out.append(np.clip(np.rint(stacked / top[:, None] * 255), 0, 255).astype(np.uint8))
        value = np.stack(out)
        return array_value(value, "uint8", type="focus", token=token, max=maxima)
