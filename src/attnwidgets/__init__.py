"""attnwidgets: Jupyter widgets for looking inside transformers.

>>> import attnwidgets as aw
>>> lens = aw.wrap(model, tokenizer)          # doctest: +SKIP
>>> lens("The cat sat on the mat").show()     # doctest: +SKIP

Every public name is imported on first use: the widgets work without torch installed, and
importing one part does not load the others. ``__all__`` is what a user needs; a few tuning
objects are public too (``aw.record_memory``: the memory records are written into, and the
default memory budget of a capture, ``aw.record_memory.budget``), and ``aw.tokenizers`` (how a
text becomes tokens: spans, steps, alignment, vocabulary), left out of ``__all__`` because a
star import would shadow Hugging Face's ``tokenizers`` package.

The package: ``recording/`` (PyTorch side: ``capture``), ``widgets/`` (numpy + traitlets),
the records that cross between them (``records``, ``norm_records``, ``qkv_records``,
``vision_records``, ``vlm_records``, ``stacks``), ``positions/`` (positional schemes as
data), ``tokenizers/`` (tokenizer internals, numpy only), ``lens`` and ``run`` (``wrap`` and
what it returns; images in: ``vision_run``, ``vlm_run``), the pieces that join the halves
(``vision_views``: ``patching_view``; ``predictions``: ``PredictionGrid``), ``bertviz``
(``head_view`` / ``model_view``) and ``demo`` (models trained here, with their data);
``features/``: features of named modules over a dataset in a store (``extract``,
``FeatureStore``), PCA and probes, and their views.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._version import __version__ as __version__

if TYPE_CHECKING:
    from . import demo, positions
    from . import tokenizers as tokenizers
    from .bertviz import head_view, model_view
    from .export import save_html
    from .features import FeatureStore, extract, neuron_view, pca, probe
    from .lens import Lens, wrap
    from .metrics import head_metrics
    from .monitor import TrainingMonitor
    from .norm_records import NormRecord
    from .positions import PositionScheme
    from .predictions import PredictionGrid
    from .qk_records import QKRecord
    from .qkv_records import QKVRecord
    from .recording import Capture, CaptureError, capture, record_norms
    from .recording import record_memory as record_memory
    from .recording.positions import extract_positions
    from .records import AttentionRecord
    from .run import Run, Runs
    from .vision_rollout import rollout
    from .vision_views import patching_view
    from .vlm_features import module_features, prompt_maps
    from .vlm_run import VLMRun
    from .widgets import (
        AttentionView,
        CrossModalView,
        DualEncoderView,
        FeatureHeatmapView,
        ImageAttentionView,
        NormView,
        PatchingView,
        PositionView,
        RowView,
        StepView,
        TokenizerView,
        attention_explorer,
        compare_tokenizers,
        norm_panel,
        position_panel,
    )
    from .widgets import compare as compare_positions
    from .widgets.features import FeatureMap, NeuronView, ProbeView


class AttnWidgetsWarning(UserWarning):
    """Warnings raised by attnwidgets itself."""


# public name -> (module, attribute in it; None: the module itself)
_LAZY: dict[str, tuple[str, str | None]] = {
    "AttentionRecord": ("records", "AttentionRecord"),
    "NormRecord": ("norm_records", "NormRecord"),
    "QKRecord": ("qk_records", "QKRecord"),
    "QKVRecord": ("qkv_records", "QKVRecord"),
    "PositionScheme": ("positions", "PositionScheme"),
    "positions": ("positions", None),
    "AttentionView": ("widgets", "AttentionView"),
    "NormView": ("widgets", "NormView"),
    "PositionView": ("widgets", "PositionView"),
    "StepView": ("widgets", "StepView"),
    "TokenizerView": ("widgets", "TokenizerView"),
    "compare_tokenizers": ("widgets", "compare_tokenizers"),
    "RowView": ("widgets", "RowView"),
    "ImageAttentionView": ("widgets", "ImageAttentionView"),
    "PatchingView": ("widgets", "PatchingView"),
    "attention_explorer": ("widgets", "attention_explorer"),
    "norm_panel": ("widgets", "norm_panel"),
    "position_panel": ("widgets", "position_panel"),
    "compare_positions": ("widgets", "compare"),
    "head_view": ("bertviz", "head_view"),
    "model_view": ("bertviz", "model_view"),
    "head_metrics": ("metrics", "head_metrics"),
    "rollout": ("vision_rollout", "rollout"),
    "save_html": ("export", "save_html"),
    "patching_view": ("vision_views", "patching_view"),
    "PredictionGrid": ("predictions", "PredictionGrid"),
    "wrap": ("lens", "wrap"),
    "Lens": ("lens", "Lens"),
    "Run": ("run", "Run"),
    "Runs": ("run", "Runs"),
    "VLMRun": ("vlm_run", "VLMRun"),
    "capture": ("recording", "capture"),
    "Capture": ("recording", "Capture"),
    "CaptureError": ("recording", "CaptureError"),
    "record_norms": ("recording", "record_norms"),
    "record_memory": ("recording", "record_memory"),
    "extract_positions": ("recording.positions", "extract_positions"),
    "TrainingMonitor": ("monitor", "TrainingMonitor"),
    "demo": ("demo", None),
    "tokenizers": ("tokenizers", None),
    "CrossModalView": ("widgets", "CrossModalView"),
    "DualEncoderView": ("widgets", "DualEncoderView"),
    "FeatureHeatmapView": ("widgets", "FeatureHeatmapView"),
    "module_features": ("vlm_features", "module_features"),
    "prompt_maps": ("vlm_features", "prompt_maps"),
    # features at scale (issue 17): extract -> store -> views
    "features": ("features", None),
    "extract": ("features", "extract"),
    "FeatureStore": ("features", "FeatureStore"),
    "pca": ("features", "pca"),
    "probe": ("features", "probe"),
    "neuron_view": ("features", "neuron_view"),
    "FeatureMap": ("widgets.features", "FeatureMap"),
    "ProbeView": ("widgets.features", "ProbeView"),
    "NeuronView": ("widgets.features", "NeuronView"),
}

__all__ = [
    "AttentionRecord",
    "AttentionView",
    "AttnWidgetsWarning",
    "Capture",
    "CaptureError",
    "CrossModalView",
    "DualEncoderView",
    "FeatureHeatmapView",
    "FeatureMap",
    "FeatureStore",
    "ImageAttentionView",
    "Lens",
    "NeuronView",
    "NormRecord",
    "NormView",
    "PatchingView",
    "PositionScheme",
    "PositionView",
    "PredictionGrid",
    "ProbeView",
    "QKRecord",
    "QKVRecord",
    "RowView",
    "Run",
    "Runs",
    "StepView",
    "TokenizerView",
    "TrainingMonitor",
    "VLMRun",
    "attention_explorer",
    "capture",
    "compare_positions",
    "compare_tokenizers",
    "demo",
    "extract",
    "extract_positions",
    "head_metrics",
    "head_view",
    "model_view",
    "module_features",
    "neuron_view",
    "norm_panel",
    "patching_view",
    "pca",
    "position_panel",
    "positions",
    "probe",
    "prompt_maps",
    "record_norms",
    "rollout",
    "save_html",
    "wrap",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'attnwidgets' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = import_module(f".{module_name}", __name__)
    return module if attribute is None else getattr(module, attribute)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
