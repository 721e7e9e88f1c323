"""attnwidgets: Jupyter widgets for looking inside transformers.

>>> import attnwidgets as aw
>>> lens = aw.wrap(model, tokenizer)          # doctest: +SKIP
>>> lens("The cat sat on the mat").show()     # doctest: +SKIP

The PyTorch half (``wrap``, ``capture``) is imported on first use, so the widgets work
without torch installed.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from . import positions
from ._version import __version__
from .metrics import head_metrics
from .norm_records import NormRecord
from .positions import PositionScheme
from .qkv_records import QKVRecord
from .records import AttentionRecord
from .views import head_view, model_view
from .vision_rollout import rollout
from .widgets import (
    AttentionView,
    NormView,
    PositionView,
    StepView,
    attention_explorer,
    norm_panel,
    position_panel,
)
from .widgets import compare as compare_positions

if TYPE_CHECKING:
    from . import demo
    from .batches import Runs
    from .capture import Capture, CaptureError, capture, record_memory
    from .capture.norms import record_norms
    from .features import FeatureStore, extract, pca, probe
    from .lens import Lens, Run, wrap
    from .monitor import TrainingMonitor
    from .widgets.feature_map import FeatureMap
    from .widgets.neuron_view import NeuronView, neuron_view
    from .widgets.probe_view import ProbeView


class _Package(types.ModuleType):
    """``aw.capture`` stays the ``capture()`` function (so ``help(aw.capture)`` shows it),
    although importing the ``attnwidgets.capture`` subpackage would bind the package there."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "capture" and isinstance(value, types.ModuleType):
            return  # the subpackage stays importable through sys.modules
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
if isinstance(globals().get("capture"), types.ModuleType):  # imported above by a submodule
    del globals()["capture"]


class AttnWidgetsWarning(UserWarning):
    """Warnings raised by attnwidgets itself."""


_LAZY = {
    "wrap": "lens",
    "Lens": "lens",
    "Run": "lens",
    "Runs": "batches",
    "capture": "capture",
    "Capture": "capture",
    "CaptureError": "capture",
    "record_memory": "capture",
    "record_norms": "capture.norms",
    "TrainingMonitor": "monitor",
    # features at scale (issue 17): extract -> store -> views
    "extract": "features",
    "FeatureStore": "features",
    "pca": "features",
    "probe": "features",
    "FeatureMap": "widgets.feature_map",
    "ProbeView": "widgets.probe_view",
    "NeuronView": "widgets.neuron_view",
    "neuron_view": "widgets.neuron_view",
}

__all__ = [
    "AttentionRecord",
    "AttentionView",
    "AttnWidgetsWarning",
    "Capture",
    "CaptureError",
    "FeatureMap",
    "FeatureStore",
    "Lens",
    "NeuronView",
    "NormRecord",
    "NormView",
    "PositionScheme",
    "PositionView",
    "ProbeView",
    "QKVRecord",
    "Run",
    "Runs",
    "StepView",
    "TrainingMonitor",
    "__version__",
    "attention_explorer",
    "capture",
    "compare_positions",
    "demo",
    "extract",
    "head_metrics",
    "head_view",
    "model_view",
    "neuron_view",
    "norm_panel",
    "pca",
    "position_panel",
    "positions",
    "probe",
    "record_memory",
    "record_norms",
    "rollout",
    "wrap",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    if name == "demo":  # trained demo models and their data: aw.demo.load_fashion_vit()
        from importlib import import_module

        return import_module(".demo", __name__)
    raise AttributeError(f"module 'attnwidgets' has no attribute {name!r}")
