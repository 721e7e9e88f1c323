"""PyTorch side: record what a model computes. Never imports widgets.

``attnwidgets.capture`` is both this package and the ``capture(model)`` context manager: the
package object is callable, so ``aw.capture(model)`` works however it was first imported.
"""

import sys
import types
from typing import Any

from .aliases import find_blocks, resolve
from .generation import AttentionCall
from .record_memory import RecordMemory, record_memory
from .session import Capture, CaptureError, capture
from .weights import KINDS, attention_probabilities, attention_steps

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
    "record_memory",
    "resolve",
]


class _CallablePackage(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return capture(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
