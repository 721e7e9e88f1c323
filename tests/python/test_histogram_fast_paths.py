"""Histogram fast paths against numpy: the guess ``(x - lo) / width`` without numpy's
correction, on and next to every edge, and the check that decides where it may be used.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import edge_values

from attnwidgets.recording.norms.histogram import Workspace, exact_guess, histogram, histogram_host


@pytest.mark.parametrize("bins", [64, 128, 16, 2])
def test_exact_guess_bins_equal_numpy_on_and_next_to_every_edge(bins: int) -> None:
    rng = np.random.default_rng(bins)
    work = Workspace()
    for _ in range(50):
        base = (rng.normal(size=500) * 10.0 ** rng.uniform(-3, 3)).astype(np.float32)
        lo, hi = float(base.min()), float(base.max())
        values = edge_values(bins, lo, hi, base)
        assert exact_guess([torch.float32], bins, lo, hi)
        want, _ = np.histogram(values.astype(np.float64), bins=bins, range=(lo, hi))
        other = values[::-1].copy()
        got = histogram_host([values, other], bins, lo, hi, work)
        np.testing.assert_array_equal(got, np.stack([want, want]))
        # the torch path of the same guess (inside=True: no value outside, none NaN)
        on_device = histogram(torch.from_numpy(values), bins, lo, hi, inside=True, workspace=work)
        np.testing.assert_array_equal(on_device.numpy(), want)


def guess_switches_at_every_edge(bins: int, lo: float, hi: float) -> bool:
    """The oracle: the guess of the float32 values on either side of each of numpy's inner
    edges (both are monotonic in x, so these decide every float32 value)."""
    width = (hi - lo) / bins
    edges = np.linspace(lo, hi, bins + 1)[1:-1]
    first = edges.astype(np.float32)
    up = first < edges
    first[up] = np.nextafter(first[up], np.float32(np.inf))  # first float32 at or above
    below = np.nextafter(first, np.float32(-np.inf))
    step = np.arange(1, bins)
    guess_first = np.trunc((first.astype(np.float64) - lo) / width)
    guess_below = np.trunc((below.astype(np.float64) - lo) / width)
    return bool((guess_first >= step).all() and (guess_below < step).all())


def test_guess_is_taken_only_where_it_is_exact_for_every_float32() -> None:
    rng = np.random.default_rng(11)
    taken = refused = 0
    for i in range(6000):
        kind = i % 4
        if kind == 0:  # any two float32, of any scales
            pair = rng.normal(size=2) * 10.0 ** rng.uniform(-6, 6, size=2)
        elif kind == 1:  # activations: below and above 0, one scale
            scale = 10.0 ** rng.uniform(-3, 3)
            pair = np.array([-abs(rng.normal()), abs(rng.normal())]) * scale
        elif kind == 2:  # round numbers (edges on float32 values, often one at 0)
            pair = np.array([-rng.integers(1, 100) / 4, rng.integers(1, 100) / 8])
        else:  # above 0, possibly far from it
            low = 10.0 ** rng.uniform(-8, 3)
            pair = np.array([low, low * rng.uniform(1.001, 1e4)])
        lo, hi = (float(v) for v in np.sort(pair.astype(np.float32)))
        if not hi > lo:
            continue
        for bins in (64, 16):
            if exact_guess([torch.float32], bins, lo, hi):
                taken += 1
                assert guess_switches_at_every_edge(bins, lo, hi), (bins, lo, hi)
            else:
                refused += 1
    assert taken > 10 * refused > 0  # the fast path is the rule, the correction the exception
    assert not guess_switches_at_every_edge(64, -4.0, 4.0)  # the oracle sees the edge at 0
    assert not exact_guess([torch.float64], 64, 0.0, 1.0)
    assert not exact_guess([torch.float32], 50, 0.0, 1.0)
    assert not exact_guess([torch.float32], 64, 0.1, 0.7)  # not float32: x - lo may round


def test_half_precision_samples_count_like_numpy() -> None:
    values = (torch.randn(4000) * 50).half()
    lo, hi = float(values.min()), float(values.max())
    sample = values.float().numpy()
    want, _ = np.histogram(sample.astype(np.float64), bins=64, range=(lo, hi))
    np.testing.assert_array_equal(histogram_host([sample], 64, lo, hi, Workspace())[0], want)
