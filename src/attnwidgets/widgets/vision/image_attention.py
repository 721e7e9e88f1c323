"""ImageAttentionView: a query's attention drawn over the image (numpy + traitlets, no torch).

The browser draws the image with its patch grid; hovering or clicking a patch (or picking
[CLS] / a register from the list) makes it the query, and its attention to every patch is drawn
over the image as a heat overlay. Layer, head (one, mean or max over heads), opacity, the
rollout and the heads grid are controls inside the widget, and traits for ipywidgets to link.

Data: the kernel keeps the float32 record. A layer of at most ``LAYER_CELLS`` cells goes to
the browser whole (uint8 rows + a scale per row; ``mode = "layers"``); the next layers are
asked for by message. Larger layers (``mode = "rows"``) are asked for one query at a time.
``first_data`` holds what the first paint needs, so it needs no round trip.
"""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets

from ...records import AttentionRecord
from ...vision_records import VisionInfo
from ..bundles import bundle, require_bundle
from ..inputs import clean_text
from . import image_attention_data as data
from .requests import answer

BUNDLE = "image_attention_view.js"


def vision_parts(
    data_: Any, info: VisionInfo | None, view: str
) -> tuple[AttentionRecord, VisionInfo]:
    """The probability record and the image layout of a vision run (or ``record, info=``);
    a clear error for a text run or anything without an image layout."""
    info = info if info is not None else getattr(data_, "vision", None)
    if not isinstance(info, VisionInfo):
        tokens = getattr(data_, "tokens", None)
        what = f" (tokens {', '.join(map(repr, tokens[:3]))}...)" if tokens else ""
        raise TypeError(
            f"{view} shows attention over an image: give a vision run (run = lens(image) for "
            f"a vision transformer) or a record with info=VisionInfo; got "
            f"{type(data_).__name__}{what}, which has no image layout. For text, use "
            "AttentionView(run) or run.show()"
        )
    record = data_ if isinstance(data_, AttentionRecord) else getattr(data_, "attention", None)
    if not isinstance(record, AttentionRecord):
        raise TypeError(f"{view}: {type(data_).__name__} holds no AttentionRecord (.attention)")
    if record.kind != "probability":
        raise ValueError(f"{view} draws attention probabilities; this record holds {record.kind!r}")
    return record, info


