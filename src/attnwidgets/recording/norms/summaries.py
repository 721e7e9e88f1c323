"""The statistics of one tensor that a norm capture keeps, computed with torch on its device.

Cheap enough to leave on: one ``aminmax`` pass gives the range, the largest ``|x|`` and whether
anything is NaN/Inf (only then are NaN, +Inf and -Inf counted, exactly, over every element); two
passes give every row's sum and norm, from which the per-token and the global moments follow;
the histogram counts a bounded, evenly strided sample (``HISTOGRAM_SAMPLE`` elements unless the
caller says otherwise, ``None`` for all of them). The small results reach the CPU in one copy
(CPU tensors and results are read in place, the samples counted with numpy).

Two steps: ``measure`` does everything that reads the tensors (they may change after the call)
and keeps only small host arrays; ``finish`` turns many measurements into summaries at once
(``moments.py``), which is what a recorder does at the end of a forward pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ...norm_records import DEFAULTS, TensorSummary
from .histogram import (
    Workspace,
    as_float,
    exact_guess,
    extremes,
    finite_values,
    histogram,
    histogram_host,
    shared_range,
)
from .moments import finish_groups, finish_nonfinite, row_moments, row_variances
from .pending import PendingTensor, median_abs, median_abs_host

__all__ = ["Measured", "finish", "measure", "summarize", "summarize_many", "to_host"]


@dataclass
class Measured:
    """What ``measure`` kept of some tensors: their sides (the tensors let go), histogram counts
    ``[tensors, bins]`` over ``bin_range``, and each finite group's row moments."""

    sides: list[PendingTensor]
    counts: np.ndarray
    bin_range: tuple[float, float]
    groups: list[tuple[list[PendingTensor], np.ndarray]]
    details: bool


def summarize_many(
    tensors: list[torch.Tensor],
    *,
    bins: int,
    value_range: tuple[float, float] | None = None,
    limit: int | None = None,
    outlier_ratio: float = DEFAULTS.outlier_ratio,
    max_outliers: int = DEFAULTS.max_outliers,
    details: bool = True,
    workspace: Workspace | None = None,
) -> list[TensorSummary]:
    """A ``TensorSummary`` of each tensor, over one histogram range, computed on their device.

    ``value_range``: the bins' ``(lo, hi)``; by default every finite value of every tensor.
    ``limit``: each histogram counts every ``sample_step``-th element (at most ``limit``; None
    counts all of them). NaN/Inf counts, mean, std, the largest ``|x|`` and the per-token
    statistics use every element. ``details=False`` skips the per-token statistics, the median
    ``|x|`` and the outliers (left empty): what the training monitor uses. One histogram pass
    and two copies to the host in all (none on the CPU; more only for tensors that hold
    NaN/Inf); temporaries live in ``workspace`` (pass the same one to every call to avoid fresh
    allocations). ``finish([measure(...)])[0]``.

    Example:
        >>> a, b = torch.tensor([[0.0, 1.0, 2.0]]), torch.tensor([[4.0, 4.0, 4.0]])
        >>> left, right = summarize_many([a, b], bins=2)
        >>> (left.lo, left.hi), left.counts.tolist(), right.counts.tolist(), right.std
        ((0.0, 4.0), [2, 1], [0, 3], 0.0)
    """
    measured = measure(
        tensors,
        bins=bins,
        value_range=value_range,
        limit=limit,
        outlier_ratio=outlier_ratio,
        max_outliers=max_outliers,
        details=details,
        workspace=workspace,
    )
    return finish([measured])[0]


