"""The statistics of one tensor that a norm capture keeps, computed with torch on its device.

Cheap enough to leave on: one ``aminmax`` pass gives the range, the largest ``|x|`` and whether
anything is NaN/Inf (only then are NaN, +Inf and -Inf counted, exactly, over every element); two
passes give every row's mean and variance, from which the per-token and the global moments follow;
the histogram counts a bounded, evenly strided sample (``HISTOGRAM_SAMPLE`` elements unless the
caller says otherwise, ``None`` for all of them). The small results reach the CPU in one copy.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..norm_records import TensorSummary
from .histograms import (
    Workspace,
    as_float,
    extremes,
    finite_values,
    histogram,
    sample_step,
    shared_range,
)

MEDIAN_SAMPLE = 1 << 10
"""At most this many ``|x|`` of the first sequence set the outlier threshold when sampling."""


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


NONFINITE = (torch.isnan, torch.isposinf, torch.isneginf)


class _Tensor:
    """One tensor being summarised: its views, sample and what is known of it so far."""

    def __init__(self, tensor: torch.Tensor, low: float, high: float, limit: int | None) -> None:
        self.x = x = tensor
        self.finite = math.isfinite(low) and math.isfinite(high)
        self.low, self.high = low, high
        self.features = x.shape[-1] if x.dim() and x.shape[-1] else 1
        self.flat, self.rows = x.reshape(-1), x.reshape(-1, self.features)
        self.step = sample_step(self.flat.numel(), limit, self.features)
        self.sample = self.flat[:: self.step]
        self.first = self.rows[: _first_sequence_rows(x)]
        self.tokens = 1 if x.dim() <= 1 else (x.shape[0] if x.dim() == 2 else x.shape[1])

    def histogram_values(self) -> torch.Tensor:
        return self.sample if self.finite else self.sample[torch.isfinite(self.sample)]

    def median_sample(self, limit: int | None) -> torch.Tensor:
        """The first sequence's values behind the median ``|x|`` (all, or a strided sample)."""
        flat = self.first.reshape(-1)
        median_limit = None if limit is None else min(limit, MEDIAN_SAMPLE)
        return flat[:: sample_step(flat.numel(), median_limit, self.features)]


def _first_sequence_rows(x: torch.Tensor) -> int:
    """How many leading rows of ``x.reshape(-1, features)`` belong to the first sequence.

    A 2-D tensor is one sequence ``[tokens, features]``; from 3-D on, axis 0 is the batch.
    """
    if x.dim() <= 1:
        return 1
    if x.dim() == 2:
        return x.shape[0]
    return x[0].numel() // max(x.shape[-1], 1)


