"""Attention step by step: ``StepView`` (``view``)."""

from .view import StepView

__all__ = ["StepView"]
