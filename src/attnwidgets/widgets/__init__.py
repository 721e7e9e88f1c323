"""Widgets: one AnyWidget per file. Never imports torch."""

from .attention_view import AttentionView
from .cross_modal_view import CrossModalView
from .dual_encoder_view import DualEncoderView
from .feature_heatmap_view import FeatureHeatmapView
from .inputs import as_attention_record
from .norm_panel import norm_panel
from .norm_view import NormView
from .panel import attention_explorer
from .position_panel import compare, position_explorer, position_panel
from .position_view import PositionView
from .step_view import StepView
from .training_monitor import TrainingMonitorView

__all__ = [
    "AttentionView",
    "CrossModalView",
    "DualEncoderView",
    "FeatureHeatmapView",
    "NormView",
    "PositionView",
    "StepView",
    "TrainingMonitorView",
    "as_attention_record",
    "attention_explorer",
    "compare",
    "norm_panel",
    "position_explorer",
    "position_panel",
]
