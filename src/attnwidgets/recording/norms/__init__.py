"""Norm modules: which modules are token norms (``detection``), and what a recorder keeps of
their inputs and outputs (``recorder``): histograms (``histogram``) and statistics
(``summaries``, from the moments of ``moments``, tensor by tensor as ``pending`` tensors)."""

from .detection import NoNormModulesError, affine_parameters, find_norm_modules, norm_kind
from .histogram import HISTOGRAM_SAMPLE
from .recorder import NormRecorder, record_norms
from .summaries import summarize, summarize_many

__all__ = [
    "HISTOGRAM_SAMPLE",
    "NoNormModulesError",
    "NormRecorder",
    "affine_parameters",
    "find_norm_modules",
    "norm_kind",
    "record_norms",
    "summarize",
    "summarize_many",
]
