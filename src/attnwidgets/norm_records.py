"""What the norm capture hands to widgets: plain numpy records, no torch.

One ``NormLayer`` per call of a norm module (LayerNorm, RMSNorm and look-alikes) holds the
summary of its input and of its output (``TensorSummary``: a histogram over bins shared by the
two sides, NaN/Inf counted apart, per-token mean / std / RMS) and its affine parameters.
A ``NormRecord`` is the sequence of them, in call order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SummaryDefaults:
    """The defaults every norm summary shares (the capture, the recorder, the training monitor,
    ``TensorSummary.from_numpy``): ``bins`` histogram bins; as outliers, the values whose
    ``|x|`` is over ``outlier_ratio`` times the median ``|x|``, at most ``max_outliers``.

    Example:
        >>> DEFAULTS.bins, DEFAULTS.outlier_ratio, DEFAULTS.max_outliers
        (64, 100.0, 8)
    """

    bins: int = 64
    outlier_ratio: float = 100.0
    max_outliers: int = 8


DEFAULTS = SummaryDefaults()


@dataclass
class TensorSummary:
    """One tensor, summarised.

    ``counts[i]`` is how many finite sampled elements fall in bin ``i`` of ``bins`` equal bins
    over ``[lo, hi]`` (numpy's bins: the last one includes ``hi``). The histogram counts
    ``sampled`` of the ``elements`` values: every ``sample_step``-th one of the flattened tensor,
    from the first (``x.reshape(-1)[::sample_step]``; ``sample_step == 1``: all of them). The
    capture bounds it (8,192 by default; ``norms={"subsample": None}`` counts every element),
    so compare bins by shape, not by absolute count. Everything else is exact over every
    element: ``nan``, ``posinf`` and ``neginf`` count the non-finite ones apart (so without
    sampling ``counts.sum() + nan + posinf + neginf == elements``); ``[lo, hi]`` covers every
    finite value; ``mean``, ``std`` and ``abs_max`` are over every finite value.
    ``token_mean``, ``token_std`` (population, ``ddof=0``, as LayerNorm uses) and ``token_rms``
    are ``[tokens]``: taken over the normalised (last) dimension of each position of the first
    sequence, averaged over any dimensions between token and feature (per-head norms); they and
    ``outliers`` are empty when the capture skipped them (the training monitor does).
    ``outliers`` is ``[k, 3]`` rows of ``(token, dim, value)``: the largest ``|x|`` of the
    first sequence that exceed ``outlier_ratio`` times its median ``|x|`` (massive activations);
    ``median_abs`` is that median, taken on at most 1,024 evenly strided values when sampling.

    Example:
        >>> s = TensorSummary.from_numpy(np.array([[0.0, 1.0, np.nan, 3.0]]), bins=3)
        >>> s.counts.tolist(), s.nan, s.sampled, (s.lo, s.hi)
        ([1, 1, 1], 1, 4, (0.0, 3.0))
    """

    counts: IntArray
    lo: float
    hi: float
    nan: int
    posinf: int
    neginf: int
    elements: int
    sampled: int
    mean: float
    std: float
    abs_max: float
    sample_step: int = 1
    token_mean: FloatArray = field(default_factory=lambda: np.zeros(0, np.float32))
    token_std: FloatArray = field(default_factory=lambda: np.zeros(0, np.float32))
    token_rms: FloatArray = field(default_factory=lambda: np.zeros(0, np.float32))
    outliers: FloatArray = field(default_factory=lambda: np.zeros((0, 3), np.float32))
    median_abs: float = 0.0

    @property
    def bins(self) -> int:
        return int(self.counts.shape[0])

    @property
    def edges(self) -> npt.NDArray[np.float64]:
        """``bins + 1`` bin edges from ``lo`` to ``hi``."""
        return np.linspace(self.lo, self.hi, self.bins + 1)

    @property
    def nonfinite(self) -> int:
        return self.nan + self.posinf + self.neginf

    @classmethod
    def from_numpy(
        cls,
        values: npt.ArrayLike,
        *,
        bins: int = DEFAULTS.bins,
        value_range: tuple[float, float] | None = None,
        outlier_ratio: float = DEFAULTS.outlier_ratio,
        max_outliers: int = DEFAULTS.max_outliers,
    ) -> TensorSummary:
        """The numpy reference of what the torch capture computes (used by tests and widgets).

        ``values`` is ``[..., tokens, features]`` (or ``[features]``); the first sequence gives
        the per-token statistics.

        Example:
            >>> TensorSummary.from_numpy(np.ones((2, 3, 4)), bins=4).token_rms.tolist()
            [1.0, 1.0, 1.0]
        """
        x = np.asarray(values, dtype=np.float64)
        flat = x.reshape(-1)
        finite = flat[np.isfinite(flat)]
        if value_range is None:
            value_range = finite_range(finite)
        lo, hi = widen(*value_range)
        counts, _ = np.histogram(finite, bins=bins, range=(lo, hi))
        first = first_sequence(x)
        with np.errstate(invalid="ignore", over="ignore"):
            rows = first.reshape(first.shape[0], -1, first.shape[-1])
            token_mean = rows.mean(-1).mean(-1)
            token_std = rows.std(-1).mean(-1)
            token_rms = np.sqrt((rows**2).mean(-1)).mean(-1)
            magnitude = np.abs(first.reshape(first.shape[0], -1))
        median_abs = lower_median(magnitude)
        outliers = find_outliers(magnitude, first, median_abs, outlier_ratio, max_outliers)
        return cls(
            counts=counts.astype(np.int64),
            lo=lo,
            hi=hi,
            nan=int(np.isnan(flat).sum()),
            posinf=int(np.isposinf(flat).sum()),
            neginf=int(np.isneginf(flat).sum()),
            elements=int(flat.size),
            sampled=int(flat.size),
            mean=float(finite.mean()) if finite.size else float("nan"),
            std=float(finite.std()) if finite.size else float("nan"),
            abs_max=float(np.abs(finite).max()) if finite.size else float("nan"),
            token_mean=token_mean.astype(np.float32),
            token_std=token_std.astype(np.float32),
            token_rms=token_rms.astype(np.float32),
            outliers=outliers,
            median_abs=median_abs,
        )


def finite_range(finite: npt.NDArray[Any]) -> tuple[float, float]:
    """``(min, max)`` of finite values, ``(0, 0)`` when there are none."""
    if finite.size == 0:
        return 0.0, 0.0
    return float(finite.min()), float(finite.max())


def widen(lo: float, hi: float) -> tuple[float, float]:
    """A range that ``np.histogram`` and ``torch.histc`` both accept (``lo < hi``).

    Example:
        >>> widen(2.0, 2.0)
        (1.5, 2.5)
    """
    if not hi > lo:
        return lo - 0.5, lo + 0.5
    return lo, hi


def first_sequence(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``[tokens, ..., features]`` of the first batch item (``[1, features]`` for a vector).

    A 2-D input is one sequence ``[tokens, features]``; from 3-D on, axis 0 is the batch.
    """
    if x.ndim <= 1:
        return x.reshape(1, -1)
    if x.ndim == 2:
        return x
    first: npt.NDArray[Any] = x[0]
    return first


def lower_median(values: npt.NDArray[Any]) -> float:
    """The lower median of the non-NaN values (what ``torch.nanmedian`` returns), 0 if none.

    Example:
        >>> lower_median(np.array([4.0, 1.0, np.nan, 3.0, 2.0]))
        2.0
    """
    kept = np.sort(values[~np.isnan(values)], axis=None)
    return float(kept[(kept.size - 1) // 2]) if kept.size else 0.0


def find_outliers(
    magnitude: npt.NDArray[Any],
    values: npt.NDArray[Any],
    median_abs: float,
    ratio: float,
    limit: int,
) -> FloatArray:
    """Rows ``(token, dim, value)`` of the largest ``|x| > ratio * median`` (``dim`` flattened).

    Example:
        >>> x = np.ones((2, 4)); x[1, 3] = 500.0
        >>> find_outliers(np.abs(x), x, 1.0, 100.0, 8).tolist()
        [[1.0, 3.0, 500.0]]
    """
    if magnitude.size == 0 or limit <= 0:
        return np.zeros((0, 3), np.float32)
    flat = np.nan_to_num(magnitude.reshape(-1), nan=0.0, posinf=0.0, neginf=0.0)
    top = np.argsort(-flat, kind="stable")[:limit]
    top = top[flat[top] > ratio * max(median_abs, 1e-12)]
    per_token = magnitude.shape[1]
    signed = values.reshape(-1)
    rows = [(i // per_token, i % per_token, signed[i]) for i in top]
    return np.asarray(rows, np.float32).reshape(-1, 3)


@dataclass
class NormLayer:
    """One call of one norm module: the summaries of its input and output, and its parameters.

    ``kind`` is ``"layernorm"`` (subtracts the mean) or ``"rmsnorm"``. ``gamma`` is the
    effective scale (``1 + weight`` for Gemma's norms), ``beta`` the shift (``None`` without).
    ``raw_input`` / ``raw_output`` are only kept when the capture was asked to.
    """

    name: str
    kind: str
    class_name: str
    shape: tuple[int, ...]
    input: TensorSummary
    output: TensorSummary
    gamma: FloatArray | None = None
    beta: FloatArray | None = None
    raw_input: FloatArray | None = field(default=None, repr=False)
    raw_output: FloatArray | None = field(default=None, repr=False)


class NormRecord(Sequence[NormLayer]):
    """Every norm call of one forward pass, in call order, with optional token labels.

    Example:
        >>> x = np.random.default_rng(0).normal(size=(1, 3, 8))
        >>> y = (x - x.mean(-1, keepdims=True)) / x.std(-1, keepdims=True)
        >>> layer = NormLayer("ln", "layernorm", "LayerNorm", (1, 3, 8),
        ...                   TensorSummary.from_numpy(x), TensorSummary.from_numpy(y))
        >>> rec = NormRecord([layer], tokens=["a", "b", "c"])
        >>> rec.layer_names, rec.spread().shape
        (['ln'], (1, 2))
    """

    def __init__(self, layers: Sequence[NormLayer], tokens: Sequence[str] | None = None) -> None:
        self._layers = list(layers)
        self.tokens: list[str] | None = None if tokens is None else [str(t) for t in tokens]

    def __len__(self) -> int:
        return len(self._layers)

    def __getitem__(self, index: int) -> NormLayer:  # type: ignore[override]
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"norm layer index must be an int, not {type(index).__name__}")
        count = len(self._layers)
        if not -count <= index < count:
            raise IndexError(f"norm layer {index} out of range: this record has 0..{count - 1}")
        return self._layers[index]

    def __iter__(self) -> Iterator[NormLayer]:
        return iter(self._layers)

    @property
    def layer_names(self) -> list[str]:
        """Module path of each call, e.g. ``model.layers.3.input_layernorm``."""
        return [layer.name for layer in self._layers]

    def spread(self) -> FloatArray:
        """``[layers, 2]``: the standard deviation of each layer's input and output."""
        rows = [(layer.input.std, layer.output.std) for layer in self._layers]
        return np.asarray(rows, np.float32).reshape(-1, 2)

    def with_tokens(self, tokens: Sequence[str]) -> NormRecord:
        """The same layers labelled with ``tokens``."""
        return NormRecord(self._layers, tokens)

    def __repr__(self) -> str:
        kinds = sorted({layer.kind for layer in self._layers})
        return f"NormRecord(layers={len(self)}, kinds={kinds})"
