"""Norm statistics: ``NormView`` (``view``, with ``norm_panel``: ``panel``), the training
monitor's ``TrainingMonitorView`` (``monitor``, with its ``history`` and GIF export), and the
arrays both send (``summary_arrays``)."""

from .monitor import TrainingMonitorView, monitor_panel
from .panel import norm_panel
from .view import NormView

__all__ = ["NormView", "TrainingMonitorView", "monitor_panel", "norm_panel"]
