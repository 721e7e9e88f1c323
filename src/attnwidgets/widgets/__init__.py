"""Widgets (numpy + traitlets; never imports torch), grouped as the JavaScript is:
``attention/``, ``norms/``, ``positions/``, ``steps/``, ``tokens/``, ``vision/``, ``vlm/``,
``features/``; shared by all: ``arrays`` (the one binary channel), ``bundles`` (the built
JavaScript), ``inputs`` (what users pass, normalised), ``panels`` (boxes that close what they
hold).

Names are imported on first use, so importing one widget does not load the others.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .attention import AttentionView, RowView, attention_explorer
    from .features import FeatureMap, NeuronView, ProbeView
    from .inputs import as_attention_record
    from .norms import NormView, TrainingMonitorView, norm_panel
    from .panels import Panel, Row, Tabs, close_tree
    from .positions import PositionView, compare, position_explorer, position_panel
    from .steps import StepView
    from .tokens import TokenizerView, compare_tokenizers, tokens_tab
    from .vision import ImageAttentionView, PatchingView, PredictionGridView
    from .vlm import CrossModalView, DualEncoderView, FeatureHeatmapView

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
    "TokenizerView": "tokens",
    "compare_tokenizers": "tokens",
    "tokens_tab": "tokens",
    "ImageAttentionView": "vision",
    "PatchingView": "vision",
    "PredictionGridView": "vision",
    "CrossModalView": "vlm",
    "DualEncoderView": "vlm",
    "FeatureHeatmapView": "vlm",
    "FeatureMap": "features",
    "NeuronView": "features",
    "ProbeView": "features",
    "as_attention_record": "inputs",
    "Panel": "panels",
    "Row": "panels",
    "Tabs": "panels",
    "close_tree": "panels",
}

__all__ = [
    "AttentionView",
    "CrossModalView",
    "DualEncoderView",
    "FeatureHeatmapView",
    "FeatureMap",
    "ImageAttentionView",
    "NeuronView",
    "NormView",
    "Panel",
    "PatchingView",
    "PositionView",
    "PredictionGridView",
    "ProbeView",
    "Row",
    "RowView",
    "StepView",
    "Tabs",
    "TokenizerView",
    "TrainingMonitorView",
    "as_attention_record",
    "attention_explorer",
    "close_tree",
    "compare",
    "compare_tokenizers",
    "norm_panel",
    "position_explorer",
    "position_panel",
    "tokens_tab",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
