"""Histogram and range primitives for tensor summaries, computed with torch on the tensor's
device: a bounded, evenly strided sample (``sample_step``), numpy-equal bins (``histogram``;
``histogram_host`` counts CPU samples with numpy, which costs less per call than torch on a few
thousand values), ranges that skip NaN/Inf (``extremes``, ``shared_range``), and reusable
scratch buffers (``Workspace``). ``summaries.py`` builds the norm capture's summaries from them.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch

from ...norm_records import widen

HISTOGRAM_SAMPLE = 1 << 13
"""Default bound on the elements a histogram counts (per tensor): 64 bins get ~128 each."""

T = TypeVar("T")


class Workspace:
    """Reusable buffers for temporaries, one per (name, dtype, device), grown when too small.

    A fresh CPU tensor of a few hundred KB costs more in page faults than the arithmetic done
    in it; a recorder keeps one workspace for all of its calls (not shared between threads).

    Example:
        >>> work = Workspace()
        >>> a = work.take("x", 10, torch.float64); b = work.take("x", 4, torch.float64)
        >>> b.shape, a.data_ptr() == b.data_ptr()
        (torch.Size([4]), True)
    """

    def __init__(self) -> None:
        self._buffers: dict[tuple[str, torch.dtype, torch.device], torch.Tensor] = {}
        self._host: dict[tuple[str, Any], np.ndarray] = {}
        self._kept: dict[tuple[object, ...], Any] = {}

    def take(
        self, name: str, numel: int, dtype: torch.dtype, device: torch.device | str = "cpu"
    ) -> torch.Tensor:
        """A 1-D tensor of ``numel`` elements (contents undefined) that stays valid until the
        next ``take`` of the same name."""
        key = (name, dtype, torch.device(device))
        buffer = self._buffers.get(key)
        if buffer is None or buffer.numel() < numel:
            with torch.inference_mode(False):  # one made in inference mode is no use outside it
                buffer = torch.empty(max(numel, 1), dtype=dtype, device=device)
            self._buffers[key] = buffer
        return buffer[:numel]

    def take_host(self, name: str, numel: int, dtype: Any) -> np.ndarray:
        """``take`` for a numpy buffer."""
        buffer = self._host.get((name, dtype))
        if buffer is None or buffer.size < numel:
            buffer = self._host[(name, dtype)] = np.empty(max(numel, 1), dtype)
        return buffer[:numel]

    def kept(self, key: tuple[object, ...], make: Callable[[], T]) -> T:
        """``make()``, made once per ``key`` (views of buffers, per-shape plans).

        Example:
            >>> work = Workspace()
            >>> work.kept(("a", 2), lambda: [0] * 2) is work.kept(("a", 2), list)
            True
        """
        found = self._kept.get(key)
        if found is None:
            with torch.inference_mode(False):
                found = self._kept[key] = make()
        return found


def sample_step(elements: int, limit: int | None, period: int = 1) -> int:
    """Stride of a sample of at most ``limit`` of ``elements`` values (1 = all of them).

    The stride is coprime with ``period`` (the feature size), so that the sample visits every
    feature dimension instead of the same few ones in every token.

    Example:
        >>> sample_step(98_304, 16_384, period=768)  # 6 shares factors with 768; 7 does not
        7
        >>> sample_step(100, None), sample_step(100, 1_000)
        (1, 1)
    """
    if limit is None or elements <= limit:
        return 1
    step = -(-elements // limit)
    while math.gcd(step, period) != 1:
        step += 1
    return step


def histogram(
    values: torch.Tensor | list[torch.Tensor],
    bins: int,
    lo: float,
    hi: float,
    *,
    inside: bool = False,
    workspace: Workspace | None = None,
) -> torch.Tensor:
    """Counts of ``values`` in ``bins`` equal bins over ``[lo, hi]``, by numpy's rules.

    The same counts as ``np.histogram(values.double(), bins, (lo, hi))``: edges
    ``np.linspace(lo, hi, bins + 1)``, bin ``i`` is ``[edge_i, edge_i+1)``, the last one also
    holds ``hi``; values outside and NaN are not counted (``inside=True`` promises that every
    value is finite and inside). A list of tensors gives ``[len(values), bins]`` counts from one
    pass. Computed on the values' device, in float64.

    Numpy first guesses ``floor((x - lo) / (hi - lo) * bins)`` and then moves values that
    landed on the wrong side of an edge. For float32 (and narrower) values and a power-of-two
    ``bins`` (64 by default) the guess is almost always exact; ``exact_guess`` checks it for
    the range at hand, and the correction runs only where it is not (other bin counts, float64,
    a range in which ``x - lo`` can round next to an edge).

    Example:
        >>> histogram(torch.tensor([0.0, 0.5, 1.0, 2.0, float("nan")]), 2, 0.0, 1.0).tolist()
        [1, 2]
        >>> histogram([torch.tensor([0.1]), torch.tensor([0.9, 1.0])], 2, 0.0, 1.0).tolist()
        [[1, 0], [0, 2]]
    """
    if not hi > lo:
        raise ValueError(f"histogram range must have lo < hi, not ({lo}, {hi})")
    groups = [values] if isinstance(values, torch.Tensor) else values
    work = workspace or Workspace()
    device = groups[0].device
    sizes = [group.numel() for group in groups]
    x = work.take("histogram.values", sum(sizes), torch.float64, device)
    start = 0
    for group, size in zip(groups, sizes, strict=True):
        x[start : start + size].copy_(group if group.dim() == 1 else group.reshape(-1))
        start += size
    width = (hi - lo) / bins
    if inside and exact_guess([group.dtype for group in groups], bins, lo, hi):
        # numpy's guess, exact here, in place: dividing by ``width`` rounds as dividing by
        # ``hi - lo`` then multiplying by a power of two does; once clamped to [0, bins - 1]
        # (bins - 1 also takes ``hi``), converting to an integer floors it
        index = x.sub_(lo).div_(width).clamp_(0, bins - 1)
    else:
        # numpy's guess with numpy's operations in numpy's order, then numpy's correction
        # against the exact edges; edge i is ``i * width + lo`` as linspace computes it (the
        # last edge, ``hi``, is never compared: the last bin includes it)
        index = work.take("histogram.bins", x.numel(), torch.float64, device)
        torch.sub(x, lo, out=index).div_(hi - lo).mul_(bins).floor_().clamp_(0, bins - 1)
        if not exact_guess([group.dtype for group in groups], bins, lo, hi):
            index -= (x < index * width + lo).double()
            index += ((x >= (index + 1) * width + lo) & (index < bins - 1)).double()
    start = sizes[0]
    for group_index, size in enumerate(sizes[1:], start=1):
        index[start : start + size].add_(group_index * bins)
        start += size
    if not inside:
        index = index[(x >= lo) & (x <= hi)]  # also drops NaN
    whole = work.take("histogram.index", index.numel(), torch.int64, device).copy_(index)
    counts = torch.bincount(whole, minlength=len(groups) * bins)
    return counts if isinstance(values, torch.Tensor) else counts.view(len(groups), bins)


def histogram_host(
    samples: list[np.ndarray], bins: int, lo: float, hi: float, workspace: Workspace
) -> np.ndarray:
    """``[len(samples), bins]`` counts of float32 (or narrower) samples whose values are all
    finite and inside ``[lo, hi]``, for a power-of-two ``bins``: ``histogram``'s exact guess
    (``exact_guess``) with numpy, widened and shifted in one step, divided and truncated in
    the next; a value at ``hi`` lands in bin ``bins`` and is moved to the last bin.

    Example:
        >>> histogram_host([np.float32([0.0, 0.5, 1.0])], 2, 0.0, 1.0, Workspace()).tolist()
        [[1, 2]]
    """
    width = (hi - lo) / bins
    counts = np.empty((len(samples), bins + 1), np.int64)
    for j, sample in enumerate(samples):
        shifted = workspace.take_host("histogram.shifted", sample.size, np.float64)
        index = workspace.take_host("histogram.index", sample.size, np.intp)
        np.subtract(sample, lo, out=shifted, dtype=np.float64)
        np.divide(shifted, width, out=index, casting="unsafe")  # in [0, bins]: truncation floors
        counts[j] = np.bincount(index, minlength=bins + 1)
    counts[:, bins - 1] += counts[:, bins]
    return counts[:, :bins]


def exact_guess(dtypes: list[torch.dtype], bins: int, lo: float, hi: float) -> bool:
    """Whether numpy's first guess of the bin, ``(x - lo) / (hi - lo) * bins`` truncated, is
    numpy's final bin for every float32 ``x`` in ``[lo, hi]``, so that ``histogram`` may skip
    numpy's correction: float32 or narrower values, float32 ``lo`` and ``hi``, a power-of-two
    ``bins`` and an exact bin width. One case remains: ``x - lo`` rounds for ``x`` much nearer
    0 than ``lo``, which matters only next to an edge at (or within ``(hi - lo) / 2**20`` of) 0,
    where -1e-20 would take the bin above 0; there the correction runs. (The tests check this
    against every edge of thousands of ranges.)

    Example:
        >>> [exact_guess([dtype], 64, -3.25, 5.75) for dtype in (torch.float32, torch.float64)]
        [True, False]
        >>> exact_guess([torch.float32], 64, -4.0, 4.0)  # edge 32 is 0
        False
    """
    width = (hi - lo) / bins
    if torch.float64 in dtypes or bins & (bins - 1) or width * bins != hi - lo:
        return False
    if _FLOAT32.unpack(_FLOAT32.pack(lo))[0] != lo or _FLOAT32.unpack(_FLOAT32.pack(hi))[0] != hi:
        return False
    nearest = round(-lo / width)  # the edge nearest 0, as np.linspace computes it
    return not (0 < nearest < bins and abs(nearest * width + lo) <= (hi - lo) * 2.0**-20)


_FLOAT32 = struct.Struct("f")


def as_float(tensor: torch.Tensor) -> torch.Tensor:
    """The tensor as float32 or float64 (half precision and integers widened), detached (a
    tensor that does not require grad is returned as it is)."""
    x = tensor.detach() if tensor.requires_grad else tensor
    if not x.is_floating_point() or x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    return x


def extremes(tensors: list[torch.Tensor]) -> list[tuple[float, float]]:
    """``(min, max)`` of each tensor (NaN when it holds a NaN; ``(0, 0)`` when empty): one
    ``aminmax`` pass each and one copy to the host (CPU tensors: read in place).

    Example:
        >>> extremes([torch.tensor([3.0, -1.0]), torch.tensor([float("nan"), 1.0])])
        [(-1.0, 3.0), (nan, nan)]
    """
    found = [torch.aminmax(x) if x.numel() else (x.new_zeros(()),) * 2 for x in tensors]
    scalars = [value for pair in found for value in pair]
    if all(x.device.type == "cpu" for x in tensors):  # exact floats, without a stack
        values = [value.item() for value in scalars]
    else:
        values = torch.stack(scalars).tolist()
    return list(zip(values[::2], values[1::2], strict=True))


def finite_values(x: torch.Tensor) -> torch.Tensor:
    """The finite elements, flattened (the slow path, for tensors holding NaN or Inf)."""
    flat = x.reshape(-1)
    return flat[torch.isfinite(flat)]


def shared_range(
    tensors: list[torch.Tensor], bounds: list[tuple[float, float]]
) -> tuple[float, float]:
    """``(min, max)`` over the finite values of all tensors, widened if empty or flat.

    ``bounds`` holds each tensor's ``(min, max)``; only a tensor holding NaN/Inf is searched.

    Example:
        >>> a, b = torch.tensor([1.0, float("nan")]), torch.tensor([-2.0, float("inf")])
        >>> shared_range([a, b], [(float("nan"),) * 2, (-2.0, float("inf"))])
        (-2.0, 1.0)
    """
    lows, highs = [], []
    for tensor, (low, high) in zip(tensors, bounds, strict=True):
        if not (math.isfinite(low) and math.isfinite(high)):
            finite = finite_values(tensor)
            if not finite.numel():
                continue
            low, high = (float(v) for v in torch.aminmax(finite))
        elif not tensor.numel():
            continue
        lows.append(low)
        highs.append(high)
    if not lows:
        return widen(0.0, 0.0)
    return widen(min(lows), max(highs))
