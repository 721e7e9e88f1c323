"""Positional-encoding schemes as plain numpy records, and the formulas that generate them.

``PositionScheme`` is what ``attnwidgets.capture.extract_positions(model)`` returns and what the
generators here build from formulas alone, so the widgets treat both the same way:

>>> import attnwidgets.positions as pos
>>> pos.sinusoidal(64, 16).table.shape          # [positions, dim]
(64, 16)
>>> pos.rotary(64, theta=10000).inv_freq.shape   # [dim / 2]
(32,)
>>> pos.alibi(8, 16).slopes[:2].tolist()         # [heads]
[0.5, 0.25]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

ABSOLUTE_KINDS = ("sinusoidal", "learned")
RELATIVE_KINDS = ("t5", "alibi")
KINDS = (*ABSOLUTE_KINDS, "rotary", *RELATIVE_KINDS)


@dataclass(frozen=True, eq=False)
class PositionScheme:
    """How one model (or one formula) tells attention where tokens are.

    Fields by ``kind``:
      - ``"sinusoidal"``, ``"learned"``: ``table`` ``[positions, dim]``; for ViT also ``grid``
        ``(rows, cols)`` with ``grid_offset`` leading rows that are not patches ([CLS]).
      - ``"rotary"``: ``inv_freq`` ``[dim / 2]`` (radians per position for each dimension pair),
        ``theta``, ``attention_scaling``; ``length`` positions are shown.
      - ``"t5"``: ``bias`` ``[heads, distances]`` over ``distances`` (key - query),
        ``buckets`` (bucket id per distance), ``weights`` ``[buckets, heads]`` when learned.
      - ``"alibi"``: ``slopes`` ``[heads]`` and ``bias`` ``[heads, distances]`` = slope x distance.

    ``source`` says where it came from, e.g. ``"BertModel.embeddings.position_embeddings"``.

    Example:
        >>> s = sinusoidal(8, 4)
        >>> s.kind, s.length, s.dim
        ('sinusoidal', 8, 4)
    """

    kind: str
    source: str
    table: FloatArray | None = None
    grid: tuple[int, int] | None = None
    grid_offset: int = 0
    inv_freq: FloatArray | None = None
    theta: float | None = None
    attention_scaling: float = 1.0
    distances: IntArray | None = None
    bias: FloatArray | None = None
    buckets: IntArray | None = None
    weights: FloatArray | None = None
    slopes: FloatArray | None = None
    length: int = 0
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"PositionScheme kind {self.kind!r} is not one of {KINDS}")
        needs = {"rotary": "inv_freq", "t5": "bias", "alibi": "slopes"}
        required = "table" if self.kind in ABSOLUTE_KINDS else needs[self.kind]
        if getattr(self, required) is None:
            raise ValueError(f"a {self.kind!r} PositionScheme needs {required}")
        if self.table is not None and self.table.ndim != 2:
            raise ValueError(f"table has shape {self.table.shape}; expected [positions, dim]")
        if (
            self.bias is not None
            and self.distances is not None
            and (self.bias.ndim != 2 or self.bias.shape[1] != len(self.distances))
        ):
            raise ValueError(
                f"bias has shape {self.bias.shape}; expected [heads, {len(self.distances)}]"
            )
        if self.length == 0 and self.table is not None:
            object.__setattr__(self, "length", int(self.table.shape[0]))

    @property
    def dim(self) -> int:
        """Model dimensions encoded: table columns, or twice the rotary pairs; 0 for biases."""
        if self.table is not None:
            return int(self.table.shape[1])
        if self.inv_freq is not None:
            return 2 * len(self.inv_freq)
        return 0

    @property
    def heads(self) -> int:
        """Heads with their own bias (T5, ALiBi); 0 for schemes shared by all heads."""
        if self.bias is not None:
            return int(self.bias.shape[0])
        return 0

    def similarity(self, metric: str = "cosine") -> FloatArray:
        """``[positions, positions]`` dot products or cosines between rows of ``table``.

        Example:
            >>> bool(np.allclose(np.diag(sinusoidal(16, 8).similarity()), 1.0))
            True
        """
        return similarity(_require(self.table, "similarity", self.kind), metric)

    def angles(self, positions: npt.ArrayLike | None = None) -> FloatArray:
        """Rotary angles ``[positions, dim / 2]``: position x inv_freq, in radians (not wrapped).

        Example:
            >>> rotary(4, theta=100, length=3).angles().tolist()
            [[0.0, 0.0], [1.0, 0.10000000149011612], [2.0, 0.20000000298023224]]
        """
        inv_freq = _require(self.inv_freq, "angles", self.kind)
        where = np.arange(self.length) if positions is None else np.asarray(positions)
        out: FloatArray = (where.astype(np.float32)[:, None] * inv_freq[None, :]).astype(np.float32)
        return out

    def cos_sin(self, positions: npt.ArrayLike | None = None) -> tuple[FloatArray, FloatArray]:
        """Rotary ``cos, sin`` ``[positions, dim]`` laid out as Hugging Face models apply them
        (the pair frequencies repeated, ``cat(freqs, freqs)``), times ``attention_scaling``.

        Example:
            >>> cos, sin = rotary(4, length=2).cos_sin()
            >>> cos.shape, float(sin[1, 0]) == float(np.sin(np.float32(1.0)))
            ((2, 4), True)
        """
        angles = self.angles(positions)
        doubled = np.concatenate([angles, angles], axis=-1)
        scale = np.float32(self.attention_scaling)
        return (np.cos(doubled) * scale).astype(np.float32), (np.sin(doubled) * scale).astype(
            np.float32
        )

    def relative_score(self, distances: npt.ArrayLike | None = None) -> FloatArray:
        """Expected rotary q.k score against relative distance, normalised to 1 at distance 0.

        For a query q with independent zero-mean components of equal variance and the key k = q
        seen ``d`` positions away, E[q . R(d) q] / E[q . q] = mean_i cos(d inv_freq_i): the
        long-range decay of RoPE (Su et al., 2021). ``distances`` default to 0..length-1.

        Example:
            >>> [round(float(x), 3) for x in rotary(8, theta=10000, length=4).relative_score()]
            [1.0, 0.884, 0.641, 0.491]
        """
        inv_freq = _require(self.inv_freq, "relative_score", self.kind).astype(np.float64)
        where = np.arange(self.length) if distances is None else np.asarray(distances)
        score = np.cos(where.astype(np.float64)[:, None] * inv_freq[None, :]).mean(axis=1)
        out: FloatArray = score.astype(np.float32)
        return out

    def bias_matrix(self, head: int, length: int | None = None) -> FloatArray:
        """The ``[query, key]`` bias one head adds to its scores, for T5 and ALiBi.

        Example:
            >>> alibi(2, 3).bias_matrix(0).tolist()
            [[0.0, 0.0625, 0.125], [-0.0625, 0.0, 0.0625], [-0.125, -0.0625, 0.0]]
        """
        bias = _require(self.bias, "bias_matrix", self.kind)
        distances = _require(self.distances, "bias_matrix", self.kind)
        if not -bias.shape[0] <= head < bias.shape[0]:
            raise IndexError(
                f"head {head} out of range: this scheme has heads 0..{bias.shape[0] - 1}"
            )
        count = self.length if length is None else length
        lowest, highest = int(distances[0]), int(distances[-1])
        if count - 1 > min(-lowest, highest):
            raise ValueError(
                f"bias_matrix({head}, {count}) needs distances -{count - 1}..{count - 1} but this "
                f"scheme has {lowest}..{highest}; build it with length >= {count}"
            )
        where = np.arange(count)
        index = where[None, :] - where[:, None] - lowest
        out: FloatArray = bias[head][index]
        return out

    def __repr__(self) -> str:
        parts = [f"kind={self.kind!r}", f"source={self.source!r}"]
        for name in ("table", "inv_freq", "bias", "slopes"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={list(value.shape)}")
        if self.theta is not None:
            parts.append(f"theta={self.theta:g}")
        if self.grid is not None:
            parts.append(f"grid={self.grid}")
        return f"PositionScheme({', '.join(parts)})"


def _require(value: Any, what: str, kind: str) -> Any:
    if value is None:
        raise ValueError(f"{what}() is not defined for a {kind!r} PositionScheme")
    return value


def similarity(table: npt.ArrayLike, metric: str = "cosine") -> FloatArray:
    """``[positions, positions]`` similarity between rows of ``[positions, dim]``.

    ``metric`` is ``"dot"`` or ``"cosine"`` (rows of zero length give 0).

    Example:
        >>> similarity([[1.0, 0.0], [1.0, 1.0]], "dot").tolist()
        [[1.0, 1.0], [1.0, 2.0]]
    """
    rows = np.asarray(table, dtype=np.float64)
    if rows.ndim != 2:
        raise ValueError(f"similarity() takes [positions, dim], got shape {rows.shape}")
    if metric == "dot":
        out = rows @ rows.T
    elif metric == "cosine":
        norms = np.linalg.norm(rows, axis=1)
        unit = rows / np.where(norms > 0, norms, 1.0)[:, None]
        out = unit @ unit.T
    else:
        raise ValueError(f"metric must be 'dot' or 'cosine', not {metric!r}")
    result: FloatArray = out.astype(np.float32)
    return result


def sinusoidal(length: int, dim: int, base: float = 10000.0) -> PositionScheme:
    """The sin-cos table of Vaswani et al. (2017), ``[length, dim]``.

    ``table[p, 2i] = sin(p / base^(2i/dim))`` and ``table[p, 2i+1] = cos(p / base^(2i/dim))``.

    Example:
        >>> t = sinusoidal(4, 4, base=100).table
        >>> [round(float(x), 4) for x in t[1]]
        [0.8415, 0.5403, 0.0998, 0.995]
    """
    _check_positive(length=length, dim=dim)
    if dim % 2:
        raise ValueError(f"sinusoidal() needs an even dim (sin and cos pairs), got {dim}")
    rate = 1.0 / base ** (np.arange(0, dim, 2, dtype=np.float64) / dim)
    angle = np.arange(length, dtype=np.float64)[:, None] * rate[None, :]
    table = np.empty((length, dim), np.float64)
    table[:, 0::2] = np.sin(angle)
    table[:, 1::2] = np.cos(angle)
    return PositionScheme(
        "sinusoidal", f"sinusoidal(base={base:g})", table=table.astype(np.float32),
        params={"base": float(base)},
    )  # fmt: skip


def rotary(
    dim: int, theta: float = 10000.0, length: int = 512, attention_scaling: float = 1.0
) -> PositionScheme:
    """Rotary embedding (RoPE, Su et al. 2021) of a ``dim``-wide head.

    Pair ``i`` turns by ``inv_freq[i] = theta^(-2i/dim)`` radians per position, computed in
    float32 like Hugging Face models (equal to about 1e-7).

    Example:
        >>> rotary(4, theta=100).inv_freq.tolist()
        [1.0, 0.10000000149011612]
    """
    _check_positive(dim=dim, length=length)
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
    _check_positive(heads=heads)
    closest = 2 ** math.floor(math.log2(heads))
    base = 2.0 ** (-(2.0 ** -(math.log2(closest) - 3)))
    slopes = [base**power for power in range(1, closest + 1)]
    if closest != heads:
        extra_base = 2.0 ** (-(2.0 ** -(math.log2(2 * closest) - 3)))
        remaining = min(closest, heads - closest)
        slopes += [extra_base**power for power in range(1, 2 * remaining, 2)]
    return np.asarray(slopes, np.float32)


def alibi(heads: int, length: int) -> PositionScheme:
    """ALiBi: head ``h`` adds ``slope[h] x (key - query)`` to its scores (a linear penalty on
    distance to the past; causal models mask the future).

    Example:
        >>> s = alibi(4, 8)
        >>> s.bias.shape, s.distances[[0, -1]].tolist()
        ((4, 15), [-7, 7])
    """
    _check_positive(length=length)
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
    _check_positive(length=length, num_buckets=num_buckets, max_distance=max_distance)
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


def learned(table: npt.ArrayLike, source: str = "learned", grid: tuple[int, int] | None = None,
            grid_offset: int = 0) -> PositionScheme:  # fmt: skip
    """A learned absolute table ``[positions, dim]`` (optionally a ViT patch ``grid``).

    Example:
        >>> learned(np.zeros((5, 3)), grid=(2, 2), grid_offset=1).grid
        (2, 2)
    """
    values = np.asarray(table, np.float32)
    if values.ndim != 2:
        raise ValueError(f"learned table has shape {values.shape}; expected [positions, dim]")
    if grid is not None and grid[0] * grid[1] + grid_offset != values.shape[0]:
        raise ValueError(
            f"grid {grid} with {grid_offset} leading rows does not cover {values.shape[0]} rows"
        )
    return PositionScheme("learned", source, table=values, grid=grid, grid_offset=grid_offset)


def _check_positive(**sizes: int) -> None:
    for name, value in sizes.items():
        if not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
