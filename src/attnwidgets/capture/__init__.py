"""PyTorch side: record what a model computes. Never imports widgets.

``aw.capture`` is the ``capture(model)`` function (``help(aw.capture)`` shows it), and this
package keeps the same name for imports (``from attnwidgets.capture import record_memory``).
The function carries the package's public names too (``aw.capture.Capture``), and the package
object is callable, so ``capture(model)`` works however it was reached.
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
for _name in __all__:
    if _name != "capture":
        setattr(capture, _name, globals()[_name])
