"""attnwidgets.positions: generated values equal the published formulas, computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from transformers.models.bloom.modeling_bloom import _get_alibi_slopes
from transformers.models.t5.modeling_t5 import T5Attention

import attnwidgets.positions as pos


def test_sinusoidal_matches_vaswani_formula_entry_by_entry() -> None:
    length, dim, base = 50, 12, 10000.0
    table = pos.sinusoidal(dim, length=length, base=base).table
    assert table.shape == (length, dim) and table.dtype == np.float32
    for p in range(length):
        for i in range(dim // 2):
            angle = p / base ** (2 * i / dim)
            assert table[p, 2 * i] == pytest.approx(math.sin(angle), abs=1e-6)
            assert table[p, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-6)


def test_sinusoidal_first_pair_is_fastest_and_last_is_slowest() -> None:
    table = pos.sinusoidal(64, length=200).table
    sign_changes = [int(np.sum(np.diff(np.sign(table[1:, 2 * i])) != 0)) for i in range(32)]
    assert sign_changes[0] > 50  # period 2*pi positions
    assert sign_changes[-1] == 0  # period ~ 2*pi * 10000^(62/64) positions
    assert sign_changes == sorted(sign_changes, reverse=True)


def test_similarity_equals_hand_dot_and_cosine() -> None:
    table = np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 0.0]], np.float32)
    dot = pos.similarity(table, "dot")
    cosine = pos.similarity(table, "cosine")
    assert dot.tolist() == [[25.0, 3.0, 0.0], [3.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    assert cosine[0, 1] == pytest.approx(0.6)
    assert cosine[0, 0] == pytest.approx(1.0) and cosine[2, 2] == 0.0
    with pytest.raises(ValueError, match="'dot' or 'cosine'"):
        pos.similarity(table, "l2")


def test_sinusoidal_similarity_depends_only_on_distance() -> None:
    sim = pos.sinusoidal(32, length=64).similarity("dot")
    for d in (1, 5, 17):
        diagonal = np.diagonal(sim, offset=d)
        assert np.ptp(diagonal) < 1e-4
    assert sim[10, 10] == pytest.approx(16.0, abs=1e-4)  # dim / 2 pairs of sin^2 + cos^2


def test_rotary_inv_freq_and_cos_sin_match_formula() -> None:
    dim, theta, length = 16, 500.0, 40
    scheme = pos.rotary(dim, theta=theta, length=length, attention_scaling=0.5)
    expected = [theta ** (-2 * i / dim) for i in range(dim // 2)]
    np.testing.assert_allclose(scheme.inv_freq, expected, rtol=1e-6)
    cos, sin = scheme.cos_sin()
    assert cos.shape == sin.shape == (length, dim)
    for p in (0, 7, 39):
        for j in range(dim):
            angle = p * expected[j % (dim // 2)]
            assert cos[p, j] == pytest.approx(0.5 * math.cos(angle), abs=2e-6)
            assert sin[p, j] == pytest.approx(0.5 * math.sin(angle), abs=2e-6)


def rotate(vector: np.ndarray, position: int, inv_freq: np.ndarray) -> np.ndarray:
    """RoPE by explicit 2x2 rotations of pairs (i, i + dim/2), the Hugging Face layout."""
    half = len(inv_freq)
    out = vector.astype(np.float64).copy()
    for i, rate in enumerate(inv_freq.astype(np.float64)):
        c, s = math.cos(position * rate), math.sin(position * rate)
        x, y = vector[i], vector[i + half]
        out[i], out[i + half] = c * x - s * y, s * x + c * y
    return out


def test_relative_score_is_the_expected_rotated_dot_product() -> None:
    scheme = pos.rotary(8, theta=100.0, length=30)
    rng = np.random.default_rng(0)
    queries = rng.standard_normal((4000, 8))
    for distance in (0, 1, 3, 12, 29):
        for start in (0, 11):  # only the distance matters
            dots = [
                rotate(q, start, scheme.inv_freq) @ rotate(q, start + distance, scheme.inv_freq)
                for q in queries[:400]
            ]
            exact_for_ones = rotate(np.ones(8), start, scheme.inv_freq) @ rotate(
                np.ones(8), start + distance, scheme.inv_freq
            )
            score = scheme.relative_score([distance])[0]
            assert exact_for_ones / 8 == pytest.approx(score, abs=1e-6)
            assert np.mean(dots) / 8 == pytest.approx(score, abs=0.12)


def test_relative_score_decays_on_average() -> None:
    score = pos.rotary(64, theta=10000, length=1000).relative_score()
    assert score[0] == pytest.approx(1.0)
    assert np.abs(score[:10]).mean() > np.abs(score[200:]).mean() * 2


@pytest.mark.parametrize("heads", [1, 2, 4, 8, 16])
def test_alibi_slopes_are_the_paper_geometric_sequence(heads: int) -> None:
    expected = [2 ** (-8 * (i + 1) / heads) for i in range(heads)]
    np.testing.assert_allclose(pos.alibi_slopes(heads), expected, rtol=1e-7)


@pytest.mark.parametrize("heads", [3, 6, 12, 20])
def test_alibi_slopes_for_other_head_counts_follow_bloom(heads: int) -> None:
    np.testing.assert_allclose(pos.alibi_slopes(heads), _get_alibi_slopes(heads, "cpu"), rtol=1e-6)


def test_alibi_bias_matrix_is_slope_times_key_minus_query() -> None:
    scheme = pos.alibi(4, length=10)
    slopes = pos.alibi_slopes(4)
    for head in range(4):
        matrix = scheme.bias_matrix(head)
        for q in range(10):
            for k in range(10):
                assert matrix[q, k] == pytest.approx(slopes[head] * (k - q))


@pytest.mark.parametrize(
    ("bidirectional", "num_buckets", "max_distance"),
    [(True, 32, 128), (False, 32, 128), (True, 8, 16), (True, 64, 256), (False, 10, 40)],
)
def test_t5_bucket_equals_the_model_function(
    bidirectional: bool, num_buckets: int, max_distance: int
) -> None:
    relative = np.arange(-1500, 1500)
    expected = T5Attention._relative_position_bucket(
        torch.from_numpy(relative), bidirectional, num_buckets, max_distance
    ).numpy()
    mine = pos.t5_bucket(relative, bidirectional, num_buckets, max_distance)
    np.testing.assert_array_equal(mine, expected)


def test_t5_buckets_by_hand_for_short_distances() -> None:
    scheme = pos.t5_buckets(length=9, num_buckets=32, max_distance=128)
    by_distance = dict(zip(scheme.distances.tolist(), scheme.buckets.tolist(), strict=True))
    # 16 buckets per direction, 8 of them exact: past distances 0..7 -> 0..7, future 1..7 -> 17..23
    assert [by_distance[-d] for d in range(8)] == list(range(8))
    assert [by_distance[d] for d in range(1, 8)] == list(range(17, 24))
    assert by_distance[-8] == 8 and by_distance[8] == 24  # first logarithmic bucket


def test_t5_bias_gathers_weights_by_bucket() -> None:
    weights = np.arange(32 * 3, dtype=np.float32).reshape(32, 3)
    scheme = pos.t5_buckets(length=20, weights=weights)
    for h in range(3):
        for index, bucket in enumerate(scheme.buckets):
            assert scheme.bias[h, index] == weights[bucket, h]
    matrix = scheme.bias_matrix(2, 5)
    assert matrix[1, 4] == weights[pos.t5_bucket([3])[0], 2]


def test_bad_input_gets_a_clear_error() -> None:
    with pytest.raises(ValueError, match="even dim"):
        pos.sinusoidal(7, length=10)
    with pytest.raises(ValueError, match="length must be a positive int"):
        pos.sinusoidal(8, length=0)
    with pytest.raises(ValueError, match="not defined for a 'sinusoidal'"):
        pos.sinusoidal(4, length=4).angles()
    with pytest.raises(ValueError, match="length >= 9"):
        pos.alibi(2, length=4).bias_matrix(0, 9)
    with pytest.raises(IndexError, match=r"heads 0\.\.1"):
        pos.alibi(2, length=4).bias_matrix(2)
    with pytest.raises(ValueError, match=r"expected \[num_buckets=32, heads\]"):
        pos.t5_buckets(weights=np.zeros((8, 2)))
    with pytest.raises(ValueError, match="does not cover"):
        pos.learned(np.zeros((10, 4)), grid=(3, 3))


def test_every_generator_takes_length_by_keyword() -> None:
    """One place for ``length`` in every generator: a keyword (a positional length given the
    old way is refused, never read as another argument)."""
    import inspect

    for generator in (pos.sinusoidal, pos.rotary, pos.alibi, pos.t5_buckets):
        parameter = inspect.signature(generator).parameters["length"]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, generator.__name__
    with pytest.raises(TypeError):
        pos.sinusoidal(512, 64)  # type: ignore[misc]
    with pytest.raises(TypeError):
        pos.alibi(8, 16)  # type: ignore[misc]
    assert pos.alibi(8, length=16).bias.shape == (8, 31)
