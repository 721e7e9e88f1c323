"""The brush arithmetic of FeatureMap (widgets/features/regions.py) against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from attnwidgets.widgets.features.regions import (
    box_to_data,
    in_box,
    in_polygon,
    plot_limits,
    polygon_to_data,
)


def test_plot_limits_by_hand() -> None:
    # range 4 - (-2) = 6, 5% of it = 0.3 each side
    assert plot_limits(np.array([1.0, -2.0, 4.0])) == pytest.approx((-2.3, 4.3))
    assert plot_limits(np.array([7.0])) == (6.5, 7.5)  # one value: a unit range around it


def test_box_to_data_by_hand() -> None:
    # plot x from 0 to 10, y from -2 (bottom) to 2 (top); the box's left edge at 10% of the
    # width -> x 1, right at 50% -> x 5; its top at 25% of the height from the top -> y 1,
    # bottom at 75% -> y -1.
    (x_range, y_range) = box_to_data([0.1, 0.25, 0.5, 0.75], (0.0, 10.0), (-2.0, 2.0))
    assert x_range == pytest.approx((1.0, 5.0)) and y_range == pytest.approx((-1.0, 1.0))
    # dragged the other way (right to left, bottom to top): the same rectangle
    flipped = box_to_data([0.5, 0.75, 0.1, 0.25], (0.0, 10.0), (-2.0, 2.0))
    assert [*flipped[0], *flipped[1]] == pytest.approx([1.0, 5.0, -1.0, 1.0])
    with pytest.raises(ValueError, match=r"\[x0, y0, x1, y1\]"):
        box_to_data([0.1, 0.2], (0.0, 1.0), (0.0, 1.0))


def test_in_box_by_hand() -> None:
    points = np.array(
        [
            [1.0, 0.0],  # on the left edge: in
            [5.0, 1.0],  # on the top right corner: in
            [3.0, -1.5],  # below: out
            [0.99, 0.0],  # just left: out
            [2.5, 0.5],  # inside
            [6.0, 0.0],  # right: out
        ]
    )
    assert in_box(points, (1.0, 5.0), (-1.0, 1.0)).tolist() == [0, 1, 4]
    assert in_box(np.zeros((0, 2)), (0.0, 1.0), (0.0, 1.0)).tolist() == []


def test_in_polygon_by_hand() -> None:
    # an L shape: the unit square [0, 2] x [0, 2] without its top-right quarter
    shape = np.array([[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]], dtype=float)
    points = np.array(
        [
            [0.5, 0.5],  # bottom-left quarter: in
            [1.5, 0.5],  # bottom-right quarter: in
            [0.5, 1.5],  # top-left quarter: in
            [1.5, 1.5],  # the missing quarter: out
            [2.5, 0.5],  # right of everything: out
            [-0.5, 1.0],  # left of everything: out
            [0.5, 1.0],  # level with a horizontal edge, inside: in
        ]
    )
    assert in_polygon(points, shape).tolist() == [0, 1, 2, 6]
    # the same polygon given clockwise, and a self-crossing bow tie (even-odd)
    assert in_polygon(points, shape[::-1].copy()).tolist() == [0, 1, 2, 6]
    bow = np.array([[0, 0], [2, 2], [2, 0], [0, 2]], dtype=float)
    probe = np.array([[0.3, 1.0], [1.7, 1.0], [1.0, 0.3], [1.0, 1.7]])
    assert in_polygon(probe, bow).tolist() == [0, 1]


def test_polygon_to_data_by_hand() -> None:
    # plot x 0..10, y -2..2: the fraction (0.1, 0.25) is x 1, y 1 (y counts from the top)
    vertices = polygon_to_data([0.1, 0.25, 0.5, 0.25, 0.5, 0.75], (0.0, 10.0), (-2.0, 2.0))
    np.testing.assert_allclose(vertices, [[1.0, 1.0], [5.0, 1.0], [5.0, -1.0]])
    with pytest.raises(ValueError, match="at least three vertices"):
        polygon_to_data([0.1, 0.2, 0.3, 0.4], (0.0, 1.0), (0.0, 1.0))


def test_in_polygon_agrees_with_scikit_image() -> None:
    from skimage.measure import points_in_poly

    rng = np.random.default_rng(3)
    points = rng.uniform(-2, 2, size=(5000, 2))
    angles = np.sort(rng.uniform(0, 2 * np.pi, 40))
    radii = rng.uniform(0.3, 1.8, 40)  # a star-shaped, very concave polygon
    star = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    expected = np.flatnonzero(points_in_poly(points, star))
    assert 500 < len(expected) < 4500
    assert in_polygon(points, star).tolist() == expected.tolist()
