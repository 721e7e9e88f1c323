"""Selections computed in the kernel from a rectangle drawn on the plot (numpy only).

The FeatureMap pins its scales to ``plot_limits`` so that a rectangle given as fractions of
the plot area (what the page reads off bqplot's brush) maps to data coordinates exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MARGIN = 0.05
"""Each side of the plot extends this fraction of the data range past the outermost point."""


def plot_limits(values: np.ndarray, margin: float = MARGIN) -> tuple[float, float]:
    """The axis range that shows every finite value with a margin (a unit range if flat).

    Example:
        >>> plot_limits(np.array([0.0, 10.0]))
        (-0.5, 10.5)
        >>> plot_limits(np.array([3.0, 3.0]))
        (2.5, 3.5)
    """
    low, high = (float(np.min(values)), float(np.max(values))) if len(values) else (0.0, 1.0)
    pad = (high - low) * margin if high > low else 0.5
    return low - pad, high + pad


def box_to_data(
    box: Sequence[float], x_limits: tuple[float, float], y_limits: tuple[float, float]
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Fractions ``[x0, y0, x1, y1]`` of the plot area (0 = left / top) as data ranges
    ``((x_low, x_high), (y_low, y_high))``; y grows upwards on the plot.

    Example:
        >>> box_to_data([0.25, 0.25, 0.5, 0.75], (0.0, 8.0), (-1.0, 1.0))
        ((2.0, 4.0), (-0.5, 0.5))
    """
    if len(box) != 4:
        raise ValueError(f"a brush box is [x0, y0, x1, y1] fractions of the plot, got {box!r}")
    fx0, fy0, fx1, fy1 = (float(v) for v in box)
    (xl, xh), (yl, yh) = x_limits, y_limits
    xs = sorted((xl + fx0 * (xh - xl), xl + fx1 * (xh - xl)))
    ys = sorted((yh - fy0 * (yh - yl), yh - fy1 * (yh - yl)))
    return (xs[0], xs[1]), (ys[0], ys[1])


def in_box(
    coords: np.ndarray, x_range: tuple[float, float], y_range: tuple[float, float]
) -> np.ndarray:
    """Indices of the rows of ``coords`` ``[n, 2]`` inside the closed rectangle.

    Example:
        >>> pts = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5], [1.0, 3.0]])
        >>> in_box(pts, (0.5, 2.0), (0.0, 1.0)).tolist()
        [1, 2]
    """
    x, y = coords[:, 0], coords[:, 1]
    inside = (x >= x_range[0]) & (x <= x_range[1]) & (y >= y_range[0]) & (y <= y_range[1])
    return np.flatnonzero(inside)
