"""Features at scale, the views (numpy + traitlets + bqplot; never imports torch):
``FeatureMap`` (``feature_map``: a store's features at one layer on their first two principal
components, with ``SelectionList``, the inputs selected on it), ``ProbeView`` (``probe_view``:
a linear probe's accuracy per layer) and ``NeuronView`` (``neuron_view``: one unit over texts
or image patches). ``images`` stacks thumbnails into one uint8 value. The JavaScript they share
is ``js/features/``; the store, PCA and probes they read are ``attnwidgets.features``."""

from .feature_map import FeatureMap, SelectionList
from .neuron_view import NeuronView
from .probe_view import ProbeView

__all__ = ["FeatureMap", "NeuronView", "ProbeView", "SelectionList"]
