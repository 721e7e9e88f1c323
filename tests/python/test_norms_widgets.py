"""NormView / norm_panel / packing: what crosses to the browser matches the record."""

from __future__ import annotations

import ipywidgets
import numpy as np
import pytest
import torch
from ipywidgets.widgets.widget import _instances
from ipywidgets.widgets.widget_link import Link

from attnwidgets.norm_records import NormLayer, NormRecord, TensorSummary
from attnwidgets.recording.norms import record_norms
from attnwidgets.widgets.arrays import packed_value, read_packed
from attnwidgets.widgets.norms.panel import norm_panel
from attnwidgets.widgets.norms.summary_arrays import summary_arrays
from attnwidgets.widgets.norms.view import NormView


def captured_record() -> NormRecord:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(6, 12),
        torch.nn.LayerNorm(12),
        torch.nn.Linear(12, 12),
        torch.nn.RMSNorm(12),
    )
    x = torch.randn(2, 5, 6)
    x[0, 2, 1] = 300.0  # a massive input, named later by token and dimension
    with torch.no_grad(), record_norms(model, bins=10) as norms:
        model(x)
    return norms.record


def test_pack_and_unpack_round_trip_keeps_dtype_shape_and_values() -> None:
    arrays = {"counts": np.arange(6).reshape(2, 3), "values": np.linspace(-1, 1, 5)}
    value = packed_value(arrays)
    back = read_packed(value)
    assert back["counts"].dtype == np.int32 and back["counts"].shape == (2, 3)
    np.testing.assert_array_equal(back["counts"], arrays["counts"])
    np.testing.assert_allclose(back["values"], arrays["values"], rtol=1e-7)
    assert all(item["offset"] % 4 == 0 for item in value["arrays"].values())


def test_view_state_carries_every_layer_as_binary() -> None:
    record = captured_record()
    view = NormView(record, tokens=list("abcde"))
    assert isinstance(view.data["value"], memoryview) and view.n_layers == 2 and view.bins == 10
    assert view.layer_kinds == ["layernorm", "rmsnorm"]
    arrays = read_packed(view.data)
    for index, layer in enumerate(record):
        np.testing.assert_array_equal(arrays["hist_in"][index], layer.input.counts)
        np.testing.assert_array_equal(arrays["hist_out"][index], layer.output.counts)
        np.testing.assert_allclose(arrays[f"tokens_in.{index}"][2], layer.input.token_rms)
        np.testing.assert_allclose(arrays[f"gamma.{index}"], layer.gamma)
        assert arrays["hist_in"][index].sum() == 2 * 5 * 12
    assert "beta.0" in arrays and "beta.1" not in arrays  # RMSNorm has no shift
    # the massive input reaches the first norm: named by token 2, and the Linear mixes it
    # into every feature of that token, so every outlier row is token 2
    outliers = arrays["outliers_in.1"]
    assert outliers.shape[1] == 3
    assert set(outliers[:, 0].tolist()) <= {2.0}


def test_summary_spread_is_each_sides_std() -> None:
    record = captured_record()
    arrays = summary_arrays(record)
    expected = [[layer.input.std, layer.output.std] for layer in record]
    np.testing.assert_allclose(arrays["spread"], expected, rtol=1e-6)
    np.testing.assert_allclose(record.spread(), expected, rtol=1e-6)


def test_panel_links_the_slider_to_the_view() -> None:
    box = norm_panel(captured_record(), layer=1)
    slider, view = box.children
    assert isinstance(slider, ipywidgets.IntSlider)
    assert (slider.min, slider.max, slider.value, view.layer) == (0, 1, 1, 1)
    links = [w for w in _instances.values() if isinstance(w, Link)]
    assert any(
        link.source == (slider, "value") and link.target == (view, "layer") for link in links
    )


def test_bad_input_gets_clear_errors() -> None:
    with pytest.raises(TypeError, match="NormView takes a NormRecord"):
        NormView(np.zeros(3))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="the norm record is empty"):
        NormView(NormRecord([]))
    with pytest.raises(IndexError, match=r"norm layer 5 out of range: this record has 0\.\.1"):
        NormView(captured_record(), layer=5)
    a = TensorSummary.from_numpy(np.ones((1, 2, 4)), bins=4)
    b = TensorSummary.from_numpy(np.ones((1, 2, 4)), bins=8)
    mixed = NormRecord(
        [NormLayer("a", "rmsnorm", "X", (1,), a, a), NormLayer("b", "rmsnorm", "X", (1,), b, b)]
    )
    with pytest.raises(ValueError, match=r"different bin counts \[4, 8\]"):
        NormView(mixed)
