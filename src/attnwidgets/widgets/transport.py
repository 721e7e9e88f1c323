"""Turn float attention blocks into compact binary buffers for the browser (numpy only).

Each head is quantised to uint8 with its own ``offset`` and ``scale``:
``value = offset[h] + byte * scale[h]``. Probabilities keep offset 0 so that zero stays zero.
A block holding ``-inf`` (masked cells; NaN counts as masked too) reserves byte 0 for "masked": the
finite values of each head map to bytes 1..255 over the head's finite ``[min, max]`` (the same
decoding formula), and the meta carries ``"masked_byte": 0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

MASKED_BYTE = 0


@dataclass(frozen=True)
class EncodedBlock:
    """One ``[heads, query, key]`` block as bytes plus what is needed to decode it."""

    data: bytes
    shape: tuple[int, int, int]
    offset: list[float]
    scale: list[float]
    masked: bool = False  # byte 0 means "masked" (non-finite), finite values use 1..255

    def meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "dtype": "uint8",
            "shape": list(self.shape),
            "offset": self.offset,
            "scale": self.scale,
        }
        if self.masked:
            meta["masked_byte"] = MASKED_BYTE
        return meta


def encode_block(block: npt.ArrayLike, masked: bool | None = None) -> EncodedBlock:
    """Quantise ``[heads, query, key]`` floats to uint8 per head.

    ``masked`` (default: whether the block holds ``-inf``) reserves byte 0 for masked
    (``-inf`` / NaN) cells and maps finite values to 1..255 over each head's finite range.

    Example:
        >>> enc = encode_block(np.array([[[0.0, 0.5], [1.0, 0.25]]]))
        >>> list(enc.data), enc.offset, round(enc.scale[0] * 255, 6)
        ([0, 128, 255, 64], [0.0], 1.0)
        >>> list(encode_block(np.array([[[-2.0, -np.inf], [0.5, 3.0]]])).data)
        [1, 0, 128, 255]
    """
    values = np.asarray(block, dtype=np.float32)
    if values.ndim != 3:
        raise ValueError(f"expected [heads, query, key], got shape {values.shape}")
    heads = values.shape[0]
    finite = np.isfinite(values).reshape(heads, -1)
    flat = values.reshape(heads, -1)
    if flat.shape[1] == 0:
        lows = highs = np.zeros(heads, np.float64)
    else:
        lows = np.where(finite, flat, np.inf).min(axis=1).astype(np.float64)
        highs = np.where(finite, flat, -np.inf).max(axis=1).astype(np.float64)
        lows[~np.isfinite(lows)] = 0.0
        highs[~np.isfinite(highs)] = 0.0
    if masked is None:
        masked = bool(np.isneginf(values).any())
    shape = (int(values.shape[0]), int(values.shape[1]), int(values.shape[2]))
    if masked:  # byte 0 = masked; finite [low, high] -> 1..255, value = offset + byte * scale
        scales = (highs - lows) / 254.0
        scales[scales <= 0] = 1.0
        offsets = lows - scales
        cleaned = np.where(np.isfinite(values), values, lows[:, None, None])
        cleaned = np.where(np.isposinf(values), highs[:, None, None], cleaned)
        scaled = (cleaned - offsets[:, None, None]) / scales[:, None, None]
        quantised = np.clip(np.rint(scaled), 1, 255).astype(np.uint8)
        quantised[np.isneginf(values) | np.isnan(values)] = MASKED_BYTE
        return EncodedBlock(
            data=quantised.tobytes(),
            shape=shape,
            offset=[float(x) for x in offsets],
            scale=[float(x) for x in scales],
            masked=True,
        )
    offsets = np.minimum(lows, 0.0)
    scales = (highs - offsets) / 255.0
    scales[scales <= 0] = 1.0
    cleaned = np.where(np.isfinite(values), values, offsets[:, None, None])
    scaled = (cleaned - offsets[:, None, None]) / scales[:, None, None]
    quantised = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return EncodedBlock(
        data=quantised.tobytes(),
        shape=shape,
        offset=[float(x) for x in offsets],
        scale=[float(x) for x in scales],
    )


def decode_block(encoded: EncodedBlock) -> npt.NDArray[np.float32]:
    """The inverse of ``encode_block`` (up to half a quantisation step; masked bytes -> -inf).

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
    return values
