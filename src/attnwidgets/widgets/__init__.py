"""Widgets: one AnyWidget per file. Never imports torch."""

from .attention_view import AttentionView
from .inputs import as_attention_record
from .norm_panel import norm_panel
from .norm_view import NormView
from .panel import attention_explorer
from .position_panel import compare, position_explorer, position_panel
from .position_view import PositionView
from .step_view import StepView
from .tokens import TokenizerView, compare_tokenizers, tokens_tab
from .training_monitor import TrainingMonitorView

__all__ = [
    "AttentionView",
    "NormView",
    "PositionView",
    "StepView",
    "TokenizerView",
    "TrainingMonitorView",
    "as_attention_record",
    "attention_explorer",
    "compare",
    "compare_tokenizers",
    "norm_panel",
    "position_explorer",
    "position_panel",
    "tokens_tab",
]
