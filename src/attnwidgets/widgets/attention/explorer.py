"""The attention explorer: an AttentionView with sliders linked to it in the browser (jslink:
no kernel round trip)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets

from ..panels import Panel, Row
from .view import AttentionView


def attention_explorer(
    data: Any, tokens: Sequence[str] | None = None, **options: Any
) -> ipywidgets.VBox:
    """An ``AttentionView`` with layer and head sliders and a play button (through the
    layers), linked to it in the browser; closing the box closes them all. Children:
    ``[Row(layer, head), view, Row(play)]``.

    ``data`` is the view, or what ``AttentionView`` takes (a Run, a record, the attentions
    tuple...), with its ``tokens`` and ``options``; as ``norm_panel`` and ``position_panel``
    take their view or its data.

    Example:
        >>> import numpy as np
        >>> box = attention_explorer(np.ones((3, 2, 4, 4)) / 4, layer=1)
        >>> [s.max for s in box.children[0].children], box.children[2].children[0].max
        ([2, 1], 2)
        >>> view = box.children[1]
        >>> attention_explorer(view).children[1] is view, view.layer
        (True, 1)
    """
    if isinstance(data, AttentionView):
        if tokens is not None or options:
            raise TypeError("tokens and view options go with data, not with an AttentionView")
        view = data
    else:
        view = AttentionView(data, tokens, **options)
    style = {"description_width": "48px"}
    layer = ipywidgets.IntSlider(
        value=view.layer, min=0, max=view.n_layers - 1, description="layer", style=style
    )
    head = ipywidgets.IntSlider(
        value=view.head, min=0, max=view.n_heads - 1, description="head", style=style
    )
    layer.add_class("attnwidgets-layer-slider")
    head.add_class("attnwidgets-head-slider")
    links = [
        ipywidgets.jslink((layer, "value"), (view, "layer")),
        ipywidgets.jslink((head, "value"), (view, "head")),
    ]
    # A play button that steps through the layers, in the browser (no kernel round trip).
    play = ipywidgets.Play(
        value=view.layer, min=0, max=max(0, view.n_layers - 1), interval=700, description="layers"
    )
    play.tooltip = "play / pause, stop, loop: step through the layers"
    play.add_class("attnwidgets-play")
    links.append(ipywidgets.jslink((play, "value"), (layer, "value")))
    # New data in place (a new text, a generation step) may change the counts.
    view.observe(lambda change: _set_max((layer, play), change["new"]), names="n_layers")
    view.observe(lambda change: _set_max((head,), change["new"]), names="n_heads")
    play_row = Row([play], layout=ipywidgets.Layout(order="1"))
    view.layout.order = "2"  # shown under the play row; children stay [sliders, view, play]
    box = Panel([Row([layer, head]), view, play_row], links=links)
    box.add_class("attnwidgets-explorer")
    return box


def _set_max(controls: tuple[ipywidgets.IntSlider | ipywidgets.Play, ...], count: int) -> None:
    for control in controls:
        control.max = max(0, count - 1)