def summarize_many(
    tensors: list[torch.Tensor],
    *,
    bins: int,
    value_range: tuple[float, float] | None = None,
    limit: int | None = None,
    outlier_ratio: float = 100.0,
    max_outliers: int = 8,
    details: bool = True,
    workspace: Workspace | None = None,
) -> list[TensorSummary]:
    """A ``TensorSummary`` of each tensor, over one histogram range, computed on their device.

    ``value_range``: the bins' ``(lo, hi)``; by default every finite value of every tensor.
    ``limit``: each histogram counts every ``sample_step``-th element (at most ``limit``; None
    counts all of them). NaN/Inf counts, mean, std, the largest ``|x|`` and the per-token
    statistics use every element. ``details=False`` skips the per-token statistics, the median
    ``|x|`` and the outliers (left empty): what the training monitor uses. One histogram pass
    and two copies to the host in all (more only for tensors that hold NaN/Inf); temporaries
    live in ``workspace`` (pass the same one to every call to avoid fresh allocations).

    Example:
        >>> a, b = torch.tensor([[0.0, 1.0, 2.0]]), torch.tensor([[4.0, 4.0, 4.0]])
        >>> left, right = summarize_many([a, b], bins=2)
        >>> (left.lo, left.hi), left.counts.tolist(), right.counts.tolist(), right.std
        ((0.0, 4.0), [2, 1], [0, 3], 0.0)
    """
    work = workspace or Workspace()
    with torch.no_grad():
        xs = [as_float(tensor) for tensor in tensors]
        bounds = extremes(xs)
        lo, hi = value_range if value_range is not None else shared_range(xs, bounds)
        sides = [_Tensor(x, low, high, limit) for x, (low, high) in zip(xs, bounds, strict=True)]
        inside = all(side.finite and lo <= side.low and side.high <= hi for side in sides)
        values = [side.histogram_values() for side in sides]
        found = {"counts": histogram(values, bins, lo, hi, inside=inside, workspace=work)}
        for i, side in enumerate(sides):
            found.update(_device_moments(i, side, details, work))
        if details:
            found["medians"] = _median_abs([side.median_sample(limit) for side in sides])
        host = _to_host(found)
        for i, side in enumerate(sides):
            if side.finite:
                mean, norm = host[f"{i}.row_mean"], host[f"{i}.row_norm"]
                host[f"{i}.row_var"] = _row_variances(side, mean, norm, work)
        counts = host["counts"].reshape(len(sides), bins).astype(np.int64)
        summaries = []
        for i, side in enumerate(sides):
            summary = _summary(i, side, host, counts[i], lo, hi)
            if details:
                _add_details(summary, i, side, host, outlier_ratio, max_outliers)
            summaries.append(summary)
        return summaries


def summarize(
    tensor: torch.Tensor,
    *,
    bins: int,
    value_range: tuple[float, float] | None = None,
    limit: int | None = None,
    outlier_ratio: float = 100.0,
    max_outliers: int = 8,
    details: bool = True,
) -> TensorSummary:
    """The ``TensorSummary`` of one tensor (see ``summarize_many``).

    Example:
        >>> s = summarize(torch.tensor([[1.0, 2.0, float("inf")]]), bins=2, value_range=(1, 2))
        >>> s.counts.tolist(), s.posinf, s.token_mean.tolist()
        ([1, 1], 1, [inf])
    """
    return summarize_many(
        [tensor],
        bins=bins,
        value_range=value_range,
        limit=limit,
        outlier_ratio=outlier_ratio,
        max_outliers=max_outliers,
        details=details,
    )[0]


def _device_moments(
    i: int, side: _Tensor, details: bool, work: Workspace
) -> dict[str, torch.Tensor]:
    """Mean and norm of every row (finite tensors), or the finite values' moments and the first
    sequence's row moments with their NaN/Inf (the slow path)."""
    if side.finite:  # two reductions, no temporary; the variance follows on the host
        norm = torch.linalg.vector_norm(side.rows, dim=-1)
        return {f"{i}.row_mean": side.rows.mean(-1), f"{i}.row_norm": norm}
    found = {f"{i}.moments": _moments(finite_values(side.x).double())}
    if details:
        found[f"{i}.token_mean"], found[f"{i}.token_var"] = row_moments(side.first, stable=False)
    return found


def _row_variances(
    side: _Tensor, mean: np.ndarray, norm: np.ndarray, work: Workspace
) -> np.ndarray:
    """Each row's variance ``E[x^2] - E[x]^2`` from float32 reductions, within ~1e-6 where
    the mean is under ~3 standard deviations; the other rows (a large common offset, constant
    rows) are recomputed in two float64 passes, and so is their mean."""
    square = np.square(norm) / side.features
    var: np.ndarray = square - np.square(mean)
    unsure = np.flatnonzero(var < 0.1 * square)
    if unsure.size:
        rows = side.rows[torch.from_numpy(unsure).to(side.rows.device)].double()
        exact_mean, exact_var = row_moments(rows, workspace=work)
        mean[unsure] = exact_mean.cpu().numpy()
        var[unsure] = exact_var.cpu().numpy()
    return var


def _moments(values: torch.Tensor) -> torch.Tensor:
    """``[mean, std]`` of a flat tensor (NaN when it is empty)."""
    if not values.numel():
        return torch.full((2,), math.nan, dtype=torch.float64, device=values.device)
    std, mean = torch.std_mean(values, correction=0)
    return torch.stack([mean, std])


