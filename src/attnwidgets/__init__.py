"""attnwidgets: Jupyter widgets for looking inside transformers.

>>> import attnwidgets as aw
>>> lens = aw.wrap(model, tokenizer)          # doctest: +SKIP
>>> lens("The cat sat on the mat").show()     # doctest: +SKIP

The PyTorch half (``wrap``, ``capture``) is imported on first use, so the widgets work
without torch installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import positions
from ._version import __version__
from .positions import PositionScheme
from .records import AttentionRecord
from .widgets import AttentionView, PositionView, attention_explorer, position_panel
from .widgets import compare as compare_positions

if TYPE_CHECKING:
    from .capture import Capture, CaptureError, capture
    from .lens import Lens, Run, wrap


class AttnWidgetsWarning(UserWarning):
    """Warnings raised by attnwidgets itself."""


_LAZY = {
    "wrap": "lens",
    "Lens": "lens",
    "Run": "lens",
    "capture": "capture",
    "Capture": "capture",
    "CaptureError": "capture",
}

__all__ = [
    "AttentionRecord",
    "AttentionView",
    "AttnWidgetsWarning",
    "Capture",
    "CaptureError",
    "Lens",
    "PositionScheme",
    "PositionView",
    "Run",
    "__version__",
    "attention_explorer",
    "capture",
    "compare_positions",
    "position_panel",
    "positions",
    "wrap",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'attnwidgets' has no attribute {name!r}")
