"""The tabs ``run.show()`` adds for a vision-language run: "Cross-modal", "Features" and, for
dual encoders, "Prompts".

This module joins the halves: the hidden states and the dual encoder's patch embeddings come
from the model (``vlm_features``, torch); the widgets get numpy (``widgets/``, no torch).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .vlm_features import default_modules, module_features, prompt_maps
from .widgets.panels import with_tabs
from .widgets.vlm.cross_modal import CrossModalView
from .widgets.vlm.dual_encoder import DualEncoderView
from .widgets.vlm.feature_heatmap import FeatureHeatmapView

if TYPE_CHECKING:
    import ipywidgets

TITLES = ("Cross-modal", "Features", "Prompts")


def cross_modal_view(run: Any, **kwargs: Any) -> CrossModalView:
    """The Cross-modal view of a VLM run (text tokens' attention over the image).

    Example:
        >>> view = cross_modal_view(lens(image=img, text="What is this?"))  # doctest: +SKIP
    """
    return CrossModalView(run, **kwargs)


def feature_view(
    run: Any, modules: str | Iterable[str] | None = None, **kwargs: Any
) -> FeatureHeatmapView:
    """The Features view of a VLM run: the hidden states of ``modules`` (paths or globs;
    default: every block of the vision tower and of the language model) over the image. The
    view's module box runs the model again for other names.

    Example:
        >>> view = feature_view(run, "model.language_model.layers.*")  # doctest: +SKIP
    """
    names = default_modules(run) if modules is None else modules
    pattern = names if isinstance(names, str) else ", ".join(names)
    features = module_features(run, names)
    return FeatureHeatmapView(
        features, source=lambda text: module_features(run, text), pattern=pattern, **kwargs
    )


def prompt_view(run: Any, **kwargs: Any) -> DualEncoderView:
    """The Prompts view of a CLIP / SigLIP run, ``lens(image=img, text=["a cat", "a dog"])``.

    Example:
        >>> view = prompt_view(run)  # doctest: +SKIP
    """
    return DualEncoderView(prompt_maps(run), **kwargs)


def vlm_tabs(run: Any, layer: int = 0) -> list[tuple[str, Any]]:
    """The VLM tabs that apply to ``run``: Cross-modal (a language model reading image tokens),
    Features (modules with image positions), Prompts (CLIP / SigLIP)."""
    info = run.vlm
    tabs: list[tuple[str, Any]] = []
    if info.positions and run.text_layers:
        tabs.append((TITLES[0], cross_modal_view(run, layer=layer % len(run.text_layers))))
    if default_modules(run):
        tabs.append((TITLES[1], feature_view(run)))
    if info.family in ("clip", "siglip"):
        tabs.append((TITLES[2], prompt_view(run)))
    return tabs


def with_vlm_tabs(run: Any, shown: ipywidgets.Widget, layer: int = 0) -> ipywidgets.Widget:
    """``shown`` (the tabs of ``Run.widget``, or one view) with the VLM tabs after its own."""
    tabs = vlm_tabs(run, layer)
    return with_tabs(shown, tabs) if tabs else shown
