"""The block kernels of ``attnwidgets.qk_compute`` in torch: what a Q/K record from a capture
computes its tiles, rows, log-sum-exp and metrics with (faster than numpy on the CPU: fused
max and exp, one matmul per block; on a GPU when the capture ran there).

The record keeps numpy arrays; each block is wrapped without a copy (``torch.from_numpy``)
on the CPU, or copied to ``device``. Results come back as numpy float32.

Example:
    >>> import numpy as np
    >>> from attnwidgets.qk_compute import BlockMask, NumpyOps
    >>> q = np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32)
    >>> mask = BlockMask([], None)
    >>> a = TorchOps().block_sum(q, q, np.zeros(4, np.float32), 0.5, None, mask, 2)
    >>> b = NumpyOps().block_sum(q, q, np.zeros(4, np.float32), 0.5, None, mask, 2)
    >>> bool(np.allclose(a, b, rtol=1e-5))
    True
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from ...qk_compute import MASKED, BlockMask

FloatArray = npt.NDArray[np.float32]


class TorchOps:
    """``ArrayOps`` in torch on ``device`` (the CPU by default).

    On the CPU the blocks run on one worker thread of their own with one intra-op thread
    (``torch.set_num_threads`` is per thread under OpenMP, so the caller's setting is left as
    it was): a block is a few milliseconds of work, and on a machine whose cores are shared a
    parallel region waits for every one of its threads, which made blocks 10 times slower than
    on one thread. Where the setting is process-wide (another threading backend) the blocks
    run on the calling thread as they are.
    """

    name = "torch"

    def __init__(self, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)

    def _run(self, fn: Any, *args: Any) -> FloatArray:
        worker = _worker() if self.device.type == "cpu" else None
        if worker is None or threading.current_thread().name.startswith(_WORKER_NAME):
            found: FloatArray = fn(*args)
            return found
        result: FloatArray = worker.submit(fn, *args).result()
        return result

    def block_max(self, *args: Any) -> FloatArray:
        return self._run(self._block_max, *args)

    def block_sum(self, *args: Any) -> FloatArray:
        return self._run(self._block_sum, *args)

    def block_lse(self, *args: Any) -> FloatArray:
        return self._run(self._block_lse, *args)

    def block_metrics(self, *args: Any) -> FloatArray:
        return self._run(self._block_metrics, *args)

    def _tensor(self, array: Any) -> torch.Tensor:
        tensor = torch.from_numpy(np.asarray(array))
        return tensor.to(self.device, torch.float32)

    def _logits(
        self, q: Any, k: Any, scale: float, softcap: float | None, mask: BlockMask
    ) -> torch.Tensor:
        with torch.no_grad():
            logits = (self._tensor(q) * scale) @ self._tensor(k).T
            if softcap:
                logits.div_(softcap).tanh_().mul_(softcap)
            for start, stop, hidden in mask.cuts:
                part = logits[:, start:stop]
                part.masked_fill_(torch.from_numpy(hidden).to(self.device), MASKED)
            if mask.padding is not None:
                padding = torch.from_numpy(mask.padding).to(self.device)
                logits.masked_fill_(padding[None, :], MASKED)
        return logits

    def _lse(self, lse: Any) -> torch.Tensor:
        return self._tensor(lse)[:, None]

    def _block_max(self, q: Any, k: Any, lse: Any, scale: float, softcap: float | None,
                  mask: BlockMask, step: int) -> FloatArray:  # fmt: skip
        with torch.no_grad():
            top = _bins(self._logits(q, k, scale, softcap, mask), step, "max")
            return _numpy(top.sub_(self._lse(lse)).exp_())

    def _block_sum(self, q: Any, k: Any, lse: Any, scale: float, softcap: float | None,
                  mask: BlockMask, step: int) -> FloatArray:  # fmt: skip
        with torch.no_grad():
            p = self._logits(q, k, scale, softcap, mask).sub_(self._lse(lse)).exp_()
            return _numpy(_bins(p, step, "sum"))

    def _block_lse(self, q: Any, k: Any, scale: float, softcap: float | None,
                  mask: BlockMask) -> FloatArray:  # fmt: skip
        with torch.no_grad():
            logits = self._logits(q, k, scale, softcap, mask)
            found = torch.logsumexp(logits, dim=1)
            seen = logits.amax(dim=1) > MASKED / 2
            return _numpy(torch.where(seen, found, torch.full_like(found, float("-inf"))))

    def _block_metrics(self, q: Any, k: Any, lse: Any, scale: float, softcap: float | None,
                      mask: BlockMask, q0: int, k0: int) -> FloatArray:  # fmt: skip
        with torch.no_grad():
            logits = self._logits(q, k, scale, softcap, mask)
            p = (logits - self._lse(lse)).exp_()
            rows, cols = logits.shape
            keys = torch.arange(k0, k0 + cols, device=self.device, dtype=torch.float32)
            queries = torch.arange(q0, q0 + rows, device=self.device, dtype=torch.float32)
            distance = (keys[None, :] - queries[:, None]).abs_()
            out = torch.stack(
                [p.sum(dim=1), (p * logits).sum(dim=1), (p * distance).sum(dim=1)], dim=1
            )
            return _numpy(out)


def _bins(values: torch.Tensor, step: int, how: str) -> torch.Tensor:
    """``[rows, cols]`` reduced over bins of ``step`` columns (the last may be shorter)."""
    if step == 1:
        return values
    rows, cols = values.shape
    main = cols - cols % step
    parts = []
    if main:
        grouped = values[:, :main].reshape(rows, main // step, step)
        parts.append(grouped.amax(dim=2) if how == "max" else grouped.sum(dim=2))
    if main < cols:
        tail = values[:, main:]
        parts.append(tail.amax(dim=1, keepdim=True) if how == "max" else tail.sum(1, True))
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


def _numpy(tensor: torch.Tensor) -> FloatArray:
    array: FloatArray = tensor.detach().to("cpu", torch.float32).numpy()
    return array


_WORKER_NAME = "attnwidgets-qk-blocks"
_STATE: dict[str, ThreadPoolExecutor | None] = {}
_LOCK = threading.Lock()


def _one_thread() -> None:
    torch.set_num_threads(1)


def _worker() -> ThreadPoolExecutor | None:
    """The block worker (one thread, one intra-op thread), or None where setting that would
    change the caller's thread count too."""
    with _LOCK:
        if "worker" not in _STATE:
            before = torch.get_num_threads()
            probe = threading.Thread(target=_one_thread)
            probe.start()
            probe.join()
            if torch.get_num_threads() != before:  # process-wide: put it back, no worker
                torch.set_num_threads(before)
                _STATE["worker"] = None
            else:
                _STATE["worker"] = ThreadPoolExecutor(
                    1, thread_name_prefix=_WORKER_NAME, initializer=_one_thread
                )
        return _STATE["worker"]
