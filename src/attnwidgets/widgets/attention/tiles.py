"""Viewport slices of one head, max-pooled in the kernel to the pixels the browser shows.

A tile is the region ``rows = [q0, q1)`` x ``cols = [k0, k1)`` of one head, reduced to at most
``height x width`` cells by taking the maximum of each bin of ``pool_factor`` tokens (so a sharp
head stays visible; a bin holding NaN is NaN, so a broken cell stays visible too), then
quantised to uint8 against the head's colour range: ``value = lo + byte * (hi - lo) / 255``
(byte 0 is reserved for masked cells when the head holds -inf, byte 255 for NaN when it holds
NaN: see ``tile_bytes``). The head's range is computed once per (kind, layer, head) and kept
in the view's ``ViewData`` (``TileRange``), so a small tile costs only its own region.
Thumbnails are the same reduction of whole heads, each scaled to its own maximum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np
import numpy.typing as npt

from ..arrays import array_value
from .transport import MASKED_BYTE, NAN_BYTE, byte_span, head_stats

MAX_TILE_SIDE = 2048  # the browser never needs more cells than this per side


def pool_factor(length: int, pixels: int) -> int:
    """Tokens per bin so that ``length`` tokens fit in ``pixels``: ``ceil(length / pixels)``.

    Example:
        >>> pool_factor(1024, 560), pool_factor(100, 600)
        (2, 1)
    """
    return max(1, -(-length // max(1, pixels)))


def max_pool(region: npt.ArrayLike, height: int, width: int) -> npt.NDArray[np.float32]:
    """Reduce ``[rows, cols]`` to at most ``[height, width]`` by the max of each bin of
    ``pool_factor`` tokens (the last bin of an axis may be shorter).

    -inf (masked scores) counts as the lowest value of its bin; NaN wins its bin (a broken
    cell stays visible however far the view is zoomed out).

    Example:
        >>> max_pool(np.eye(4), 2, 2).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
        >>> max_pool(np.array([[0.0, np.nan], [1.0, 0.0]]), 1, 1).tolist()
        [[nan]]
    """
    values = np.asarray(region, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"max_pool needs [rows, cols], got shape {values.shape}")
    rows, cols = values.shape
    if rows == 0 or cols == 0:
        empty: npt.NDArray[np.float32] = values.copy()
        return empty
    return _pool(values, height, width)


def _pool(values: npt.NDArray[np.float32], height: int, width: int) -> npt.NDArray[np.float32]:
    # Bins of a whole number of tokens (the last one may be short): reshape + max is
    # vectorised and never copies the whole head, unlike padding or reduceat along rows.
    rows, cols = values.shape
    step = pool_factor(rows, height)
    if step > 1:
        main = rows - rows % step
        parts = [values[:main].reshape(main // step, step, cols).max(axis=1)]
        if main < rows:
            parts.append(values[main:].max(axis=0, keepdims=True))
        values = np.concatenate(parts) if len(parts) > 1 else parts[0]
    step = pool_factor(cols, width)
    if step > 1:
        main = cols - cols % step
        pooled = np.array(values[:, 0:main:step])  # a strided maximum: reshape + max over
        for offset in range(1, step):  # the last axis is much slower here
            np.maximum(pooled, values[:, offset:main:step], out=pooled)
        parts = [pooled]
        if main < cols:
            parts.append(values[:, main:].max(axis=1, keepdims=True))
        values = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
    return np.ascontiguousarray(values, dtype=np.float32)


def head_range(head: npt.ArrayLike) -> tuple[float, float]:
    """Colour range of a head: ``(min(0, lowest finite), highest finite)``, never empty.

    Example:
        >>> head_range(np.array([[0.25, 0.5], [-np.inf, 1.0]]))
        (0.0, 1.0)
    """
    values = np.asarray(head, dtype=np.float32)
    if values.size == 0:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    if not (np.isfinite(low) and np.isfinite(high)):  # masked (-inf) or broken cells: skip them
        finite = values[np.isfinite(values)]
        low = float(finite.min()) if finite.size else 0.0
        high = float(finite.max()) if finite.size else 1.0
    lo = min(0.0, low)
    return lo, high if high > lo else lo + 1.0


def finite_range(head: npt.ArrayLike) -> tuple[float, float]:
    """``(lowest finite, highest finite)`` (signed: scores), never empty.

    Example:
        >>> finite_range(np.array([[-2.0, -np.inf], [3.0, 1.0]]))
        (-2.0, 3.0)
    """
    values = np.asarray(head, dtype=np.float32)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    return lo, hi if hi > lo else lo + 1.0


def is_index(value: Any) -> TypeGuard[int]:
    """A whole number from a message: an ``int`` and not a ``bool`` (JSON ``true`` arrives as
    ``True``, which Python counts as the int 1).

    Example:
        >>> is_index(3), is_index(True), is_index(2.0)
        (True, False, False)
    """
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class TileRequest:
    """A validated ``request_tile`` message."""

    layer: int
    head: int
    rows: tuple[int, int]
    cols: tuple[int, int]
    height: int
    width: int

    @classmethod
    def parse(cls, content: dict[str, Any], shape: tuple[int, int, int, int]) -> TileRequest:
        """Check a request against ``(layers, heads, query, key)``; ValueError names the field.

        Example:
            >>> msg = {"layer": 0, "head": 1, "rows": [0, 4], "cols": [2, 4], "pixels": [2, 2]}
            >>> TileRequest.parse(msg, (1, 2, 4, 4)).cols
            (2, 4)
        """
        n_layers, n_heads, n_q, n_k = shape
        layer, head = content.get("layer"), content.get("head")
        if not is_index(layer) or not 0 <= layer < n_layers:
            raise ValueError(f"tile layer {layer!r} out of range 0..{n_layers - 1}")
        if not is_index(head) or not 0 <= head < n_heads:
            raise ValueError(f"tile head {head!r} out of range 0..{n_heads - 1}")
        rows = _span(content.get("rows"), n_q, "rows")
        cols = _span(content.get("cols"), n_k, "cols")
        pixels = content.get("pixels")
        if (
            not isinstance(pixels, list)
            or len(pixels) != 2
            or not all(is_index(p) and p > 0 for p in pixels)
        ):
            raise ValueError(f"tile pixels must be [height, width] > 0, got {short_repr(pixels)}")
        height, width = (min(p, MAX_TILE_SIDE) for p in pixels)
        return cls(layer, head, rows, cols, height, width)


def _span(value: Any, length: int, name: str) -> tuple[int, int]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(is_index(v) for v in value)
        or not 0 <= value[0] < value[1] <= length
    ):
        raise ValueError(
            f"tile {name} must be [start, stop] within 0..{length}, got {short_repr(value)}"
        )
    return int(value[0]), int(value[1])


def short_repr(value: Any) -> str:
    """``repr`` cut to 80 characters (an error message must not echo a huge field)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


