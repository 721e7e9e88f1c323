"""The host side of tensor summaries: each row's mean and variance from the device's row sums
and norms (``row_variances``, while the tensors are at hand: unsure rows are recomputed from
them), then the global moments and the per-token statistics of many tensors at once
(``finish_groups``: a few numpy calls for all the norms of a forward pass). A tensor holding
NaN/Inf is finished alone (``finish_nonfinite``).
"""

from __future__ import annotations

import contextlib
import math
from collections import defaultdict

import numpy as np
import torch

from .histogram import Workspace, finite_values
from .pending import PendingTensor

NONFINITE = (torch.isnan, torch.isposinf, torch.isneginf)


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


def row_variances(group: list[PendingTensor], found: np.ndarray, work: Workspace) -> np.ndarray:
    """``[2, sides, rows]`` float64: each row's mean, then its variance, for non-empty finite
    sides of one shape and dtype, from ``found [2 * sides, rows]``: each row's sum, side after
    side, then each row's norm (in the tensors' dtype, or float64 holding those values).

    The mean is the sum divided in the tensors' dtype, as ``torch.mean`` does on the CPU. Each
    row's variance is ``E[x^2] - E[x]^2`` from the float32 reductions, within ~1e-6 where the
    mean is under ~3 standard deviations; the other rows (a large common offset, constant rows)
    are recomputed from the tensors in two float64 passes, and so is their mean.
    """
    size, features = len(group), group[0].features
    dtype = np.float64 if group[0].dtype == torch.float64 else np.float32
    moments = np.empty((2, size, found.shape[1]))
    mean, var = moments
    np.divide(found[:size], features, out=mean, dtype=dtype)
    square = np.square(found[size:], dtype=np.float64)
    square /= features
    np.subtract(square, mean * mean, out=var)
    unsure = var < 0.1 * square
    if unsure.any():
        _recompute_unsure(group, mean, var, unsure, work)
    return moments


def _recompute_unsure(
    group: list[PendingTensor],
    mean: np.ndarray,
    var: np.ndarray,
    unsure: np.ndarray,
    work: Workspace,
) -> None:
    """Two float64 passes over the rows marked ``unsure [sides, rows]``, in place."""
    for j, side in enumerate(group):
        rows = np.flatnonzero(unsure[j])
        if rows.size:
            picked = side.rows[torch.from_numpy(rows).to(side.x.device)].double()
            exact_mean, exact_var = row_moments(picked, workspace=work)
            mean[j, rows] = exact_mean.cpu().numpy()
            var[j, rows] = exact_var.cpu().numpy()


def finish_groups(groups: list[tuple[list[PendingTensor], np.ndarray]], *, details: bool) -> None:
    """Each side's mean and std of all elements from its rows' moments (law of total variance;
    ``np.add.reduce(a, axis=-1) / n`` is ``np.mean`` of each row, to the bit), and with
    ``details`` its per-token statistics: one set of numpy calls for all groups whose tensors
    have as many rows and tokens. ``groups``: sides and their ``row_variances``."""
    alike: dict[tuple[int, int, int], list[tuple[list[PendingTensor], np.ndarray]]] = defaultdict(
        list
    )
    for group, moments in groups:
        alike[(moments.shape[2], group[0].first_rows, group[0].tokens)].append((group, moments))
    for (count, first, _), members in alike.items():
        sides = [side for group, _ in members for side in group]
        both = members[0][1] if len(members) == 1 else np.concatenate([m for _, m in members], 1)
        mean, var = both
        overall, spread = np.add.reduce(both, axis=-1) / count
        deviation = mean - overall[:, None]
        spread += np.add.reduce(deviation * deviation, axis=-1) / count
        std = np.sqrt(np.maximum(spread, 0.0))
        for side, side_mean, side_std in zip(sides, overall.tolist(), std.tolist(), strict=True):
            side.moments = (side_mean, side_std)
        if details:
            _set_token_stats(sides, mean[:, :first], var[:, :first], finite=True)


def finish_nonfinite(
    side: PendingTensor, moments: np.ndarray, token_moments: np.ndarray | None
) -> None:
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
    sides: list[PendingTensor], mean: np.ndarray, var: np.ndarray, *, finite: bool = False
) -> None:
    """Per-token mean, std and RMS (RMS^2 = mean^2 + variance) of ``[sides, rows]`` row
    moments, averaged over any rows between token and feature (per-head norms); computed in
    float64, kept as float32. ``finite``: no NaN/Inf to expect."""
    tokens = sides[0].tokens
    stats = np.empty((3, len(sides), tokens), np.float32)
    with contextlib.nullcontext() if finite else np.errstate(invalid="ignore"):
        if mean.shape[1] == tokens:
            stats[0] = mean
            np.sqrt(var, out=stats[1])
            np.sqrt(mean * mean + var, out=stats[2])
        else:
            rows = np.stack([mean, np.sqrt(var), np.sqrt(mean * mean + var)])
            stats[:] = rows.reshape(3, len(sides), tokens, -1).mean(-1)
    for j, side in enumerate(sides):
        side.token_stats = (stats[0, j], stats[1, j], stats[2, j])
