"""Widgets: one AnyWidget per file. Never imports torch."""

from .attention_view import AttentionView
from .inputs import as_attention_record
from .panel import attention_explorer
from .position_panel import compare, position_explorer, position_panel
from .position_view import PositionView

__all__ = [
    "AttentionView",
    "PositionView",
    "as_attention_record",
    "attention_explorer",
    "compare",
    "position_explorer",
    "position_panel",
]
