"""``PositionScheme``: how a model (or a formula) encodes positions, as a plain numpy record.

The generators in ``absolute`` and ``relative`` build it from formulas, and
``attnwidgets.recording.extract_positions(model)`` reads it from a model, so the widgets treat
both the same way. Also here: ``similarity`` between rows of a table, which the record offers
as a method.

>>> from attnwidgets.positions import sinusoidal
>>> sinusoidal(4, length=8)
PositionScheme(kind='sinusoidal', source='sinusoidal(base=10000)', table=[8, 4])
"""

from __future__ import annotations

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
        >>> from attnwidgets.positions import sinusoidal
        >>> s = sinusoidal(4, length=8)
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
            >>> from attnwidgets.positions import sinusoidal
            >>> bool(np.allclose(np.diag(sinusoidal(8, length=16).similarity()), 1.0))
            True
        """
        return similarity(_require(self.table, "similarity", self.kind), metric)

    def angles(self, positions: npt.ArrayLike | None = None) -> FloatArray:
        """Rotary angles ``[positions, dim / 2]``: position x inv_freq, in radians (not wrapped).

        Example:
            >>> from attnwidgets.positions import rotary
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
            >>> from attnwidgets.positions import rotary
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
            >>> from attnwidgets.positions import rotary
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
            >>> from attnwidgets.positions import alibi
            >>> alibi(2, length=3).bias_matrix(0).tolist()
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


def check_positive(**sizes: int) -> None:
    """Raise ``ValueError`` naming the first size that is not a positive int.

    Example:
        >>> check_positive(length=4, dim=0)
        Traceback (most recent call last):
        ...
        ValueError: dim must be a positive int, got 0
    """
    for name, value in sizes.items():
        if not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
