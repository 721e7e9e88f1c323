"""Widgets (numpy + traitlets; never imports torch), grouped as the JavaScript is:
``attention/``, ``norms/``, ``positions/``, ``steps/``, ``vision/``; shared by all: ``arrays``
(the one binary channel), ``bundles`` (the built JavaScript), ``inputs`` (what users pass,
normalised).

Names are imported on first use, so importing one widget does not load the others.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .attention import AttentionView, RowView, attention_explorer
    from .inputs import as_attention_record
    from .norms import NormView, TrainingMonitorView, norm_panel
    from .positions import PositionView, compare, position_explorer, position_panel
    from .steps import StepView
    from .vision import ImageAttentionView, PatchingView, PredictionGridView

_LAZY = {
    "AttentionView": "attention",
    "attention_explorer": "attention",
    "RowView": "attention",
    "NormView": "norms",
    "TrainingMonitorView": "norms",
    "norm_panel": "norms",
    "PositionView": "positions",
    "compare": "positions",
    "position_explorer": "positions",
    "position_panel": "positions",
    "StepView": "steps",
    "ImageAttentionView": "vision",
    "PatchingView": "vision",
    "PredictionGridView": "vision",
    "as_attention_record": "inputs",
}

__all__ = [
    "AttentionView",
    "ImageAttentionView",
    "NormView",
    "PatchingView",
    "PositionView",
    "PredictionGridView",
    "RowView",
    "StepView",
    "TrainingMonitorView",
    "as_attention_record",
    "attention_explorer",
    "compare",
    "norm_panel",
    "position_explorer",
    "position_panel",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