class ImageAttentionView(anywidget.AnyWidget):
    """Attention over the image: pick a query patch, see where it looks, layer by layer.

    ``data``: a vision run (``aw.wrap(model, processor)(image)``), or an ``AttentionRecord``
    with ``info=`` a ``VisionInfo``. ``heads``: ``"one"`` (``head``), ``"mean"`` or ``"max"``.
    ``query``: an index into ``tokens`` (default: [CLS], else the centre patch). ``mode``:
    ``"auto"``, ``"layers"`` or ``"rows"`` (see the module docstring); ``fetch_layers``: in
    rows mode, whether the browser may ask for whole layers (default: up to ``FETCH_CELLS``).

    Example:
        >>> import numpy as np
        >>> from attnwidgets.records import AttentionRecord
        >>> from attnwidgets.vision_records import VisionInfo
        >>> image = np.zeros((16, 16, 3), np.uint8)
        >>> info = VisionInfo.build("vit", image, (2, 2), (8, 8), ["[CLS]"])
        >>> record = AttentionRecord([np.full((2, 5, 5), 0.2, np.float32)])
        >>> view = ImageAttentionView(record, info=info)
        >>> view.mode, view.tokens, view.image_layout["layers"][0]["heads"]
        ('layers', ['[CLS]', '(0, 0)', '(0, 1)', '(1, 0)', '(1, 1)'], 2)
    """

    _esm = bundle(BUNDLE)

    layer = traitlets.Int(0).tag(sync=True)
    head = traitlets.Int(0).tag(sync=True)
    heads = traitlets.Enum(["one", "mean", "max"], "mean").tag(sync=True)
    query = traitlets.Int(0).tag(sync=True)  # index into tokens
    opacity = traitlets.Float(0.7, min=0.0, max=1.0).tag(sync=True)
    overlay = traitlets.Enum(["attention", "rollout"], "attention").tag(sync=True)
    rollout_fusion = traitlets.Enum(["mean", "max", "min"], "mean").tag(sync=True)
    discard_ratio = traitlets.Float(0.0, min=0.0, max=0.99).tag(sync=True)
    show_lines = traitlets.Bool(True).tag(sync=True)
    show_heads_grid = traitlets.Bool(True).tag(sync=True)
    size = traitlets.Int(448, min=64, max=2048).tag(sync=True)  # longest image side, CSS px
    thumb = traitlets.Int(56).tag(sync=True)  # heads-grid thumbnail side, CSS px

    n_layers = traitlets.Int(0).tag(sync=True)
    layer_heads = traitlets.List(traitlets.Int()).tag(sync=True)
    layer_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    image_layout = traitlets.Dict().tag(sync=True)  # (not "layout": DOMWidget's own trait)
    image = traitlets.Dict().tag(sync=True)
    mode = traitlets.Enum(["layers", "rows"], "layers").tag(sync=True)
    fetch_layers = traitlets.Bool(True).tag(sync=True)  # rows mode: whole layers on request
    first_data = traitlets.Dict().tag(sync=True)
    heads_grid = traitlets.Dict().tag(sync=True)
    rollout_map = traitlets.Dict().tag(sync=True)
    rollout_note = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        data_: Any,
        info: VisionInfo | None = None,
        *,
        layer: int = 0,
        head: int = 0,
        heads: str = "mean",
        query: int | None = None,
        mode: str = "auto",
        fetch_layers: bool | None = None,
        **kwargs: Any,
    ) -> None:
        require_bundle(BUNDLE)
        record, info = vision_parts(data_, info, "ImageAttentionView")
        layout = data.layout_of(info, record)
        n_layers = len(record)
        _check_range("layer", layer, n_layers)
        heads_per_layer = [entry["heads"] for entry in layout["layers"]]
        _check_range("head", head, max(heads_per_layer))
        if query is None:
            query = layout["cls"] if layout["cls"] >= 0 else _centre(info)
        _check_range("query", query, len(info.tokens))
        largest = max(e["heads"] * e["size"] ** 2 for e in layout["layers"])
        if mode == "auto":
            mode = "layers" if largest <= data.LAYER_CELLS else "rows"
        if mode not in ("layers", "rows"):
            raise ValueError(f"mode must be 'auto', 'layers' or 'rows', not {mode!r}")
        self._record, self._info = record, info
        if fetch_layers is None:
            fetch_layers = mode == "layers" or largest <= data.FETCH_CELLS
        layer_cells = max(largest, data.LAYER_CELLS) if mode == "layers" else data.FETCH_CELLS
        self._max_cells = layer_cells if fetch_layers else 0
        self._rollouts: dict[tuple[Any, ...], dict[str, Any]] = {}
        first = (
            data.layer_value(record, layer)
            if mode == "layers"
            else data.rows_value(record, layer, data.layer_query(info, layer, query))
        )
        names = record.layer_names or [f"layer {i}" for i in range(n_layers)]
        super().__init__(
            layer=layer,
            head=head,
            heads=heads,
            query=query,
            n_layers=n_layers,
            layer_heads=heads_per_layer,
            layer_names=[clean_text(str(n)) for n in names],
            tokens=[clean_text(t) for t in info.tokens],
            image_layout=layout,
            image=data.image_value(info),
            mode=mode,
            fetch_layers=fetch_layers,
            first_data=first,
            heads_grid=data.head_maps_value(info, record),
            thumb=max(28, min(72, 640 // max(heads_per_layer))),
            **kwargs,
        )
        self.on_msg(self._on_message)
        self.observe(self._update_rollout, names=["overlay", "rollout_fusion", "discard_ratio"])
        self.observe(self._update_rollout, names=["layer"])
        if self.overlay == "rollout":
            self._update_rollout({})

    @traitlets.validate("layer")
    def _valid_layer(self, proposal: Any) -> int:
        return _check_range("layer", proposal["value"], len(self._record))

    @traitlets.validate("head")
    def _valid_head(self, proposal: Any) -> int:
        return _check_range("head", proposal["value"], max(self.layer_heads or [1]))

    @traitlets.validate("query")
    def _valid_query(self, proposal: Any) -> int:
        return _check_range("query", proposal["value"], len(self._info.tokens))

    def _update_rollout(self, _change: Any) -> None:
        """Compute the rollout shown (once per head fusion, discard ratio and stage)."""
        if self.overlay != "rollout":
            return
        layers = tuple(data.stage_layers(self._info, len(self._record), self.layer))
        key = (self.rollout_fusion, round(self.discard_ratio, 4), layers)
        if key not in self._rollouts:
            try:
                self._rollouts[key] = data.rollout_value(
                    self._info, self._record, self.layer, self.rollout_fusion, self.discard_ratio
                )
            except ValueError as error:
                self.rollout_map, self.rollout_note = {}, f"rollout: {error}"
                return
        self.rollout_map, self.rollout_note = self._rollouts[key], ""

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        reply, buffers = answer(content, self._record, self._max_cells)
        self.send(reply, buffers=buffers)


def _check_range(name: str, value: Any, size: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < size:
        raise traitlets.TraitError(f"{name}: {value!r} is out of range; valid: 0..{size - 1}")
    return value


def _centre(info: VisionInfo) -> int:
    rows, cols = info.patch_grid
    centre = (rows // 2, cols // 2)
    return info.positions.index(centre) if centre in info.positions else 0
