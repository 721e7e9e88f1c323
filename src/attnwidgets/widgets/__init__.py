"""Widgets: one AnyWidget per file. Never imports torch."""

from .attention_view import AttentionView
from .inputs import as_attention_record
from .panel import attention_explorer

__all__ = ["AttentionView", "as_attention_record", "attention_explorer"]
