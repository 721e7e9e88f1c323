"""Relative schemes: attention scores depend on the distance key - query.

Rotary (RoPE) turns queries and keys by angles that grow with position, so their dot product
depends on the distance only; ALiBi and T5 add a bias per head and distance to the scores.

>>> from attnwidgets.positions import alibi, rotary, t5_buckets
>>> rotary(64, theta=10000).inv_freq.shape       # [dim / 2]
(32,)
>>> alibi(8, length=16).slopes[:2].tolist()             # [heads]
[0.5, 0.25]
>>> t5_buckets(length=16).bias.shape             # [1, distances]: the bucket ids
(1, 31)
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from .scheme import FloatArray, IntArray, PositionScheme, check_positive


def rotary(
    dim: int, theta: float = 10000.0, *, length: int = 512, attention_scaling: float = 1.0
) -> PositionScheme:
    """Rotary embedding (RoPE, Su et al. 2021) of a ``dim``-wide head.

    Pair ``i`` turns by ``inv_freq[i] = theta^(-2i/dim)`` radians per position, computed in
    float32 like Hugging Face models (equal to about 1e-7).

    Example:
        >>> rotary(4, theta=100).inv_freq.tolist()
        [1.0, 0.10000000149011612]
    """
    check_positive(dim=dim, length=length)
    if dim % 2:
        raise ValueError(f"rotary() needs an even head dim (dimension pairs), got {dim}")
    exponent = np.arange(0, dim, 2, dtype=np.float32) / np.float32(dim)
    inv_freq = (1.0 / (np.float32(theta) ** exponent)).astype(np.float32)
    return PositionScheme(
        "rotary", f"rotary(theta={theta:g})", inv_freq=inv_freq, theta=float(theta),
        attention_scaling=float(attention_scaling), length=length,
    )  # fmt: skip


def alibi_slopes(heads: int) -> FloatArray:
    """ALiBi head slopes (Press et al. 2022): 2^(-8/n), 2^(-16/n), ... with BLOOM's rule for
    head counts that are not a power of two.

    Example:
        >>> alibi_slopes(4).tolist()
        [0.25, 0.0625, 0.015625, 0.00390625]
    """
    check_positive(heads=heads)
    closest = 2 ** math.floor(math.log2(heads))
    base = 2.0 ** (-(2.0 ** -(math.log2(closest) - 3)))
    slopes = [base**power for power in range(1, closest + 1)]
    if closest != heads:
        extra_base = 2.0 ** (-(2.0 ** -(math.log2(2 * closest) - 3)))
        remaining = min(closest, heads - closest)
        slopes += [extra_base**power for power in range(1, 2 * remaining, 2)]
    return np.asarray(slopes, np.float32)


def alibi(heads: int, *, length: int = 512) -> PositionScheme:
    """ALiBi: head ``h`` adds ``slope[h] x (key - query)`` to its scores (a linear penalty on
    distance to the past; causal models mask the future).

    Example:
        >>> s = alibi(4, length=8)
        >>> s.bias.shape, s.distances[[0, -1]].tolist()
        ((4, 15), [-7, 7])
    """
    check_positive(length=length)
    return _alibi_from_slopes(alibi_slopes(heads), length, f"alibi(heads={heads})")


def _alibi_from_slopes(slopes: FloatArray, length: int, source: str) -> PositionScheme:
    distances = np.arange(-(length - 1), length, dtype=np.int64)
    bias = (slopes[:, None].astype(np.float64) * distances[None, :]).astype(np.float32)
    return PositionScheme(
        "alibi", source, slopes=slopes, distances=distances, bias=bias, length=length
    )


def t5_bucket(
    relative_position: npt.ArrayLike,
    bidirectional: bool = True,
    num_buckets: int = 32,
    max_distance: int = 128,
) -> IntArray:
    """T5's bucket id for each relative position (key - query): exact buckets for short
    distances, logarithmic ones up to ``max_distance``, computed in float32 like the model.

    Example:
        >>> t5_bucket([-3, 0, 3, 20, 200], num_buckets=32, max_distance=128).tolist()
        [3, 0, 19, 26, 31]
    """
    position = np.asarray(relative_position, dtype=np.int64)
    buckets = np.zeros_like(position)
    if bidirectional:
        num_buckets //= 2
        buckets += (position > 0).astype(np.int64) * num_buckets
        position = np.abs(position)
    else:
        position = -np.minimum(position, 0)
    max_exact = num_buckets // 2
    with np.errstate(divide="ignore"):
        logs = np.log(position.astype(np.float32) / np.float32(max_exact))
    scaled = (
        logs / np.float32(math.log(max_distance / max_exact)) * np.float32(num_buckets - max_exact)
    )
    large = max_exact + np.where(position > 0, scaled, 0).astype(np.int64)
    large = np.minimum(large, num_buckets - 1)
    result: IntArray = buckets + np.where(position < max_exact, position, large)
    return result


def t5_buckets(
    *,
    length: int = 128,
    num_buckets: int = 32,
    max_distance: int = 128,
    bidirectional: bool = True,
    weights: npt.ArrayLike | None = None,
) -> PositionScheme:
    """T5 relative position buckets for distances ``-(length-1)..length-1``.

    With ``weights`` (``[num_buckets, heads]``, the model's ``relative_attention_bias.weight``)
    ``bias[h, d] = weights[bucket(d), h]``; without, one row holding the bucket id itself.

    Example:
        >>> s = t5_buckets(length=4, num_buckets=8, max_distance=16)
        >>> s.distances.tolist(), s.bias[0].tolist()
        ([-3, -2, -1, 0, 1, 2, 3], [2.0, 2.0, 1.0, 0.0, 5.0, 6.0, 6.0])
    """
    check_positive(length=length, num_buckets=num_buckets, max_distance=max_distance)
    distances = np.arange(-(length - 1), length, dtype=np.int64)
    buckets = t5_bucket(distances, bidirectional, num_buckets, max_distance)
    table = None
    if weights is None:
        bias = buckets[None, :].astype(np.float32)
    else:
        table = np.asarray(weights, np.float32)
        if table.ndim != 2 or table.shape[0] != num_buckets:
            raise ValueError(
                f"weights has shape {table.shape}; expected [num_buckets={num_buckets}, heads]"
            )
        bias = np.ascontiguousarray(table[buckets].T)
    return PositionScheme(
        "t5", f"t5_buckets(num_buckets={num_buckets}, max_distance={max_distance})",
        distances=distances, bias=bias, buckets=buckets, weights=table, length=length,
        params={"num_buckets": num_buckets, "max_distance": max_distance,
                "bidirectional": bidirectional, "learned": weights is not None},
    )  # fmt: skip
