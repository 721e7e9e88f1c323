"""Positional encodings: ``PositionView`` (``view``) and the panels around it (``panel``)."""

from .panel import compare, position_explorer, position_panel
from .view import PositionView

__all__ = ["PositionView", "compare", "position_explorer", "position_panel"]
