"""The brush arithmetic of FeatureMap (widgets/features/regions.py) against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from attnwidgets.widgets.features.regions import box_to_data, in_box, plot_limits


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
