"""The Norms tab: a NormView with a layer slider linked in the browser (no kernel round trip)."""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets

from ...norm_records import NormRecord
from ..panels import Panel
from .view import NormView


def norm_panel(
    data: NormRecord | NormView, tokens: Sequence[str] | None = None, *, layer: int = 0
) -> ipywidgets.VBox:
    """A layer slider above a ``NormView`` (what ``Run.show()``'s Norms tab holds): ``data`` is
    the view, or the ``NormRecord`` to show (``tokens`` label the positions when the record
    has none).

    Example:
        >>> import numpy as np
        >>> from attnwidgets.norm_records import NormLayer, TensorSummary
        >>> s = TensorSummary.from_numpy(np.ones((1, 2, 4)))
        >>> rec = NormRecord([NormLayer(f"ln{i}", "rmsnorm", "RMSNorm", (1, 2, 4), s, s)
        ...                   for i in range(3)])
        >>> box = norm_panel(rec)
        >>> box.children[0].max, type(box.children[1]).__name__
        (2, 'NormView')
        >>> norm_panel(box.children[1]).children[1] is box.children[1]
        True
    """
    if isinstance(data, NormView):
        if tokens is not None or layer:
            raise TypeError("tokens and layer go with a NormRecord, not with a NormView")
        view = data
    else:
        view = NormView(data, tokens, layer=layer)
    slider = ipywidgets.IntSlider(
        value=view.layer,
        min=0,
        max=view.n_layers - 1,
        description="norm",
        style={"description_width": "48px"},
    )
    slider.add_class("attnwidgets-norm-slider")
    link = ipywidgets.jslink((slider, "value"), (view, "layer"))
    box = Panel([slider, view], links=[link])
    box.add_class("attnwidgets-norm-panel")
    return box
