"""Large float32 result tensors that cost few page faults and start as zeros.

A capture keeps every attention matrix, so each one lands in memory the process has never
touched: at 512 tokens one GPT-2 layer is 12.6 MB, and on a virtual machine the 3,072 page
faults of writing it cost about as much as the writing itself. On Linux we take such tensors
straight from anonymous memory (``mmap``) with transparent huge pages requested (512x fewer
faults where the kernel grants them). The kernel hands that memory out zeroed, so the masked
upper triangle of causal attention needs no pass of its own. Small tensors come from torch's
allocator, which reuses freed memory better than fresh mappings would.
"""

from __future__ import annotations

import contextlib
import math
import mmap

import torch

LARGE = 4 << 20
"""Tensors of at least this many bytes come from ``mmap``; smaller ones from torch."""

_HUGE_PAGES = getattr(mmap, "MADV_HUGEPAGE", None)


def allocate(
    shape: tuple[int, ...], device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, bool]:
    """``(tensor, zeroed)``: a float32 tensor of ``shape``, and whether it is known to hold
    zeros (fresh anonymous memory: large, on the CPU, on Linux) or holds anything (torch's
    ``empty``). The tensor owns its memory as any other (released with the tensor).

    Example:
        >>> big, zeroed = allocate((2, 1024, 1024))
        >>> big.shape, zeroed, bool(big.abs().max() == 0), big.is_contiguous()
        (torch.Size([2, 1024, 1024]), True, True, True)
        >>> allocate((2, 3))[0].shape, allocate((2, 3))[1]
        (torch.Size([2, 3]), False)
    """
    nbytes = math.prod(shape) * 4
    if torch.device(device).type != "cpu" or nbytes < LARGE or _HUGE_PAGES is None:
        return torch.empty(shape, dtype=torch.float32, device=device), False
    memory = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    with contextlib.suppress(OSError):  # huge pages switched off: plain pages still work
        memory.madvise(_HUGE_PAGES)
    return torch.frombuffer(memory, dtype=torch.float32).view(shape), True
