"""PyTorch side: record what a model computes. Never imports widgets.

``attnwidgets.capture`` is both this package and the ``capture(model)`` context manager: the
package object is callable, so ``aw.capture(model)`` works however it was first imported.
Call it as ``aw.capture(model, attention=True, scores=False, norms=False, residual=False,
layers=None, dtype=torch.float32, reuse_weights=False, max_bytes=None)``;
``help(aw.capture.capture)`` documents each option. ``aw.capture.memory_budget`` is the default
memory budget of every capture.
"""

import sys
import types
from typing import Any

from .admission import DEFAULT_BUDGET
from .aliases import find_blocks, resolve
from .generation import AttentionCall
from .record_memory import RecordMemory, record_memory
from .session import Capture, CaptureError, capture
from .weights import KINDS, attention_probabilities, attention_steps

memory_budget: float | int | None = DEFAULT_BUDGET
"""What a capture's attention records may take when ``max_bytes`` is not given: a fraction of
the memory available when the capture starts (0.5), a number of bytes, or None for no limit."""

__all__ = [
    "KINDS",
    "AttentionCall",
    "Capture",
    "CaptureError",
    "RecordMemory",
    "attention_probabilities",
    "attention_steps",
    "capture",
    "find_blocks",
    "memory_budget",
    "record_memory",
    "resolve",
]


class _CallablePackage(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return capture(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