@dataclass(frozen=True)
class TileRange:
    """How a head's tiles are encoded: colour range ``[lo, hi]`` and the reserved bytes
    (``masked``: byte 0 = -inf; ``nan``: byte 255 = NaN). Finite values take the bytes
    ``first..top`` of ``transport.byte_span``: ``value = lo + (byte - first) * (hi - lo) /
    (top - first)``."""

    lo: float
    hi: float
    masked: bool
    nan: bool

    @classmethod
    def of(cls, head: npt.NDArray[Any], kind: str | None = None) -> TileRange:
        """The range of one head: probabilities ``min(0, lowest)..highest`` (``head_range``),
        score kinds the finite ``min..max`` (``finite_range``); one pass, no float copy.

        Example:
            >>> TileRange.of(np.array([[0.5, np.nan], [-np.inf, 2.0]], np.float32), "masked")
            TileRange(lo=0.5, hi=2.0, masked=True, nan=True)
        """
        stats = head_stats(head)
        lo = min(0.0, stats.low) if kind in (None, "probability") else stats.low
        hi = stats.high if stats.high > lo else lo + 1.0
        return cls(lo, hi, stats.neginf, stats.nan)

    def meta(self) -> dict[str, Any]:
        """``lo``, ``hi`` and the reserved bytes, as a tile reply carries them."""
        meta: dict[str, Any] = {"lo": self.lo, "hi": self.hi}
        if self.masked:
            meta["masked_byte"] = MASKED_BYTE
        if self.nan:
            meta["nan_byte"] = NAN_BYTE
        return meta


