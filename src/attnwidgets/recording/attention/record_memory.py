"""Memory for attention records, recycled once every view of a record is gone.

A capture of all attention writes a lot of fresh memory: 151 MB for GPT-2 small at 512 tokens.
Fresh pages cost a page fault each (measured in benchmarks/README.md: a noticeable share of the
forward pass), and glibc often hands memory of this size back to the system when it is freed,
so captures in a loop paid them again and again. Buffers of dropped records are kept
here instead, up to ``limit`` bytes, and the next capture writes into memory already mapped.

A buffer is handed out only when nothing refers to it any more: the tensor, its views, numpy
arrays made from it and records built on them each keep it alive, so data a user still holds
is never overwritten.

Example:
    >>> memory = RecordMemory(limit=1 << 20, smallest=0)
    >>> first = memory.empty((2, 4, 4))
    >>> address = first.data_ptr()
    >>> del first  # the last view is gone: its memory waits for the next capture
    >>> second = memory.empty((4, 8))
    >>> second.data_ptr() == address, memory.kept_bytes
    (True, 0)
    >>> memory.release()
"""

from __future__ import annotations

import math
import threading
import weakref

import numpy as np
import torch

from .admission import DEFAULT_BUDGET

DEFAULT_LIMIT = 256 << 20
"""Bytes of dropped record memory kept for the next capture (GPT-2 small at 512 tokens: 151 MB)."""

SMALLEST = 256 << 10
"""Smaller buffers come from torch's allocator: malloc keeps and reuses them itself, and
generation's per-step rows (a few KB) would fill the free lists with sizes that never come
again. GPT-2 small's layer at 128 tokens is 768 KiB."""


class RecordMemory:
    """Float32 CPU buffers that return here when their last user drops them.

    ``limit`` bounds the bytes kept while no record uses them; 0 keeps nothing (each record
    then gets fresh memory from the allocator, as ``torch.empty`` does). Buffers below
    ``smallest`` bytes are plain ``torch.empty``. ``budget`` is what one capture's attention
    records may take when ``aw.capture(..., max_bytes=)`` is not given: a fraction of the
    memory available when the capture starts (0.5), a number of bytes, or None for no limit.
    """

    def __init__(self, limit: int = DEFAULT_LIMIT, smallest: int = SMALLEST) -> None:
        self.limit = limit
        self.budget: float | int | None = DEFAULT_BUDGET
        self.smallest = smallest
        self._free: dict[int, list[np.ndarray]] = {}
        self._kept = 0
        # Re-entrant: a garbage collection inside a locked step may drop a lease, whose
        # finaliser gives its buffer back on the same thread.
        self._lock = threading.RLock()

    @property
    def kept_bytes(self) -> int:
        """Bytes held for reuse right now (none of them used by a record)."""
        return self._kept

    def empty(self, shape: tuple[int, ...], device: torch.device | None = None) -> torch.Tensor:
        """An uninitialised float32 tensor of ``shape``: recycled memory where some fits."""
        count = math.prod(shape)
        on_cpu = device is None or torch.device(device).type == "cpu"
        if not on_cpu or count * 4 < self.smallest:
            return torch.empty(shape, dtype=torch.float32, device=device)
        with self._lock:
            buffers = self._free.get(count)
            raw = buffers.pop() if buffers else None
            if raw is not None:
                self._kept -= raw.nbytes
        if raw is None:
            raw = np.empty(count, dtype=np.float32)
        lease = raw.view()  # dies with the last tensor, view or array that uses the memory
        weakref.finalize(lease, self._give_back, raw).atexit = False
        return torch.from_numpy(lease).view(shape)

    def release(self) -> None:
        """Hand every kept buffer back to the allocator."""
        with self._lock:
            self._free.clear()
            self._kept = 0

    def _give_back(self, raw: np.ndarray) -> None:
        with self._lock:
            if self._kept + raw.nbytes <= self.limit:
                self._free.setdefault(raw.size, []).append(raw)
                self._kept += raw.nbytes


record_memory = RecordMemory()
"""The buffers every capture's attention records come from (``aw.record_memory``). Set
``record_memory.limit = 0`` to keep no memory between captures, or call
``record_memory.release()`` to free it now."""
