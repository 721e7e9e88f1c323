"""Sliders linked to a view in the browser (jslink: no kernel round trip)."""

from __future__ import annotations

import ipywidgets

from .attention_view import AttentionView


def attention_explorer(view: AttentionView) -> ipywidgets.VBox:
    """The view with layer and head sliders linked to it in the browser.

    Example:
        >>> import numpy as np
        >>> box = attention_explorer(AttentionView(np.ones((3, 2, 4, 4)) / 4))
        >>> [s.max for s in box.children[0].children]
        [2, 1]
    """
    style = {"description_width": "48px"}
    layer = ipywidgets.IntSlider(
        value=view.layer, min=0, max=view.n_layers - 1, description="layer", style=style
    )
    head = ipywidgets.IntSlider(
        value=view.head, min=0, max=view.n_heads - 1, description="head", style=style
    )
    layer.add_class("attnwidgets-layer-slider")
    head.add_class("attnwidgets-head-slider")
    ipywidgets.jslink((layer, "value"), (view, "layer"))
    ipywidgets.jslink((head, "value"), (view, "head"))
    box = ipywidgets.VBox([ipywidgets.HBox([layer, head]), view])
    box.add_class("attnwidgets-explorer")
    return box