def tile_bytes(values: npt.NDArray[np.float32], r: TileRange) -> npt.NDArray[np.uint8]:
    """``values`` as uint8, encoded as ``r`` says (see ``TileRange``).

    Example:
        >>> tile_bytes(np.array([0.0, 0.25, 1.0], np.float32), TileRange(0.0, 1.0, False, False))
        array([  0,  64, 255], dtype=uint8)
        >>> r = TileRange(0.0, 1.0, masked=True, nan=True)
        >>> tile_bytes(np.array([-np.inf, 0.0, 1.0, np.nan], np.float32), r).tolist()
        [0, 1, 254, 255]
    """
    first, top = byte_span(r.masked, r.nan)
    scale = (r.hi - r.lo) / (top - first) if r.hi > r.lo else 1.0
    scaled = np.subtract(values, np.float32(r.lo), dtype=np.float32)
    scaled *= np.float32(1.0 / scale)
    scaled += np.float32(first)
    np.rint(scaled, out=scaled)
    np.clip(scaled, first, top, out=scaled)  # +inf -> top, -inf -> first
    nan = np.isnan(scaled)
    scaled[nan] = first
    out: npt.NDArray[np.uint8] = scaled.astype(np.uint8)
    if r.masked:
        out[np.isneginf(values)] = MASKED_BYTE
    out[nan] = NAN_BYTE if r.nan else (MASKED_BYTE if r.masked else first)
    return out


def make_tile(
    head: npt.NDArray[np.float32],
    request: TileRequest,
    kind: str | None = None,
    colour: TileRange | None = None,
) -> dict[str, Any]:
    """A tile of ``head`` as one uint8 value (``arrays.array_value``) with its meta.

    ``colour`` is the head's ``TileRange`` (computed here when not given: a view passes the
    one it keeps, so a small tile does not rescan the whole head). When the head holds -inf
    (masked scores) byte 0 means "masked" and the meta carries ``"masked_byte": 0``; when it
    holds NaN byte 255 means NaN (``"nan_byte": 255``); ``kind`` is echoed when given.

    Example:
        >>> req = TileRequest(0, 0, (0, 4), (0, 4), 2, 2)
        >>> tile = make_tile(np.eye(4, dtype=np.float32), req)
        >>> tile["shape"], list(tile["value"]), tile["type"]
        ([2, 2], [255, 0, 0, 255], 'tile')
    """
    (q0, q1), (k0, k1) = request.rows, request.cols
    pooled = max_pool(head[q0:q1, k0:k1], request.height, request.width)
    colour = colour or TileRange.of(head, kind)
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
    return array_value(tile_bytes(pooled, colour), "uint8", **meta)


def thumbnails(layers: Any, side: int, **meta: Any) -> dict[str, Any]:
    """Every head pooled to ``side x side`` (or smaller), each over its own ``head_range``,
    as one uint8 value ``[layers, heads, side, side]`` with ``lo`` / ``hi`` per head.

    Example:
        >>> thumbs = thumbnails([np.eye(4, dtype=np.float32)[None] * 0.5], 2)
        >>> list(thumbs["value"]), thumbs["shape"], thumbs["hi"]
        ([255, 0, 0, 255], [1, 1, 2, 2], [[0.5]])
    """
    blocks: list[npt.NDArray[np.uint8]] = []
    lows: list[list[float]] = []
    highs: list[list[float]] = []
    shape = [0, 0, 0, 0]
    for layer in layers:
        block = np.asarray(layer, dtype=np.float32)
        lows.append([])
        highs.append([])
        for head in block:
            pooled = max_pool(head, side, side)
            lo, hi = head_range(head)
            lows[-1].append(lo)
            highs[-1].append(hi)
            blocks.append(tile_bytes(pooled, TileRange(lo, hi, False, False)))
            shape = [0, block.shape[0], pooled.shape[0], pooled.shape[1]]
    shape[0] = len(lows)
    data = np.concatenate(blocks) if blocks else np.zeros(0, np.uint8)
    return array_value(data.reshape(shape), "uint8", lo=lows, hi=highs, **meta)


