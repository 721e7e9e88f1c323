"""What the newer views need in a page without a kernel (``state.py`` handles the rest).

- ``CrossModalView``: a ``request_block`` reply per language-model layer (a layer of the page,
  chosen like an attention view's: ``layers=``, nearest first within ``max_bytes``).
- ``FeatureHeatmapView``: ``request_map`` replies per module (nearest module first, within
  ``max_bytes``; not limited by ``layers=``): the PCA, norm and channel maps as the controls
  stand, and the cosine to the text token shown for language-model modules. Other channels,
  tokens and marked patches say "not in this page".
- ``TokenizerView``: the nearest neighbours (or, without embeddings, the ``#id`` search) of
  every token of the text, so clicking a token answers; typed searches and other words'
  steps say they need a kernel.
- ``NeuronView``, ``FeatureMap``: the state shown; controls that re-run the model in the
  kernel are off and say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .replay import record_replies

NO_KERNEL = "saved page, no kernel"
NEAREST_K = 10  # the vocabulary panel asks for this many neighbours
MAX_TOKEN_REPLIES = 2000  # distinct tokens whose neighbours a page records


@dataclass
class Units:
    """The replies a view could carry, one table per unit (a layer or a module), and the unit
    shown; ``axis``: ``"layer"`` (chosen by ``layers=``) or ``"module"`` (by bytes only)."""

    shown: int
    axis: str
    tables: dict[int, tuple[dict[str, Any], int]]
    total: int


def patch_on(patch: list[int], grid: list[int]) -> list[int]:
    """A marked patch ``[row, col, rows, cols]`` on a ``grid`` of rows x cols, as the page
    sends it (``js/vlm/surface.js`` ``patchOn``).

    Example:
        >>> patch_on([], [7, 7]), patch_on([1, 2, 7, 7], [7, 7]), patch_on([0, 6, 7, 7], [14, 14])
        ([], [1, 2], [1, 13])
    """
    if len(patch) != 4:
        return []
    r, c, rows, cols = patch
    if [rows, cols] == list(grid):
        return [r, c]
    return [
        min(grid[0] - 1, int(((r + 0.5) * grid[0]) // rows)),
        min(grid[1] - 1, int(((c + 0.5) * grid[1]) // cols)),
    ]


def resolve_surface(surfaces: list[dict[str, Any]], wanted: int, tower: str) -> int:
    """The surface the page draws a module of ``tower`` on (``js/vlm/surface.js``)."""
    if 0 <= wanted < len(surfaces) and surfaces[wanted]["tower"] == tower:
        return wanted
    image = surfaces[wanted]["image"] if 0 <= wanted < len(surfaces) else None
    for i, s in enumerate(surfaces):
        if s["tower"] == tower and s["image"] == image:
            return i
    return next((i for i, s in enumerate(surfaces) if s["tower"] == tower), -1)


def map_requests(widget: Any, module: int) -> list[dict[str, Any]]:
    """The ``request_map`` messages the page sends for ``module`` as the controls stand, with
    the PCA, norm and channel measures (and text, for language-model modules)."""
    tower = widget.module_towers[module]
    surface = resolve_surface(widget.surfaces, widget.surface, tower)
    if surface < 0:
        return []
    grid = widget.surfaces[surface]["grid"]
    measures = ["pca", "norm", "channel"] + (["text"] if tower == "text" else [])
    if widget.measure == "patch":
        measures.append("patch")
    base = {"type": "request_map", "module": module, "surface": surface,
            "channel": widget.channel, "patch": patch_on(list(widget.patch), grid),
            "token": widget.text_token}  # fmt: skip
    return [{**base, "measure": m} for m in measures]


def units(widget: Any) -> Units | None:
    """The replies a CrossModalView (per layer) or FeatureHeatmapView (per module) could
    carry; None for other widgets."""
    from ..widgets.vlm.cross_modal import CrossModalView
    from ..widgets.vlm.feature_heatmap import FeatureHeatmapView

    if isinstance(widget, CrossModalView):
        tables = {
            layer: record_replies(widget.answer, [{"type": "request_block", "layer": layer}])
            for layer in range(widget.n_layers)
        }
        return Units(widget.layer, "layer", tables, widget.n_layers)
    if isinstance(widget, FeatureHeatmapView):
        tables = {
            module: record_replies(widget.answer, map_requests(widget, module))
            for module in range(len(widget.modules))
        }
        return Units(widget.module, "module", tables, len(widget.modules))
    return None


def unit_note(widget: Any, chosen: list[int], total: int) -> str:
    """What the page holds of a view with ``units``."""
    from .state import layer_span

    span = layer_span(chosen, total)
    if type(widget).__name__ == "FeatureHeatmapView":
        return "maps of " + span.replace("layer", "module")
    return span


def token_replies(widget: Any) -> tuple[dict[str, Any], str]:
    """A TokenizerView's recorded replies: for each distinct token of the text, what clicking
    it asks (its nearest neighbours, or its ``#id`` search without embeddings)."""
    requests: list[dict[str, Any]] = []
    for k, spans in enumerate(widget.spans):
        has_model = widget._models[k] is not None
        for token in dict.fromkeys(int(i) for i in spans.ids):
            if len(requests) >= MAX_TOKEN_REPLIES:
                break
            if has_model:
                requests.append({"type": "nearest", "tokenizer": k, "token": token, "k": NEAREST_K})
            else:
                requests.append({"type": "search", "tokenizer": k, "query": f"#{token}"})
    table, _ = record_replies(
        lambda request: (widget_answer(widget, {**request, "id": "export"}), []), requests
    )
    what = "nearest neighbours" if any(m is not None for m in widget._models) else "entries"
    return table, f"{what} of the text's {len(table)} tokens; search and other words need a kernel"


def widget_answer(widget: Any, content: dict[str, Any]) -> dict[str, Any]:
    from ..widgets.tokens.vocab_messages import answer

    reply: dict[str, Any] = answer(widget.tokenizers, widget._models, content)
    return reply


def fixed_state(widget: Any) -> tuple[dict[str, Any], str] | None:
    """State overrides and a note for views whose controls need the kernel; None otherwise."""
    from ..widgets.features.feature_map import SelectionList
    from ..widgets.features.neuron_view import NeuronView

    if isinstance(widget, NeuronView):
        note = f"{NO_KERNEL}: another unit or text is not shown"
        return {"status": widget.status or note}, "another unit or text needs a kernel"
    if isinstance(widget, SelectionList):
        note = f"{NO_KERNEL}: another layer or a selection needs the kernel"
        return {"note": note}, "the layer and the selection need a kernel"
    return None


def feature_map_controls(widgets: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Overrides by model id for every FeatureMap among ``widgets``: its layer slider, selector
    and clear button off, its figure without a selection tool."""
    from ..widgets.features.feature_map import FeatureMap

    out: dict[str, dict[str, Any]] = {}
    for widget in widgets.values():
        if isinstance(widget, FeatureMap):
            for control in (widget.slider, widget.selector, widget.clear):
                out[control.model_id] = {"disabled": True}
            out[widget.figure.model_id] = {"interaction": None}
    return out
