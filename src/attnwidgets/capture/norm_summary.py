"""The host side of a tensor summary: one tensor's views and what is known of it (``Side``),
finished into a ``TensorSummary`` from the small results ``norm_stats.summarize_many`` copied
to the CPU. Tensors of one shape are finished together (``finish_group``: one numpy call for
both sides of a norm); a tensor holding NaN/Inf alone (``finish_nonfinite``). Only rows whose
float32 moments are unsure and the outliers go back to the device.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np
import torch

from ..norm_records import TensorSummary
from .histograms import Workspace, finite_values, sample_step

MEDIAN_SAMPLE = 1 << 10
"""At most this many ``|x|`` of the first sequence set the outlier threshold when sampling."""

NONFINITE = (torch.isnan, torch.isposinf, torch.isneginf)


class Side:
    """One tensor being summarised: its shape, sample, views (made when first needed) and
    what is known of it so far.

    Example:
        >>> side = Side(torch.zeros(2, 3, 4), 0.0, 0.0, limit=None)
        >>> side.rows.shape, side.first_rows, side.tokens, side.flat[side.median_slice(None)].shape
        (torch.Size([6, 4]), 3, 3, torch.Size([12]))
    """

    def __init__(self, tensor: torch.Tensor, low: float, high: float, limit: int | None) -> None:
        self.x = x = tensor
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
        # filled on the host: mean and std of every finite value, NaN/Inf counts, per token
        # mean / std / RMS of the first sequence
        self.moments = (math.nan, math.nan)
        self.nonfinite = (0, 0, 0)
        self.abs_max = max(-low, high) if self.elements and self.finite else math.nan
        empty = np.zeros(0, np.float32)
        self.token_stats: tuple[np.ndarray, ...] = (empty, empty, empty)
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

    def histogram_values(self) -> torch.Tensor:
        """The strided sample the histogram counts (its finite values)."""
        sample = self.flat if self.step == 1 else self.flat[:: self.step]
        return sample if self.finite else sample[torch.isfinite(sample)]

    @property
    def host(self) -> np.ndarray:
        """``flat`` of a CPU tensor as numpy (a view when the tensor is contiguous)."""
        if self._host is None:
            self._host = self.x.numpy().reshape(-1)
        return self._host

    def host_sample(self) -> np.ndarray:
        """``histogram_values`` of a finite CPU tensor, as numpy."""
        return self.host[:: self.step]

    def median_slice(self, limit: int | None) -> slice:
        """Which elements of ``flat`` (the first sequence's, all or a strided sample) set the
        median ``|x|``."""
        count = self.first_rows * self.features
        median_limit = None if limit is None else min(limit, MEDIAN_SAMPLE)
        return slice(None, count, sample_step(count, median_limit, self.features))

    @property
    def first(self) -> torch.Tensor:
        """``[rows, features]`` of the first sequence."""
        return self.rows[: self.first_rows]

    def summary(
        self,
        counts: np.ndarray,
        bin_range: tuple[float, float],
        median: float | None,
        ratio: float,
        max_outliers: int,
    ) -> TensorSummary:
        """The ``TensorSummary``, once the host has finished this side (``median=None``: no
        per-token statistics, median or outliers)."""
        extra: dict[str, Any] = {}
        if median is not None:
            extra = dict(
                zip(("token_mean", "token_std", "token_rms"), self.token_stats, strict=True)
            )
            extra["median_abs"] = 0.0 if math.isnan(median) else median
            threshold = ratio * max(extra["median_abs"], 1e-12)
            if self.elements and not self.abs_max <= threshold:  # NaN abs_max: look
                first = self.first.reshape(self.tokens, -1)
                extra["outliers"] = _outliers(first, threshold, max_outliers)
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


def row_moments(
    rows: torch.Tensor, *, stable: bool = True, workspace: Workspace | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and population variance of each row of ``rows [n, features]``.

    Two passes: the mean, then the norm of the centred rows (stable, unlike
    ``E[x^2] - E[x]^2``). ``stable=False`` uses ``torch.std_mean`` instead, which lets NaN and
    Inf through as numpy does (an Inf row has mean Inf, variance NaN).

    Example:
        >>> mean, var = row_moments(torch.tensor([[1.0, 3.0], [2.0, 2.0]]))
        >>> mean.tolist(), [round(v, 6) for v in var.tolist()]
        ([2.0, 2.0], [1.0, 0.0])
    """
    if not stable:
        std, mean = torch.std_mean(rows, dim=-1, correction=0)
        return mean, std.square()
    mean = rows.mean(-1)
    work = workspace or Workspace()
    centred = work.take("rows.centred", rows.numel(), rows.dtype, rows.device).view(rows.shape)
    spread = torch.linalg.vector_norm(torch.sub(rows, mean[:, None], out=centred), dim=-1)
    return mean, spread.square_().div_(max(rows.shape[-1], 1))


def finish_group(
    group: list[Side], found: np.ndarray, work: Workspace, *, details: bool = True
) -> None:
    """Moments of non-empty finite sides of one shape and dtype from ``found [2 * sides,
    rows]``: each row's sum, side after side, then each row's norm (in the tensors' dtype, or
    float64 holding those values); ``details``: also per token.

    The mean is the sum divided in the tensors' dtype, as ``torch.mean`` does on the CPU. Each
    row's variance is ``E[x^2] - E[x]^2`` from the float32 reductions, within ~1e-6 where the
    mean is under ~3 standard deviations; the other rows (a large common offset, constant rows)
    are recomputed in two float64 passes, and so is their mean. The global mean and std follow
    from the rows' (law of total variance).
    """
    size, features = len(group), group[0].features
    dtype = np.float64 if group[0].x.dtype == torch.float64 else np.float32
    moments = np.empty((2, size, found.shape[1]))  # each row's mean, then its variance
    mean, var = moments
    np.divide(found[:size], features, out=mean, dtype=dtype)
    square = np.square(found[size:], dtype=np.float64)
    square /= features
    np.subtract(square, mean * mean, out=var)
    unsure = var < 0.1 * square
    if unsure.any():
        _recompute_unsure(group, mean, var, unsure, work)
    count = mean.shape[1]  # np.add.reduce(a, axis=-1) / n is np.mean(a) of each row, to the bit
    overall, spread = np.add.reduce(moments, axis=-1) / count
    deviation = mean - overall[:, None]
    spread += np.add.reduce(deviation * deviation, axis=-1) / count
    std = np.sqrt(np.maximum(spread, 0.0))
    for side, side_mean, side_std in zip(group, overall.tolist(), std.tolist(), strict=True):
        side.moments = (side_mean, side_std)
    if details:
        first = group[0].first_rows
        _set_token_stats(group, mean[:, :first], var[:, :first], finite=True)


def _recompute_unsure(
    group: list[Side], mean: np.ndarray, var: np.ndarray, unsure: np.ndarray, work: Workspace
) -> None:
    """Two float64 passes over the rows marked ``unsure [sides, rows]``, in place."""
    for j, side in enumerate(group):
        rows = np.flatnonzero(unsure[j])
        if rows.size:
            picked = side.rows[torch.from_numpy(rows).to(side.x.device)].double()
            exact_mean, exact_var = row_moments(picked, workspace=work)
            mean[j, rows] = exact_mean.cpu().numpy()
            var[j, rows] = exact_var.cpu().numpy()


def finish_nonfinite(side: Side, moments: np.ndarray, token_moments: np.ndarray | None) -> None:
    """A side holding NaN or Inf: counted exactly; the rest describes the finite values.
    ``token_moments``: the first sequence's ``[2, rows]`` means and variances, NaN/Inf kept."""
    side.nonfinite = tuple(int(f(side.flat).sum()) for f in NONFINITE)  # type: ignore[assignment]
    finite = finite_values(side.x)
    side.abs_max = float(finite.abs().max()) if finite.numel() else math.nan
    side.moments = (float(moments[0]), float(moments[1]))
    if token_moments is not None:
        token_moments = token_moments.astype(np.float64)
        _set_token_stats([side], token_moments[:1], token_moments[1:])


def _set_token_stats(
    group: list[Side], mean: np.ndarray, var: np.ndarray, *, finite: bool = False
) -> None:
    """Per-token mean, std and RMS (RMS^2 = mean^2 + variance) of ``[sides, rows]`` row
    moments, averaged over any rows between token and feature (per-head norms); computed in
    float64, kept as float32. ``finite``: no NaN/Inf to expect."""
    tokens = group[0].tokens
    stats = np.empty((3, len(group), tokens), np.float32)
    with contextlib.nullcontext() if finite else np.errstate(invalid="ignore"):
        if mean.shape[1] == tokens:
            stats[0] = mean
            np.sqrt(var, out=stats[1])
            np.sqrt(mean * mean + var, out=stats[2])
        else:
            rows = np.stack([mean, np.sqrt(var), np.sqrt(mean * mean + var)])
            stats[:] = rows.reshape(3, len(group), tokens, -1).mean(-1)
    for j, side in enumerate(group):
        side.token_stats = (stats[0, j], stats[1, j], stats[2, j])


def median_abs_host(values: np.ndarray, *, finite: bool = False) -> float:
    """The lower median ``|x|`` of one sample with numpy, NaN ignored (NaN when only NaN, 0
    when empty): ``norm_stats.median_abs`` without torch's per-call cost on small CPU tensors.
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
