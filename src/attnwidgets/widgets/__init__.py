"""Widgets: one AnyWidget per file. Never imports torch."""

from .attention_view import AttentionView
from .image_attention_view import ImageAttentionView
from .inputs import as_attention_record
from .norm_panel import norm_panel
from .norm_view import NormView
from .panel import attention_explorer
from .patching_view import PatchingView
from .position_panel import compare, position_explorer, position_panel
from .position_view import PositionView
from .prediction_grid_view import PredictionGridView
from .step_view import StepView
from .training_monitor import TrainingMonitorView

__all__ = [
    "AttentionView",
    "ImageAttentionView",
    "NormView",
    "PatchingView",
    "PositionView",
    "PredictionGridView",
    "StepView",
    "TrainingMonitorView",
    "as_attention_record",
    "attention_explorer",
    "compare",
    "norm_panel",
    "position_explorer",
    "position_panel",
]
