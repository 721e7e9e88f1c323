"""Histogram and range primitives for tensor summaries, computed with torch on the tensor's
device: a bounded, evenly strided sample (``sample_step``), numpy-equal bins (``histogram``),
ranges that skip NaN/Inf (``extremes``, ``shared_range``), and reusable scratch buffers
(``Workspace``). ``norm_stats`` builds the norm capture's summaries from them.
"""

from __future__ import annotations

import math

import torch

from ..norm_records import widen

HISTOGRAM_SAMPLE = 1 << 13
"""Default bound on the elements a histogram counts (per tensor): 64 bins get ~128 each."""


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

    def take(
        self, name: str, numel: int, dtype: torch.dtype, device: torch.device | str = "cpu"
    ) -> torch.Tensor:
        """A 1-D tensor of ``numel`` elements (contents undefined) that stays valid until the
        next ``take`` of the same name."""
        key = (name, dtype, torch.device(device))
        buffer = self._buffers.get(key)
        if buffer is None or buffer.numel() < numel:
            buffer = torch.empty(max(numel, 1), dtype=dtype, device=device)
            self._buffers[key] = buffer
        return buffer[:numel]


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
    ``bins`` (64 by default) the guess is exact (the product is exact; the tests check values on
    and next to every edge), so the correction runs only for other bin counts or float64.

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
    total = sum(group.numel() for group in groups)
    x = work.take("histogram.values", total, torch.float64, device)
    index = work.take("histogram.bins", total, torch.float64, device)
    start = 0
    for group in groups:
        x[start : start + group.numel()].copy_(group.reshape(-1))
        start += group.numel()
    # numpy's first guess, with numpy's operations in numpy's order
    torch.sub(x, lo, out=index).div_(hi - lo).mul_(bins).floor_().clamp_(0, bins - 1)
    narrow = all(group.dtype != torch.float64 for group in groups)
    if not (narrow and bins & (bins - 1) == 0):
        # numpy's correction against the exact edges; edge i is ``i * width + lo`` as linspace
        # computes it (the last edge, ``hi``, is never compared: the last bin includes it)
        width = (hi - lo) / bins
        index -= (x < index * width + lo).double()
        index += ((x >= (index + 1) * width + lo) & (index < bins - 1)).double()
    start = 0
    for group_index, group in enumerate(groups):
        if group_index:
            index[start : start + group.numel()] += group_index * bins
        start += group.numel()
    if not inside:
        index = index[(x >= lo) & (x <= hi)]  # also drops NaN
    whole = work.take("histogram.index", index.numel(), torch.int64, device).copy_(index)
    counts = torch.bincount(whole, minlength=len(groups) * bins)
    return counts if isinstance(values, torch.Tensor) else counts.view(len(groups), bins)


def as_float(tensor: torch.Tensor) -> torch.Tensor:
    """The tensor as float32 or float64 (half precision and integers widened), detached."""
    x = tensor.detach()
    if not x.is_floating_point() or x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    return x


def extremes(tensors: list[torch.Tensor]) -> list[tuple[float, float]]:
    """``(min, max)`` of each tensor (NaN when it holds a NaN; ``(0, 0)`` when empty): one
    ``aminmax`` pass each and one copy to the host.

    Example:
        >>> extremes([torch.tensor([3.0, -1.0]), torch.tensor([float("nan"), 1.0])])
        [(-1.0, 3.0), (nan, nan)]
    """
    found = [torch.aminmax(x) if x.numel() else (x.new_zeros(()),) * 2 for x in tensors]
    values = torch.stack([value.to(torch.float64) for pair in found for value in pair]).tolist()
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