def _median_abs(samples: list[torch.Tensor]) -> torch.Tensor:
    """The (lower) median ``|x|`` of each sample, NaN ignored; one call when sizes agree."""
    if len({sample.numel() for sample in samples}) == 1 and samples[0].numel():
        return torch.stack(samples).abs().nanmedian(dim=-1).values
    return torch.stack([s.abs().nanmedian() if s.numel() else s.new_zeros(()) for s in samples])


def _summary(
    i: int, side: _Tensor, host: dict[str, np.ndarray], counts: np.ndarray, lo: float, hi: float
) -> TensorSummary:
    if side.finite:
        nonfinite = (0, 0, 0)
        abs_max = max(-side.low, side.high) if side.flat.numel() else math.nan
        mean, var = host[f"{i}.row_mean"], host[f"{i}.row_var"]
        moments = _pooled(mean, var) if mean.size else (math.nan, math.nan)
    else:  # NaN or Inf inside: counted exactly; the rest describes the finite values
        nonfinite = tuple(int(f(side.flat).sum()) for f in NONFINITE)  # type: ignore[assignment]
        finite = finite_values(side.x)
        abs_max = float(finite.abs().max()) if finite.numel() else math.nan
        moments = tuple(float(v) for v in host[f"{i}.moments"])  # type: ignore[assignment]
    return TensorSummary(
        counts=counts,
        lo=lo,
        hi=hi,
        nan=nonfinite[0],
        posinf=nonfinite[1],
        neginf=nonfinite[2],
        elements=side.flat.numel(),
        sampled=side.sample.numel(),
        sample_step=side.step,
        mean=moments[0],
        std=moments[1],
        abs_max=abs_max,
    )


def _pooled(mean: np.ndarray, var: np.ndarray) -> tuple[float, float]:
    """Mean and std of all elements from equal-sized rows' moments (law of total variance)."""
    overall = float(mean.mean())
    spread = float(var.mean() + np.square(mean - overall).mean())
    return overall, math.sqrt(max(spread, 0.0))


def _add_details(
    summary: TensorSummary,
    i: int,
    side: _Tensor,
    host: dict[str, np.ndarray],
    ratio: float,
    limit: int,
) -> None:
    """Per-token mean / std / RMS of the first sequence, its median ``|x|`` and outliers."""
    count = side.first.shape[0]
    if side.finite:
        mean, var = host[f"{i}.row_mean"][:count], host[f"{i}.row_var"][:count]
    else:
        mean, var = host[f"{i}.token_mean"], host[f"{i}.token_var"]
    with np.errstate(invalid="ignore"):
        # mean, std, RMS (RMS^2 = mean^2 + variance) per row, then averaged over any rows
        # between token and feature (per-head norms)
        stats = np.stack([mean, np.sqrt(var), np.sqrt(mean * mean + var)]).reshape(
            3, side.tokens, -1
        )
        per_token = (stats[:, :, 0] if stats.shape[2] == 1 else stats.mean(-1)).astype(np.float32)
    summary.token_mean, summary.token_std, summary.token_rms = per_token
    median = float(host["medians"][i])
    summary.median_abs = 0.0 if math.isnan(median) else median
    threshold = ratio * max(summary.median_abs, 1e-12)
    if not summary.abs_max <= threshold:  # something may exceed it (NaN abs_max: look)
        summary.outliers = _outliers(side.first.reshape(side.tokens, -1), threshold, limit)


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


def _to_host(found: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """All small (1-D) results in one copy to the CPU, split back by name (float64)."""
    parts = list(found.values())
    joined = torch.cat([parts[0].reshape(-1).double(), *parts[1:]]).cpu().numpy()
    host, start = {}, 0
    for name, part in zip(found, parts, strict=True):
        host[name] = joined[start : start + part.numel()]
        start += part.numel()
    return host
