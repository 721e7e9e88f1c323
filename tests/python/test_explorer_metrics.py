"""Per-head metrics against hand computation on heads whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from attnwidgets.metrics import METRIC_NAMES, head_metrics, head_metrics_one, separator_positions


def metric(values: np.ndarray, name: str) -> float:
    return float(values[METRIC_NAMES.index(name)])


def test_previous_token_head():
    n = 5
    p = np.zeros((n, n), np.float32)
    p[0, 0] = 1.0
    for i in range(1, n):
        p[i, i - 1] = 1.0
    m = head_metrics_one(p)
    assert metric(m, "previous") == pytest.approx(1.0)  # rows 1..4 all on i-1
    assert metric(m, "diagonal") == pytest.approx(1 / 5)  # only row 0
    assert metric(m, "first") == pytest.approx(2 / 5)  # rows 0 and 1 look at key 0
    assert metric(m, "entropy") == pytest.approx(0.0, abs=1e-6)
    assert metric(m, "distance") == pytest.approx(4 / 5)  # |i - (i-1)| = 1 for four rows
    assert math.isnan(metric(m, "separator"))


def test_uniform_causal_head_by_hand():
    n = 4
    p = np.tril(np.ones((n, n), np.float32))
    p /= p.sum(axis=1, keepdims=True)
    m = head_metrics_one(p)
    # row i spreads 1/(i+1) over keys 0..i
    assert metric(m, "entropy") == pytest.approx(np.mean([math.log(i + 1) for i in range(n)]))
    assert metric(m, "diagonal") == pytest.approx(np.mean([1 / (i + 1) for i in range(n)]))
    assert metric(m, "previous") == pytest.approx(np.mean([1 / (i + 1) for i in range(1, n)]))
    assert metric(m, "first") == pytest.approx(np.mean([1 / (i + 1) for i in range(n)]))
    distance = np.mean([sum(i - j for j in range(i + 1)) / (i + 1) for i in range(n)])
    assert metric(m, "distance") == pytest.approx(distance)


def test_separator_mass_uses_tokens():
    tokens = ["[CLS]", "a", "[SEP]", "b", "[SEP]"]
    assert separator_positions(tokens) == [2, 4]
    p = np.full((5, 5), 0.2, np.float32)
    result = head_metrics(p[None, None], tokens)
    assert result["separator"][0, 0] == pytest.approx(0.4)


def test_fewer_queries_than_keys_aligns_to_the_end():
    p = np.zeros((1, 6), np.float32)  # one new token at position 5 of a cached sequence
    p[0, 5] = 1.0
    m = head_metrics_one(p)
    assert metric(m, "diagonal") == 1.0 and metric(m, "distance") == 0.0


def test_masked_scores_are_ignored_and_shapes_are_checked():
    p = np.array([[1.0, -np.inf], [0.5, 0.5]], np.float32)
    assert metric(head_metrics_one(p), "first") == pytest.approx(0.75)
    with pytest.raises(ValueError, match=r"\[query, key\]"):
        head_metrics_one(np.zeros(3))
    with pytest.raises(KeyError, match="unknown head metric 'nope'"):
        head_metrics(np.zeros((1, 1, 2, 2)))["nope"]


def test_every_layer_and_head_is_filled():
    rng = np.random.default_rng(1)
    data = rng.dirichlet(np.ones(7), size=(3, 2, 7)).astype(np.float32)
    result = head_metrics(data)
    assert result.values.shape == (3, 2, len(METRIC_NAMES))
    for layer in range(3):
        for head in range(2):
            np.testing.assert_array_equal(
                result.values[layer, head], head_metrics_one(data[layer, head])
            )
    expected_first = data[:, :, :, 0].mean(axis=2)
    np.testing.assert_allclose(result["first"], expected_first, rtol=1e-5)
