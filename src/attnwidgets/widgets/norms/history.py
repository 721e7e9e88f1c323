"""Bounded histories for the training monitor: memory stays flat however long training runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


class LossHistory:
    """At most ``capacity`` ``(step, loss)`` points. When full, neighbouring points are averaged
    in pairs and later losses are averaged in groups twice as large, so the curve always spans
    the whole run at an even resolution.

    Example:
        >>> h = LossHistory(capacity=4)
        >>> for step in range(1, 9):
        ...     h.add(step, float(step))
        >>> h.arrays()[1].tolist(), h.stride
        ([1.5, 3.5, 5.5, 7.5], 2)
    """

    def __init__(self, capacity: int = 2000) -> None:
        if capacity < 2 or capacity % 2:
            raise ValueError(f"capacity must be an even number >= 2, not {capacity}")
        self.capacity = capacity
        self.stride = 1
        self._steps = np.zeros(capacity, np.float64)
        self._values = np.zeros(capacity, np.float64)
        self._count = 0
        self._pending = [0.0, 0.0, 0]  # sum of steps, sum of losses, count

    def __len__(self) -> int:
        return self._count + (1 if self._pending[2] else 0)

    def add(self, step: float, loss: float) -> None:
        pending = self._pending
        pending[0] += float(step)
        pending[1] += float(loss)
        pending[2] += 1
        if pending[2] < self.stride:
            return
        if self._count == self.capacity:  # full: halve, and groups of the pending grow
            half = self.capacity // 2
            self._steps[:half] = self._steps.reshape(half, 2).mean(1)
            self._values[:half] = self._values.reshape(half, 2).mean(1)
            self._count = half
            self.stride *= 2
            return
        self._steps[self._count] = pending[0] / pending[2]
        self._values[self._count] = pending[1] / pending[2]
        self._count += 1
        self._pending = [0.0, 0.0, 0]

    def arrays(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """``(steps, losses)`` including the partial group still being averaged."""
        steps = self._steps[: self._count]
        values = self._values[: self._count]
        total_step, total_loss, count = self._pending
        if count:
            steps = np.append(steps, total_step / count)
            values = np.append(values, total_loss / count)
        return steps.copy(), values.copy()


@dataclass
class Snapshot:
    """The norm summaries of one captured forward pass (``summary_arrays.summary_arrays``)."""

    step: int
    arrays: dict[str, npt.NDArray[Any]]
    layer_names: list[str]


class SnapshotHistory:
    """At most ``capacity`` snapshots, evenly spread over the run: when full, every other one is
    dropped and from then on only every ``stride``-th offered snapshot is kept.

    Example:
        >>> h = SnapshotHistory(capacity=4)
        >>> for step in range(10):
        ...     _ = h.offer(Snapshot(step, {}, []))
        >>> [s.step for s in h], h.stride
        ([0, 4, 8], 4)
    """

    def __init__(self, capacity: int = 200) -> None:
        if capacity < 2:
            raise ValueError(f"capacity must be at least 2, not {capacity}")
        self.capacity = capacity
        self.stride = 1
        self._offered = 0
        self._items: list[Snapshot] = []

    def offer(self, snapshot: Snapshot) -> bool:
        """Keep the snapshot if it falls on the stride; True when kept."""
        keep = self._offered % self.stride == 0
        self._offered += 1
        if not keep:
            return False
        self._items.append(snapshot)
        if len(self._items) >= self.capacity:
            self._items = self._items[::2]
            self.stride *= 2
        return True

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> Snapshot:
        return self._items[index]

    def __iter__(self) -> Any:
        return iter(self._items)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for s in self._items for a in s.arrays.values())
