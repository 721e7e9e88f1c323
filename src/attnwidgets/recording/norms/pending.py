"""One tensor being summarised (``PendingTensor``): its shape, sample and views, then what is
known of it, until it becomes a ``TensorSummary``. Also the median ``|x|`` (torch on any
device, numpy on the CPU) and the outliers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ...norm_records import TensorSummary
from .histogram import sample_step

MEDIAN_SAMPLE = 1 << 10
"""At most this many ``|x|`` of the first sequence set the outlier threshold when sampling."""

_EMPTY = np.zeros(0, np.float32)
_EMPTY.flags.writeable = False


class PendingTensor:
    """One tensor being summarised: its shape, sample, views (made when first needed) and
    what is known of it so far. ``release()`` lets the tensor go once everything that reads
    it is done; the rest (moments, per-token statistics) is filled on the host later.

    Example:
        >>> side = PendingTensor(torch.zeros(2, 3, 4), 0.0, 0.0, limit=None)
        >>> side.rows.shape, side.first_rows, side.tokens, side.flat[side.median_slice(None)].shape
        (torch.Size([6, 4]), 3, 3, torch.Size([12]))
    """

    x: torch.Tensor

    def __init__(self, tensor: torch.Tensor, low: float, high: float, limit: int | None) -> None:
        self.x = x = tensor
        self.dtype = x.dtype
        self.finite = math.isfinite(low) and math.isfinite(high)
        self.low, self.high = low, high
        shape = x.shape
        self.features = features = shape[-1] if shape and shape[-1] else 1
        self.elements = x.numel()
        self.step = sample_step(self.elements, limit, features)
        self.sampled = -(-self.elements // self.step)
        # the first sequence: a 2-D tensor is one sequence [tokens, features]; from 3-D on,
        # axis 0 is the batch
        if len(shape) <= 1:
            self.first_rows = self.tokens = 1
        elif len(shape) == 2:
            self.first_rows = self.tokens = shape[0]
        else:
            self.first_rows, self.tokens = math.prod(shape[1:]) // features, shape[1]
        # known later: mean and std of every finite value, NaN/Inf counts, per-token mean /
        # std / RMS of the first sequence, median |x| and outliers (None: not asked for)
        self.moments = (math.nan, math.nan)
        self.nonfinite = (0, 0, 0)
        self.abs_max = max(-low, high) if self.elements and self.finite else math.nan
        self.token_stats: tuple[np.ndarray, ...] = (_EMPTY, _EMPTY, _EMPTY)
        self.median_abs: float | None = None
        self.outliers: np.ndarray | None = None
        self._rows: torch.Tensor | None = None
        self._host: np.ndarray | None = None

    @property
    def rows(self) -> torch.Tensor:
        """``[rows, features]``: the tensor with every axis but the last one flattened."""
        if self._rows is None:
            self._rows = self.x.reshape(-1, self.features)
        return self._rows

    @property
    def flat(self) -> torch.Tensor:
        return self.rows.reshape(-1)

    @property
    def first(self) -> torch.Tensor:
        """``[rows, features]`` of the first sequence."""
        return self.rows[: self.first_rows]

    @property
    def host(self) -> np.ndarray:
        """``flat`` of a CPU tensor as numpy (a view when the tensor is contiguous)."""
        if self._host is None:
            self._host = self.x.numpy().reshape(-1)
        return self._host

    def histogram_values(self) -> torch.Tensor:
        """The strided sample the histogram counts (its finite values)."""
        sample = self.flat if self.step == 1 else self.flat[:: self.step]
        return sample if self.finite else sample[torch.isfinite(sample)]

    def host_sample(self) -> np.ndarray:
        """``histogram_values`` of a finite CPU tensor, as numpy."""
        return self.host[:: self.step]

    def median_slice(self, limit: int | None) -> slice:
        """Which elements of ``flat`` (the first sequence's, all or a strided sample) set the
        median ``|x|``."""
        count = self.first_rows * self.features
        median_limit = None if limit is None else min(limit, MEDIAN_SAMPLE)
        return slice(None, count, sample_step(count, median_limit, self.features))

    def look_for_outliers(self, median: float, ratio: float, limit: int) -> None:
        """Keep the median ``|x|`` and the outliers above ``ratio`` times it (reads the tensor
        only when its largest ``|x|`` is above that)."""
        self.median_abs = 0.0 if math.isnan(median) else median
        threshold = ratio * max(self.median_abs, 1e-12)
        if self.elements and not self.abs_max <= threshold:  # NaN abs_max: look
            self.outliers = _outliers(self.first.reshape(self.tokens, -1), threshold, limit)

    def release(self) -> None:
        """Drop the tensor and its views: what follows works on the host copies."""
        del self.x
        self._rows = self._host = None

    def summary(self, counts: np.ndarray, bin_range: tuple[float, float]) -> TensorSummary:
        """The ``TensorSummary``, once the host has finished this side."""
        extra: dict[str, Any] = {}
        if self.median_abs is not None:
            names = ("token_mean", "token_std", "token_rms")
            extra = dict(zip(names, self.token_stats, strict=True))
            extra["median_abs"] = self.median_abs
            if self.outliers is not None:
                extra["outliers"] = self.outliers
        return TensorSummary(
            counts=counts,
            lo=bin_range[0],
            hi=bin_range[1],
            nan=self.nonfinite[0],
            posinf=self.nonfinite[1],
            neginf=self.nonfinite[2],
            elements=self.elements,
            sampled=self.sampled,
            sample_step=self.step,
            mean=self.moments[0],
            std=self.moments[1],
            abs_max=self.abs_max,
            **extra,
        )


def median_abs(samples: list[torch.Tensor]) -> torch.Tensor:
    """The (lower) median ``|x|`` of each sample on its device, NaN ignored (NaN when a sample
    holds only NaN, 0 when it is empty); one call when sizes agree. ``median_abs_host`` gives
    the same numbers with numpy.

    Example:
        >>> median_abs([torch.tensor([-3.0, 1.0, float("nan"), 2.0]), torch.zeros(0)]).tolist()
        [2.0, 0.0]
    """
    if len({sample.numel() for sample in samples}) == 1 and samples[0].numel():
        return torch.stack(samples).abs().nanmedian(dim=-1).values
    return torch.stack([s.abs().nanmedian() if s.numel() else s.new_zeros(()) for s in samples])


def median_abs_host(values: np.ndarray, *, finite: bool = False) -> float:
    """The lower median ``|x|`` of one sample with numpy, NaN ignored (NaN when only NaN, 0
    when empty): ``median_abs`` without torch's per-call cost on small CPU tensors.
    ``finite=True`` promises that no value is NaN.

    Example:
        >>> median_abs_host(np.array([-3.0, 1.0, np.nan, 2.0])), median_abs_host(np.zeros(0))
        (2.0, 0.0)
    """
    magnitude = np.abs(values)
    if not magnitude.size:
        return 0.0
    if not finite and np.isnan(magnitude.max()):  # NaN propagates through max: only then filter
        magnitude = magnitude[~np.isnan(magnitude)]
        if not magnitude.size:
            return math.nan
    k = (magnitude.size - 1) // 2
    return float(np.partition(magnitude, k)[k])


def _outliers(values: torch.Tensor, threshold: float, limit: int) -> np.ndarray:
    """Rows ``(token, dim, value)`` of the largest finite ``|x|`` above ``threshold``."""
    magnitude = torch.nan_to_num(values.abs().reshape(-1), nan=0.0, posinf=0.0, neginf=0.0)
    k = min(limit, magnitude.numel())
    if k == 0:
        return np.zeros((0, 3), np.float32)
    top_values, top = torch.topk(magnitude, k)
    top = top[top_values > threshold]
    per_token = values.shape[1]
    signed = values.reshape(-1)[top].float()
    rows = torch.stack([(top // per_token).float(), (top % per_token).float(), signed], dim=1)
    return rows.cpu().numpy().astype(np.float32).reshape(-1, 3)
