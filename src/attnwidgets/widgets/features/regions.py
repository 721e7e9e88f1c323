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


def polygon_to_data(
    polygon: Sequence[float], x_limits: tuple[float, float], y_limits: tuple[float, float]
) -> np.ndarray:
    """Vertices ``[x0, y0, x1, y1, ...]`` as fractions of the plot area (0 = left / top) in
    data coordinates, ``[k, 2]``.

    Example:
        >>> polygon_to_data([0.0, 0.0, 1.0, 0.5, 0.5, 1.0], (0.0, 4.0), (0.0, 2.0)).tolist()
        [[0.0, 2.0], [4.0, 1.0], [2.0, 0.0]]
    """
    if len(polygon) < 6 or len(polygon) % 2:
        raise ValueError(
            f"a lasso is [x0, y0, x1, y1, ...] with at least three vertices, got {len(polygon)}"
            " numbers"
        )
    xy = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    (xl, xh), (yl, yh) = x_limits, y_limits
    return np.stack([xl + xy[:, 0] * (xh - xl), yh - xy[:, 1] * (yh - yl)], axis=1)


def in_polygon(coords: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Indices of the rows of ``coords`` ``[n, 2]`` inside the closed polygon ``[k, 2]``
    (even-odd rule: a ray to the right crosses its edges an odd number of times). Vectorised
    over the points, one pass per edge.

    Example:
        >>> square = np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]])
        >>> in_polygon(np.array([[1.0, 1.0], [3.0, 1.0], [1.0, -0.5]]), square).tolist()
        [0]
    """
    x, y = coords[:, 0], coords[:, 1]
    inside = np.zeros(len(coords), dtype=bool)
    ends = np.roll(polygon, 1, axis=0)
    for (ax, ay), (bx, by) in zip(polygon.tolist(), ends.tolist(), strict=True):
        if ay == by:
            continue  # a horizontal edge: a horizontal ray never crosses it
        spans = (ay > y) != (by > y)
        crossing_x = ax + (y - ay) * (bx - ax) / (by - ay)
        inside ^= spans & (x < crossing_x)
    return np.flatnonzero(inside)