def token_focus(layers: Any, token: int, width: int, kind: str = "probability") -> dict[str, Any]:
    """What ``token`` attends to (its query row) and what attends to it (its key column), for
    every layer x head, each max-pooled to ``width`` positions and scaled to its own maximum.

    One uint8 value ``[2, layers * heads, width']``: block 0 = rows, block 1 = columns; ``max``
    holds the two ``[layers * heads]`` scales. Score kinds (signed, ``-inf`` where masked) map
    each line over its own finite ``[min, max]`` instead (``min`` in the meta; masked = 0).

    Example:
        >>> focus = token_focus([np.eye(3, dtype=np.float32)[None]], 1, 3)
        >>> focus["shape"], list(focus["value"])
        ([2, 1, 3], [0, 255, 0, 0, 255, 0])
        >>> inf = np.inf
        >>> scores = np.array([[[-2, 1, -inf], [4, 0, -inf], [1, 1, 1]]], np.float32)
        >>> focus = token_focus([scores], 0, 3, "masked")
        >>> list(focus["value"]), focus["min"], focus["max"]
        ([0, 255, 0, 0, 255, 128], [[-2.0], [-2.0]], [[1.0], [4.0]])
    """
    if kind != "probability":
        return _signed_focus(layers, token, width, kind)
    rows: list[npt.NDArray[np.float32]] = []
    cols: list[npt.NDArray[np.float32]] = []
    for layer in layers:
        block = np.asarray(layer, dtype=np.float32)
        rows.extend(block[:, token, :] if token < block.shape[1] else np.zeros_like(block[:, 0]))
        cols.extend(block[:, :, token] if token < block.shape[2] else np.zeros_like(block[:, :, 0]))
    out: list[npt.NDArray[np.uint8]] = []
    maxima: list[list[float]] = []
    for lines in (rows, cols):
        stacked = max_pool(np.stack(lines), len(lines), width)
        stacked = np.where(np.isfinite(stacked), stacked, np.float32(0))
        top = np.maximum(stacked.max(axis=1, initial=0.0), 1e-30)
        maxima.append([float(x) for x in top])
        out.append(np.clip(np.rint(stacked / top[:, None] * 255), 0, 255).astype(np.uint8))
    return array_value(np.stack(out), "uint8", type="focus", token=token, max=maxima)


def _focus_lines(layers: Any, token: int) -> tuple[list[Any], list[Any]]:
    rows: list[Any] = []
    cols: list[Any] = []
    for layer in layers:
        block = np.asarray(layer, dtype=np.float32)
        rows.extend(block[:, token, :])
        cols.extend(block[:, :, token])
    return rows, cols


def _signed_focus(layers: Any, token: int, width: int, kind: str) -> dict[str, Any]:
    """``token_focus`` for score kinds: each line over its own finite [min, max]."""
    out: list[npt.NDArray[np.uint8]] = []
    lows: list[list[float | None]] = []
    highs: list[list[float | None]] = []
    for lines in _focus_lines(layers, token):
        stacked = max_pool(np.stack(lines), len(lines), width)
        finite = np.isfinite(stacked)
        low = np.where(finite, stacked, np.inf).min(axis=1)
        high = np.where(finite, stacked, -np.inf).max(axis=1)
        lows.append([float(v) if np.isfinite(v) else None for v in low])  # None: all masked
        highs.append([float(v) if np.isfinite(v) else None for v in high])
        span = np.where(high > low, high - low, 1.0)
        base = np.where(np.isfinite(low), low, 0.0)
        scaled = (np.where(finite, stacked, base[:, None]) - base[:, None]) / span[:, None]
        data = np.clip(np.rint(scaled * 255), 0, 255).astype(np.uint8)
        data[~finite] = 0
        out.append(data)
    meta = {"type": "focus", "token": token, "kind": kind, "min": lows, "max": highs}
    return array_value(np.stack(out), "uint8", **meta)
