"""Positional-encoding schemes as plain numpy records, and the formulas that generate them.

``PositionScheme`` is what ``aw.extract_positions(model)`` (and ``lens.positions()``) returns
and what the generators here build from formulas alone, so the widgets treat both the same
way. Every generator takes ``length`` (positions, or relative distances) by keyword:

>>> import attnwidgets.positions as pos
>>> pos.sinusoidal(16, length=64).table.shape    # [positions, dim]
(64, 16)
>>> pos.rotary(64, theta=10000).inv_freq.shape   # [dim / 2]
(32,)
>>> pos.alibi(8, length=16).slopes[:2].tolist()  # [heads]
[0.5, 0.25]

The record lives in ``scheme``, the absolute tables (sinusoidal, learned) in ``absolute``, the
relative schemes (rotary, ALiBi, T5 buckets) in ``relative``.
"""

from __future__ import annotations

from .absolute import learned, sinusoidal
from .relative import alibi, alibi_slopes, rotary, t5_bucket, t5_buckets
from .scheme import (
    ABSOLUTE_KINDS,
    KINDS,
    RELATIVE_KINDS,
    FloatArray,
    IntArray,
    PositionScheme,
    similarity,
)

__all__ = [
    "ABSOLUTE_KINDS",
    "KINDS",
    "RELATIVE_KINDS",
    "FloatArray",
    "IntArray",
    "PositionScheme",
    "alibi",
    "alibi_slopes",
    "learned",
    "rotary",
    "similarity",
    "sinusoidal",
    "t5_bucket",
    "t5_buckets",
]
