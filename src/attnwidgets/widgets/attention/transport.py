"""Turn float attention blocks into compact binary buffers for the browser (numpy only).

Each head is quantised to uint8 with its own ``offset`` and ``scale``:
``value = offset[h] + byte * scale[h]``. Probabilities keep offset 0 so that zero stays zero.
Two bytes can be reserved, and the meta then names them:

- ``"masked_byte": 0`` when the block holds ``-inf`` (masked cells): finite values start at
  byte 1 (over each head's finite ``[min, max]``);
- ``"nan_byte": 255`` when the block holds NaN (a broken forward): finite values stop at 254.

The encoder works head by head, in place, in float32: one request costs the uint8 output and
one head of float32 scratch, whatever the size of the layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..arrays import array_value

MASKED_BYTE = 0
NAN_BYTE = 255

Payload = bytes | bytearray  # the bytes of one binary buffer (bytearray: filled in place)


def byte_span(masked: bool, nan: bool) -> tuple[int, int]:
    """First and last byte that hold finite values.

    Example:
        >>> byte_span(False, False), byte_span(True, False), byte_span(True, True)
        ((0, 255), (1, 255), (1, 254))
    """
    return (MASKED_BYTE + 1 if masked else 0), (NAN_BYTE - 1 if nan else 255)


@dataclass(frozen=True)
class EncodedBlock:
    """One ``[heads, query, key]`` block as bytes plus what is needed to decode it."""

    data: Payload
    shape: tuple[int, int, int]
    offset: list[float]
    scale: list[float]
    masked: bool = False  # byte 0 means "masked" (-inf), finite values use 1..
    nan: bool = False  # byte 255 means NaN, finite values stop at 254

    def value(self, **meta: Any) -> dict[str, Any]:
        """The block as one uint8 value (``arrays.array_value``): ``offset`` and ``scale`` per
        head, the reserved bytes when used, and ``meta``.

        Example:
            >>> value = encode_block(np.array([[[0.0, 1.0]]])).value(layer=2)
            >>> value["shape"], value["offset"], value["layer"], "masked_byte" in value
            ([1, 1, 2], [0.0], 2, False)
        """
        extra: dict[str, Any] = {"offset": self.offset, "scale": self.scale}
        if self.masked:
            extra["masked_byte"] = MASKED_BYTE
        if self.nan:
            extra["nan_byte"] = NAN_BYTE
        data = np.frombuffer(self.data, np.uint8).reshape(self.shape)
        return array_value(data, "uint8", **extra, **meta)


@dataclass(frozen=True)
class HeadStats:
    """What the encoder needs to know about one head: finite range and special values."""

    low: float  # lowest finite value (0 when none)
    high: float  # highest finite value (0 when none)
    neginf: bool  # holds -inf (masked)
    nan: bool  # holds NaN


def head_stats(head: npt.NDArray[Any]) -> HeadStats:
    """Finite range and special values of one ``[query, key]`` head, without a float copy.

    Example:
        >>> head_stats(np.array([[0.5, -np.inf], [np.nan, 2.0]], np.float32))
        HeadStats(low=0.5, high=2.0, neginf=True, nan=True)
    """
    if head.size == 0:
        return HeadStats(0.0, 0.0, False, False)
    low, high = float(head.min()), float(head.max())  # NaN when any NaN
    if np.isfinite(low) and np.isfinite(high):
        return HeadStats(low, high, False, False)
    finite = np.isfinite(head)
    low = float(np.min(head, where=finite, initial=np.inf))
    high = float(np.max(head, where=finite, initial=-np.inf))
    if not np.isfinite(low):  # nothing finite
        low = high = 0.0
    return HeadStats(low, high, bool(np.isneginf(head).any()), bool(np.isnan(head).any()))


def encode_block(
    block: npt.ArrayLike, masked: bool | None = None, nan: bool | None = None
) -> EncodedBlock:
    """Quantise ``[heads, query, key]`` floats to uint8 per head.

    ``masked`` (default: whether the block holds ``-inf``) reserves byte 0 for masked cells
    and maps finite values from byte 1 over each head's finite range; ``nan`` (default:
    whether the block holds NaN) reserves byte 255 for NaN cells. ``+inf`` takes the top byte.

    Example:
        >>> enc = encode_block(np.array([[[0.0, 0.5], [1.0, 0.25]]]))
        >>> list(enc.data), enc.offset, round(enc.scale[0] * 255, 6)
        ([0, 128, 255, 64], [0.0], 1.0)
        >>> list(encode_block(np.array([[[-2.0, -np.inf], [0.5, 3.0]]])).data)
        [1, 0, 128, 255]
        >>> enc = encode_block(np.array([[[0.0, np.nan], [1.0, 0.5]]]))
        >>> list(enc.data), enc.value()["nan_byte"]
        ([0, 255, 254, 127], 255)
    """
    values = block if isinstance(block, np.ndarray) else np.asarray(block, dtype=np.float32)
    if values.ndim != 3:
        raise ValueError(f"expected [heads, query, key], got shape {values.shape}")
    heads, n_q, n_k = (int(n) for n in values.shape)
    stats = [head_stats(values[h]) for h in range(heads)]
    if masked is None:
        masked = any(s.neginf for s in stats)
    if nan is None:
        nan = any(s.nan for s in stats)
    first, top = byte_span(masked, nan)
    out = bytearray(heads * n_q * n_k)
    target = np.frombuffer(out, dtype=np.uint8).reshape(heads, n_q, n_k)
    scratch = np.empty((n_q, n_k), np.float32)
    offsets: list[float] = []
    scales: list[float] = []
    for h, s in enumerate(stats):
        if masked:  # finite [low, high] -> first..top, value = offset + byte * scale
            scale = (s.high - s.low) / (top - first)
            scale = scale if scale > 0 else 1.0
            offset = s.low - first * scale
        else:  # probabilities keep 0 at byte 0
            offset = min(s.low, 0.0)
            scale = (s.high - offset) / top
            scale = scale if scale > 0 else 1.0
        offsets.append(float(offset))
        scales.append(float(scale))
        _quantise_head(values[h], s, offset, scale, first, top, scratch, target[h], masked, nan)
    return EncodedBlock(out, (heads, n_q, n_k), offsets, scales, masked=masked, nan=nan)


def _quantise_head(
    head: npt.NDArray[Any],
    stats: HeadStats,
    offset: float,
    scale: float,
    first: int,
    top: int,
    scratch: npt.NDArray[np.float32],
    target: npt.NDArray[np.uint8],
    masked: bool,
    nan: bool,
) -> None:
    """``target = clip(rint((head - offset) / scale), first, top)`` in ``scratch``, in place;
    then the reserved bytes where the head holds -inf / NaN."""
    np.subtract(head, np.float32(offset), out=scratch, dtype=np.float32)
    np.multiply(scratch, np.float32(1.0 / scale), out=scratch)
    np.rint(scratch, out=scratch)
    np.clip(scratch, first, top, out=scratch)  # +inf -> top, -inf -> first; NaN stays NaN
    if stats.nan:
        scratch[np.isnan(scratch)] = first  # never cast NaN to an integer
    np.copyto(target, scratch, casting="unsafe")
    if stats.nan and (nan or masked):
        target[np.isnan(head)] = NAN_BYTE if nan else MASKED_BYTE
    if stats.neginf and masked:
        target[np.isneginf(head)] = MASKED_BYTE


def decode_block(encoded: EncodedBlock) -> npt.NDArray[np.float32]:
    """The inverse of ``encode_block`` (up to half a quantisation step; masked bytes -> -inf,
    NaN bytes -> NaN).

    Example:
        >>> x = np.random.default_rng(0).random((2, 3, 3)).astype(np.float32)
        >>> bool(np.abs(decode_block(encode_block(x)) - x).max() <= 0.5 / 255 + 1e-7)
        True
    """
    raw = np.frombuffer(encoded.data, dtype=np.uint8).reshape(encoded.shape).astype(np.float32)
    offset = np.asarray(encoded.offset, np.float32)[:, None, None]
    scale = np.asarray(encoded.scale, np.float32)[:, None, None]
    values = (offset + raw * scale).astype(np.float32)
    if encoded.masked:
        values[raw == MASKED_BYTE] = -np.inf
    if encoded.nan:
        values[raw == NAN_BYTE] = np.nan
    return values
