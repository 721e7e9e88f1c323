"""Features at scale: extract named modules over a dataset into a store, then analyse them.

``extract`` (torch) writes a SQLite file or a Parquet folder; ``FeatureStore`` reads either
with numpy alone; ``pca`` projects, ``probe`` fits linear probes per layer, ``top_inputs``
finds the inputs that most activate a unit. The views live in ``attnwidgets.widgets``
(``FeatureMap``, ``ProbeView``, ``NeuronView``).

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
    from .neurons import NeuronSource, top_inputs
    from .probes import ProbeResult, probe
    from .projection import Projection, pca

_LAZY = {
    "extract": "extraction",
    "probe": "probes",
    "ProbeResult": "probes",
    "pca": "projection",
    "Projection": "projection",
    "top_inputs": "neurons",
    "NeuronSource": "neurons",
}

__all__ = [
    "FeatureStore",
    "NeuronSource",
    "ProbeResult",
    "Projection",
    "StoreError",
    "StoreInfo",
    "extract",
    "module_key",
    "pca",
    "probe",
    "top_inputs",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'attnwidgets.features' has no attribute {name!r}")
