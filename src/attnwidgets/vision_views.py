"""The tabs ``run.show()`` adds for an image run: "Image attention" and "Patching".

This module joins the halves: it reads the patch and position embeddings from the model
(``recording.vision.patch_embeddings``, torch) and hands numpy to the widgets
(``widgets/vision``, no torch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .recording.vision.patch_embeddings import patch_embeddings, position_embeddings
from .widgets.panels import with_tabs
from .widgets.vision.image_attention import ImageAttentionView
from .widgets.vision.patching import PatchingView

if TYPE_CHECKING:
    import ipywidgets

TITLES = ("Image attention", "Patching")


def patching_view(run: Any, **kwargs: Any) -> PatchingView:
    """The Patching view of a vision run, with the model's patch and position embeddings.

    Example:
        >>> view = patching_view(lens(skimage.data.chelsea()))  # doctest: +SKIP
    """
    info = getattr(run, "vision", None)
    if info is None:
        raise TypeError(
            "the Patching view needs a vision run (lens(image) on a vision transformer); "
            f"{type(run).__name__} has no image layout"
        )
    embeddings: Any = "the run has no model to read the patch embeddings from"
    positions: Any = "the run has no model to read the position embeddings from"
    pixels = (run.inputs or {}).get("pixel_values")
    if run.model is not None and pixels is not None:
        try:
            embeddings = patch_embeddings(run.model, run.inputs)
        except Exception as error:  # the view still shows the grid and the sequence
            embeddings = f"the patch embeddings could not be read: {error}"
        size = (int(pixels.shape[-2]), int(pixels.shape[-1]))
        try:
            positions = position_embeddings(run.model, info.patch_grid, size)
        except Exception as error:
            positions = f"the position embeddings could not be read: {error}"
    return PatchingView(info, embeddings, positions, **kwargs)


def vision_tabs(run: Any, layer: int = 0, head: int = 0) -> list[tuple[str, Any]]:
    """``[("Image attention", ImageAttentionView), ("Patching", PatchingView)]`` for a run."""
    n_layers = len(run.attention)
    heads = max(int(run.attention[i].shape[0]) for i in range(n_layers))
    # a head asked for by run.show(head=...) is shown alone; by default the mean of the heads
    choice = "one" if head else "mean"
    image = ImageAttentionView(run, layer=layer % n_layers, head=head % heads, heads=choice)
    return [(TITLES[0], image), (TITLES[1], patching_view(run))]


def with_vision_tabs(
    run: Any, shown: ipywidgets.Widget, layer: int = 0, head: int = 0
) -> ipywidgets.Widget:
    """``shown`` (the Attention tabs of ``Run.widget``, or one view) with the vision tabs after
    its own; the tab shown first stays the first."""
    return with_tabs(shown, vision_tabs(run, layer, head))