def summarize(
    tensor: torch.Tensor,
    *,
    bins: int,
    value_range: tuple[float, float] | None = None,
    limit: int | None = None,
    outlier_ratio: float = DEFAULTS.outlier_ratio,
    max_outliers: int = DEFAULTS.max_outliers,
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


def measure(
    tensors: list[torch.Tensor],
    *,
    bins: int,
    value_range: tuple[float, float] | None = None,
    limit: int | None = None,
    outlier_ratio: float = DEFAULTS.outlier_ratio,
    max_outliers: int = DEFAULTS.max_outliers,
    details: bool = True,
    workspace: Workspace | None = None,
) -> Measured:
    """The first step of ``summarize_many`` (same arguments): everything that reads the
    tensors, which are let go at the end."""
    xs = [as_float(tensor) for tensor in tensors]  # detached: nothing below joins a graph
    return _measure(
        xs,
        bins,
        value_range,
        limit,
        ratio=outlier_ratio,
        max_outliers=max_outliers,
        details=details,
        work=workspace or Workspace(),
        in_place=all(x.device.type == "cpu" for x in xs),
    )


def finish(measured: list[Measured]) -> list[list[TensorSummary]]:
    """The summaries of each measurement (the second step of ``summarize_many``), the host's
    arithmetic done once for all of them.

    Example:
        >>> steps = [measure([torch.full((2, 3), v)], bins=4) for v in (1.0, 2.0)]
        >>> [summaries[0].mean for summaries in finish(steps)]
        [1.0, 2.0]
    """
    for details in (True, False):
        groups = [group for one in measured if one.details is details for group in one.groups]
        if groups:
            finish_groups(groups, details=details)
    return [
        [side.summary(one.counts[i], one.bin_range) for i, side in enumerate(one.sides)]
        for one in measured
    ]


def _measure(
    xs: list[torch.Tensor],
    bins: int,
    value_range: tuple[float, float] | None,
    limit: int | None,
    *,
    ratio: float,
    max_outliers: int,
    details: bool,
    work: Workspace,
    in_place: bool,
) -> Measured:
    """``measure`` of float tensors. ``in_place``: CPU tensors, whose samples and results
    numpy reads where they are (``False`` works on any device: torch, then one copy)."""
    bounds = extremes(xs)
    lo, hi = value_range if value_range is not None else shared_range(xs, bounds)
    sides = [PendingTensor(x, low, high, limit) for x, (low, high) in zip(xs, bounds, strict=True)]
    inside = all(side.finite and lo <= side.low and side.high <= hi for side in sides)
    found: dict[str, torch.Tensor] = {}
    if in_place and inside and exact_guess([x.dtype for x in xs], bins, lo, hi):
        counts = histogram_host([side.host_sample() for side in sides], bins, lo, hi, work)
    else:
        values = [side.histogram_values() for side in sides]
        found["counts"] = histogram(values, bins, lo, hi, inside=inside, workspace=work)
    groups = _finite_groups(sides)
    for g, group in enumerate(groups):
        found[f"group{g}"] = _row_sums_and_norms(group, work)
    for i, side in enumerate(sides):
        if not side.finite:
            found.update(_nonfinite_moments(i, side, details))
    if details and not in_place:  # on the device, to copy 2 numbers instead of 2 samples
        found["medians"] = median_abs([side.flat[side.median_slice(limit)] for side in sides])
    host = to_host(found, in_place=in_place)
    if "counts" in host:
        counts = np.asarray(host["counts"], dtype=np.int64).reshape(len(sides), bins)
    if details:
        medians = host["medians"].tolist() if not in_place else _medians_on_host(sides, limit)
        for side, median in zip(sides, medians, strict=True):
            side.look_for_outliers(median, ratio, max_outliers)
    moments = [
        (group, row_variances(group, host[f"group{g}"].reshape(2 * len(group), -1), work))
        for g, group in enumerate(groups)
    ]
    for i, side in enumerate(sides):
        if not side.finite:
            finish_nonfinite(side, host[f"{i}.moments"], host.get(f"{i}.token_moments"))
    for side in sides:
        side.release()
    return Measured(sides, counts, (lo, hi), moments, details)


def _medians_on_host(sides: list[PendingTensor], limit: int | None) -> list[float]:
    """``median_abs_host`` of each CPU side's median sample; one partition for all of them
    when they are finite and their samples the same size (a norm's input and output)."""
    samples = [side.host[side.median_slice(limit)] for side in sides]
    size = samples[0].size
    if size and all(side.finite and s.size == size for side, s in zip(sides, samples, strict=True)):
        magnitude = np.empty((len(samples), size), np.result_type(*samples))
        for row, sample in zip(magnitude, samples, strict=True):
            np.abs(sample, out=row)
        k = (size - 1) // 2
        magnitude.partition(k, axis=1)
        return magnitude[:, k].tolist()  # type: ignore[no-any-return]
    return [median_abs_host(s, finite=side.finite) for side, s in zip(sides, samples, strict=True)]


def _finite_groups(sides: list[PendingTensor]) -> list[list[PendingTensor]]:
    """The non-empty finite sides, grouped by shape, dtype and device (in order)."""
    groups: dict[tuple[object, ...], list[PendingTensor]] = {}
    for side in sides:
        if side.finite and side.elements:
            groups.setdefault((side.x.shape, side.dtype, side.x.device), []).append(side)
    return list(groups.values())


def _row_sums_and_norms(group: list[PendingTensor], work: Workspace) -> torch.Tensor:
    """``[2 * len(group), *shape[:-1]]``: the sum of every row (last axis), side after side,
    then every row's norm: two reductions per side, into one buffer kept in ``work``."""
    x, size = group[0].x, len(group)
    key = ("row_sums_and_norms", x.shape, x.dtype, x.device, size)  # one group per shape
    found, rows = work.kept(key, lambda: _buffer_rows(2 * size, x.shape[:-1], x))
    for j, side in enumerate(group):
        torch.sum(side.x, -1, out=rows[j])
        torch.linalg.vector_norm(side.x, dim=-1, out=rows[size + j])
    return found


def _buffer_rows(
    count: int, shape: torch.Size, like: torch.Tensor
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    found = torch.empty((count, *shape), dtype=like.dtype, device=like.device)
    return found, found.unbind(0)


def _nonfinite_moments(i: int, side: PendingTensor, details: bool) -> dict[str, torch.Tensor]:
    """The finite values' ``[mean, std]`` and the first sequence's ``[2, rows]`` row means and
    variances with their NaN/Inf (the slow path, for a tensor holding NaN or Inf)."""
    finite = finite_values(side.x).double()
    if finite.numel():
        std, mean = torch.std_mean(finite, correction=0)
        moments = torch.stack([mean, std])
    else:
        moments = torch.full((2,), math.nan, dtype=torch.float64, device=finite.device)
    found = {f"{i}.moments": moments}
    if details:
        found[f"{i}.token_moments"] = torch.stack(row_moments(side.first, stable=False))
    return found


def to_host(found: dict[str, torch.Tensor], *, in_place: bool) -> dict[str, np.ndarray]:
    """The small results as numpy arrays of the same shapes, by name: CPU tensors are read in
    place (``in_place=True``), others reach the CPU in one copy (as float64).

    Example:
        >>> found = {"a": torch.tensor([[1, 2]]), "b": torch.tensor([0.5])}
        >>> {k: v.tolist() for k, v in to_host(found, in_place=False).items()}
        {'a': [[1.0, 2.0]], 'b': [0.5]}
    """
    if in_place:
        return {name: part.numpy() for name, part in found.items()}
    if not found:
        return {}
    parts = list(found.values())
    joined = torch.cat([parts[0].reshape(-1).double(), *(p.reshape(-1) for p in parts[1:])])
    host, start, values = {}, 0, joined.cpu().numpy()
    for name, part in zip(found, parts, strict=True):
        host[name] = values[start : start + part.numel()].reshape(part.shape)
        start += part.numel()
    return host
