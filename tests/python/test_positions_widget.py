"""PositionView and its panels on the Python side: the binary contract and the sliders."""

from __future__ import annotations

import ipywidgets
import numpy as np
import pytest
from ipywidgets.widgets.widget import _instances
from ipywidgets.widgets.widget_link import Link

import attnwidgets.positions as pos
from attnwidgets.widgets.arrays import read_packed
from attnwidgets.widgets.positions.panel import compare, position_explorer, position_panel
from attnwidgets.widgets.positions.view import PositionView, scheme_arrays


def unpack(view: PositionView) -> dict[str, np.ndarray]:
    """Read the arrays back as js/shared/arrays.js does; the position views read float32."""
    assert all(info["dtype"] == "float32" for info in view.data["arrays"].values())
    return read_packed(view.data)


def test_scheme_arrays_are_float32_back_to_back() -> None:
    arrays = scheme_arrays(pos.t5_buckets(length=4, num_buckets=4, max_distance=8), 4)
    assert {name: a.dtype.name for name, a in arrays.items()} == {
        "bias": "float32",
        "buckets": "float32",
    }
    view = PositionView(pos.sinusoidal(2, length=3))
    assert view.data["arrays"] == {"table": {"offset": 0, "dtype": "float32", "shape": [3, 2]}}
    assert (
        np.frombuffer(view.data["value"], "<f4").tolist()
        == pos.sinusoidal(2, length=3).table.ravel().tolist()
    )


def test_absolute_view_sends_the_table_capped_at_max_positions() -> None:
    scheme = pos.sinusoidal(16, length=600)
    view = PositionView(scheme)
    arrays = unpack(view)
    assert view.length == 512 and view.n_dims == 16 and view.views[0] == "table"
    np.testing.assert_array_equal(arrays["table"], scheme.table[:512])
    assert view.curve_dims == [0, 4, 12]


def test_rotary_view_sends_frequencies_angles_and_score() -> None:
    scheme = pos.rotary(16, theta=1000.0, length=64)
    view = PositionView(scheme, view="score")
    arrays = unpack(view)
    np.testing.assert_array_equal(arrays["inv_freq"], scheme.inv_freq)
    np.testing.assert_array_equal(arrays["angles"], scheme.angles())
    np.testing.assert_array_equal(arrays["score"], scheme.relative_score())
    assert view.n_dims == 8 and view.params["theta"] == 1000.0 and not view.params["causal"]


def test_relative_views_window_the_distances_around_zero() -> None:
    weights = np.random.default_rng(0).standard_normal((32, 2)).astype(np.float32)
    scheme = pos.t5_buckets(length=100, weights=weights)
    view = PositionView(scheme, max_positions=10)
    arrays = unpack(view)
    assert view.length == 10 and view.params["min_distance"] == -9
    assert arrays["bias"].shape == (2, 19)
    np.testing.assert_array_equal(arrays["bias"], scheme.bias[:, 90:109])
    np.testing.assert_array_equal(arrays["buckets"], pos.t5_bucket(np.arange(-9, 10)))
    alibi = PositionView(pos.alibi(4, length=20))
    assert alibi.params["causal"] and alibi.n_heads == 4
    np.testing.assert_array_equal(unpack(alibi)["slopes"], pos.alibi_slopes(4))


def test_vit_grid_adds_the_grid_view() -> None:
    scheme = pos.learned(np.zeros((10, 4)), "vit", grid=(3, 3), grid_offset=1)
    view = PositionView(scheme, view="grid")
    assert view.views[-1] == "grid" and view.grid == [3, 3, 1]


def test_bad_input_is_named() -> None:
    with pytest.raises(TypeError, match=r"takes a PositionScheme .* not ndarray"):
        PositionView(np.zeros((4, 4)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="view 'score' is not one of"):
        PositionView(pos.sinusoidal(4, length=8), view="score")


def test_explorer_has_the_sliders_the_scheme_uses() -> None:
    def descriptions(box: ipywidgets.VBox) -> list[tuple[str, int]]:
        return [(s.description, s.max) for s in box.children[0].children]

    assert descriptions(position_explorer(PositionView(pos.sinusoidal(8, length=50)))) == [
        ("position", 49),
        ("dimension", 7),
    ]
    assert descriptions(position_explorer(PositionView(pos.rotary(8, length=30)))) == [
        ("position", 29),
        ("pair", 3),
    ]
    assert descriptions(position_explorer(PositionView(pos.alibi(6, length=12)))) == [
        ("position", 11),
        ("head", 5),
    ]


def test_panel_and_compare() -> None:
    single = position_panel(pos.alibi(2, length=8), view="matrix")
    assert isinstance(single, ipywidgets.VBox) and single.children[1].view == "matrix"
    tabs = position_panel([pos.sinusoidal(4, length=16), pos.alibi(2, length=8)])
    assert [tabs.get_title(i) for i in range(2)] == ["sinusoidal", "alibi"]
    with pytest.raises(ValueError, match="at least one"):
        position_panel([])
    mixed = compare(pos.alibi(2, length=8), pos.rotary(8, length=8), view="matrix")
    assert [box.children[1].view for box in mixed.children] == ["matrix", "frequencies"]
    with pytest.raises(ValueError, match="view 'matrx' is not one of"):
        compare(pos.alibi(2, length=8), pos.rotary(8, length=8), view="matrx")
    pair = compare(pos.sinusoidal(8, length=32), pos.rotary(8, length=32))
    left, right = (box.children[1] for box in pair.children)
    links = [w for w in _instances.values() if isinstance(w, Link)]
    assert any({link.source[0], link.target[0]} == {left, right} for link in links)
    unlinked = compare(pos.sinusoidal(8, length=32), pos.rotary(8, length=64))  # lengths differ
    a, b = (box.children[1] for box in unlinked.children)
    links = [w for w in _instances.values() if isinstance(w, Link)]
    assert not any({link.source[0], link.target[0]} == {a, b} for link in links)
