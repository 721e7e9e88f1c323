"""The widget state an exported page carries: every widget under the one exported, as
``ipywidgets.embed`` writes it, with what a page without a kernel needs instead.

A view that asks the kernel for data gets it up front, for the layers chosen (``layers=``,
within ``max_bytes``):

- ``AttentionView``: those layers in ``chunk`` (its preloaded layers); the overview
  thumbnails and head metrics filled in, so their buttons work; only the kind and the stack
  shown are offered (other kinds and stacks come from the kernel); the live text box off.
- ``ImageAttentionView``: replies to its ``request_layer`` (and, in rows mode,
  ``request_rows`` for the query shown) recorded for ``replay.js``.
- ``PredictionGridView``: opening an image needs the kernel: clicks are off.

Everything else (norms, positions, patching, steps, prediction grids, bqplot figures) carries
its data in its state already; a ``StepView`` keeps the head it shows.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from .assets import ExportError
from .replay import record_replies
from .views import Units, feature_map_controls, fixed_state, token_replies, unit_note, units

BASE64 = 4 / 3  # a buffer's bytes in the page
THUMBNAIL_LIMIT = 8 * 2**20  # thumbnails + metrics filled in up to this many bytes


@dataclass
class LayerCost:
    """One layer a view can carry: its bytes in the page."""

    view: str  # model id
    layer: int
    size: int
    axis: str = "layer"  # "module": a feature view's module, chosen by bytes, not by layers=


@dataclass
class Collected:
    """The page's widgets by model id, what replaces parts of their state, the replies
    recorded for them, the layer each data view shows and what its other layers cost."""

    widgets: dict[str, Any]
    fixed: dict[str, dict[str, Any]] = field(default_factory=dict)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    replies: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    shown: dict[str, int] = field(default_factory=dict)
    costs: list[LayerCost] = field(default_factory=list)
    units: dict[str, Units] = field(default_factory=dict)


def all_widgets(root: Any) -> dict[str, Any]:
    """Every widget the page needs to show ``root``: its children (any depth), the widgets
    its state refers to, and the jslinks between them, by model id."""
    from ipywidgets.embed import dependency_state
    from ipywidgets.widgets.widget import _instances as known

    ids = dependency_state(root, drop_defaults=False)
    return {model_id: known[model_id] for model_id in ids if model_id in known}


def embed_entry(widget: Any, overrides: dict[str, Any]) -> dict[str, Any]:
    """``widget``'s state as ``ipywidgets.embed`` writes it (binary values as base64 buffers),
    with ``overrides`` (trait name -> value in its JSON form) in place of its own values."""
    from ipywidgets.widgets.widget import _remove_buffers

    state = widget.get_state()
    state.update(overrides)
    state, paths, buffers = _remove_buffers(state)
    entry: dict[str, Any] = {
        "model_name": widget._model_name,
        "model_module": widget._model_module,
        "model_module_version": widget._model_module_version,
        "state": state,
    }
    if buffers:
        entry["buffers"] = [
            {"encoding": "base64", "path": path, "data": base64.b64encode(data).decode("ascii")}
            for path, data in zip(paths, buffers, strict=True)
        ]
    return entry


def layer_costs(model_id: str, widget: Any) -> tuple[int, list[LayerCost]]:
    """The layer a data view shows (-1: not one) and the page bytes of each layer it could
    carry (a layer's values in base64, and its meta)."""
    from ..widgets.attention.view import AttentionView
    from ..widgets.vision.image_attention import ImageAttentionView

    if isinstance(widget, AttentionView):
        if widget.mode != "layers":
            return widget.layer, []
        record = widget.kinds[widget.value_kind]
        heads = record.shape[1]
        return widget.layer, [
            LayerCost(model_id, i, int(record[i].size * BASE64) + 48 * heads + 16)
            for i in range(len(record))
        ]
    if isinstance(widget, ImageAttentionView):
        costs = []
        for i in range(len(widget._record)):
            heads, queries, keys = widget._record[i].shape
            if widget.mode == "layers" or heads * queries * keys <= widget._max_cells:
                size = int(heads * queries * (keys + 4) * BASE64) + 400
                costs.append(LayerCost(model_id, i, size))
        return widget.layer, costs
    return -1, []


def choose_layers(
    shown: dict[str, int], costs: list[LayerCost], layers: list[int] | None, budget: int
) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """The layers each view carries, and the layers left out, by model id.

    ``layers`` None: every layer, the nearest to the one shown first, while they fit
    ``budget`` bytes. Else exactly those (and the one shown): ExportError when they do not fit.
    Costs on the ``"module"`` axis are always chosen by bytes, nearest first.

    Example:
        >>> costs = [LayerCost("v", i, 10) for i in range(4)]
        >>> choose_layers({"v": 2}, costs, None, 25)
        ({'v': [1, 2, 3]}, {'v': [0]})
        >>> choose_layers({"v": 2}, costs, [0], 25)
        ({'v': [0, 2]}, {})
    """
    chosen: dict[str, list[int]] = {view: [layer] for view, layer in shown.items()}
    left: dict[str, list[int]] = {}
    wanted = [c for c in costs if c.layer != shown.get(c.view)]
    if layers is not None:  # exactly those layers; modules as bytes allow
        by_bytes = [c for c in wanted if c.axis != "layer"]
        picked = [c for c in wanted if c.axis == "layer" and c.layer in layers]
        need = sum(c.size for c in picked)
        if need > budget:
            raise ExportError(
                f"layers {sorted(set(layers))} need {need / 1e6:.1f} MB in the page, more "
                f"than max_bytes leaves ({max(budget, 0) / 1e6:.1f} MB): ask for fewer layers "
                "or a larger max_bytes"
            )
        for c in picked:
            chosen[c.view].append(c.layer)
        budget -= need
        wanted = by_bytes
    if wanted:
        wanted.sort(key=lambda c: (abs(c.layer - shown[c.view]), c.layer))
        for c in wanted:
            if c.size <= budget:
                budget -= c.size
                chosen[c.view].append(c.layer)
            else:
                left.setdefault(c.view, []).append(c.layer)
    return {v: sorted(found) for v, found in chosen.items()}, {
        v: sorted(o) for v, o in left.items()
    }


def layer_span(layers: list[int], total: int) -> str:
    """``layers 0-5 of 6`` or ``layers 0, 2, 3 of 6``.

    Example:
        >>> layer_span([0, 1, 2], 3), layer_span([4, 1], 6)
        ('layers 0-2 of 3', 'layers 1, 4 of 6')
    """
    layers = sorted(layers)
    if len(layers) > 2 and layers == list(range(layers[0], layers[-1] + 1)):
        return f"layers {layers[0]}-{layers[-1]} of {total}"
    return f"layer{'s' if len(layers) != 1 else ''} {', '.join(map(str, layers))} of {total}"


def attention_panels(widget: Any) -> dict[str, Any]:
    """An AttentionView's state for a page, besides its layers: the overview thumbnails and
    head metrics filled in (their buttons work without a kernel), only the kind and stack
    shown offered, no text box."""
    from ..widgets.attention.view_data import metrics_traits, overview_traits

    record = widget.kinds[widget.value_kind]
    n_layers, n_heads = record.shape[:2]
    fixed: dict[str, Any] = {
        "live": False,
        "can_generate": False,
        "available_kinds": [widget.value_kind],
        "stacks": [widget.stack] if widget.stack else [],
    }
    if n_layers * n_heads * (32 * 32 + 24) <= THUMBNAIL_LIMIT:
        if not widget.thumbnails:
            fixed.update(overview_traits(record, widget._region()))
        if not widget.metrics:
            fixed.update(metrics_traits(widget.record, widget._data.queries))
    return fixed


def attention_layers(widget: Any, layers: list[int]) -> tuple[dict[str, Any], str]:
    """An AttentionView's ``chunk`` holding ``layers``, and what the page holds."""
    from ..widgets.attention.view_data import chunk_traits

    record = widget.kinds[widget.value_kind]
    n_layers, _, n_queries, n_keys = record.shape
    if widget.mode != "layers":
        return {}, (
            f"tiles mode ({n_queries} x {n_keys} tokens): the page holds the first view of "
            f"layer {widget.layer}, head {widget.head}"
        )
    return chunk_traits(record, layers), layer_span(layers, n_layers)


def image_layers(widget: Any, layers: list[int]) -> tuple[dict[str, Any], str]:
    """An ImageAttentionView's recorded replies for ``layers``, and what the page holds."""
    from ..widgets.vision.requests import answer

    requests: list[dict[str, Any]] = []
    for layer in layers:
        if widget.mode == "rows":  # the query's rows first, then the layer whole
            requests.append({"type": "request_rows", "layer": layer, "query": widget.query})
        requests.append({"type": "request_layer", "layer": layer})
    table, _ = record_replies(
        lambda request: answer({**request, "id": 0}, widget._record, widget._max_cells),
        requests,
    )
    return table, layer_span(layers, len(widget._record))


def collect(root: Any) -> Collected:
    """The page's widgets, their fixed overrides, and the layers their data views could
    carry (``apply_layers`` puts the chosen ones in)."""
    from ..widgets.attention.view import AttentionView
    from ..widgets.tokens.view import TokenizerView
    from ..widgets.vision.prediction_grid import PredictionGridView

    collected = Collected(all_widgets(root))
    collected.fixed.update(feature_map_controls(collected.widgets))
    for model_id, widget in collected.widgets.items():
        layer, costs = layer_costs(model_id, widget)
        if layer >= 0:
            collected.shown[model_id] = layer
            collected.costs += costs
        found = units(widget)
        if found is not None:
            collected.units[model_id] = found
            collected.shown[model_id] = found.shown
            collected.costs += [
                LayerCost(model_id, unit, len(json.dumps(table)), found.axis)
                for unit, (table, _) in found.tables.items()
            ]
        fixed = fixed_state(widget)
        if fixed is not None:
            collected.fixed[model_id], collected.notes[model_id] = fixed
        if isinstance(widget, TokenizerView):
            collected.replies[model_id], collected.notes[model_id] = token_replies(widget)
        elif isinstance(widget, AttentionView):
            collected.fixed[model_id] = attention_panels(widget)
        elif isinstance(widget, PredictionGridView):
            collected.fixed[model_id] = {"can_open": False}
            collected.notes[model_id] = "opening an image needs a kernel"
    return collected


def apply_layers(
    collected: Collected, chosen: dict[str, list[int]], left: dict[str, list[int]]
) -> None:
    """Put the ``chosen`` layers of each data view in the page (and say what was ``left``)."""
    from ..widgets.attention.view import AttentionView
    from ..widgets.vision.image_attention import ImageAttentionView

    for model_id, layers in chosen.items():
        widget = collected.widgets[model_id]
        overrides = dict(collected.fixed.get(model_id, {}))
        if isinstance(widget, AttentionView):
            layer_state, note = attention_layers(widget, layers)
            overrides.update(layer_state)
        elif isinstance(widget, ImageAttentionView):
            collected.replies[model_id], note = image_layers(widget, layers)
        elif model_id in collected.units:
            found = collected.units[model_id]
            collected.replies[model_id] = {
                key: reply for unit in layers for key, reply in found.tables[unit][0].items()
            }
            note = unit_note(widget, layers, found.total)
        else:
            continue
        if left.get(model_id):
            unit = (
                "modules"
                if getattr(collected.units.get(model_id), "axis", "") == "module"
                else "layers"
            )
            note += f" ({unit} {', '.join(map(str, left[model_id]))} left out: max_bytes)"
        collected.overrides[model_id] = overrides
        collected.notes[model_id] = note


def page_state(collected: Collected) -> dict[str, Any]:
    """The state of every widget of the page, by model id."""
    return {
        model_id: embed_entry(
            widget, collected.overrides.get(model_id, collected.fixed.get(model_id, {}))
        )
        for model_id, widget in collected.widgets.items()
    }
