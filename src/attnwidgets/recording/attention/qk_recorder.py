"""The Q/K side of a capture (``attention="qk"``): the calls kept, the modules that have no
Q/K form, and the records read from them.

A capture hands each attention call of a watched module to ``QKRecorder.record``; a call that
cannot be kept as Q and K (a position bias, an ALiBi mask, a KV cache, a mask no rule gives)
is noted with the reason instead, and so are modules whose attention never reaches a kernel
(hand-written softmax, ``nn.MultiheadAttention``): the model runs unchanged either way, and
reading the records raises naming every such module.
"""

from __future__ import annotations

from typing import Any

import torch

from ...qk_compute import ArrayOps
from ...qk_records import QKRecord
from .qk_capture import QKCall, QKInputs, qk_bytes, qk_call
from .qk_rules import QKUnsupported
from .qk_torch import TorchOps


class QKRecorder:
    """The kept calls of one capture, in call order."""

    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype if dtype in (torch.float16, torch.float32) else torch.float32
        self.calls: list[QKCall] = []
        self.problems: dict[str, str] = {}  # path: "Class: why there is no Q/K form"
        self.device: torch.device | None = None
        self._records: tuple[int, list[QKRecord]] | None = None

    def bytes_for(self, inputs: QKInputs) -> int:
        """What keeping this call will take."""
        return qk_bytes(inputs.query, inputs.key, self.dtype)

    def record(
        self,
        name: str,
        step: int,
        module: torch.nn.Module,
        inputs: QKInputs,
        window: tuple[int, int] | None,
    ) -> int:
        """Keep the call (bytes kept), or note why it has no Q/K form (0)."""
        try:
            call = qk_call(
                name, step, module, inputs.query, inputs.key, inputs.attention_mask,
                inputs.kwargs, inputs.lse, dtype=self.dtype, window=window,
            )  # fmt: skip
        except QKUnsupported as why:
            self.refuse(name, module, str(why))
            return 0
        self.device = self.device or inputs.query.device
        self.calls.append(call)
        return int(sum(t.nbytes for t in (call.q, call.k) if t is not None))

    def refuse(self, name: str, module: torch.nn.Module, why: str) -> None:
        self.problems.setdefault(name, f"{type(module).__name__}: {why}")

    def ops(self) -> ArrayOps:
        """Torch's block kernels, on the device the model ran on."""
        device = self.device if self.device is not None else torch.device("cpu")
        return TorchOps(device if device.type != "meta" else "cpu")

    def records(self) -> list[QKRecord]:
        """One ``QKRecord`` per batch item (``QKUnsupported`` when a forward other than one
        was seen); computed once."""
        if self._records is not None and self._records[0] == len(self.calls):
            return self._records[1]
        steps = sorted({call.step for call in self.calls})
        if len(steps) > 1:
            raise QKUnsupported(
                f"attention='qk' keeps one forward pass, and this capture saw {len(steps)} "
                "(generation, or the model called more than once in the block): run the model "
                "once per capture (aw.wrap(model, tok, attention='qk')(text) does)"
            )
        ops = self.ops()
        batch = max(call.q.shape[0] for call in self.calls)
        found = [QKRecord([c.layer(i, ops) for c in self.calls], ops=ops) for i in range(batch)]
        self._records = (len(self.calls), found)
        return found


def describe_problems(problems: dict[str, Any]) -> str:
    """``path (Class: why); ...`` grouped by reason."""
    grouped: dict[str, list[str]] = {}
    for path, why in problems.items():
        grouped.setdefault(str(why), []).append(path)
    return "; ".join(f"{', '.join(paths)} ({why})" for why, paths in grouped.items())
