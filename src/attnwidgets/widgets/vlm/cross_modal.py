"""CrossModalView: which part of the image a text token looks at, and which text tokens look at
a part of the image (numpy + traitlets, no torch).

Pick a text token (the list beside the image; generated tokens included): its attention to
the image tokens is drawn over the image, for one language-model layer and one head, or the
mean / max over heads. Drag a rectangle on the image (or click a patch): every text token is
listed with a bar for how much it attends there. A layers x heads grid shows where the text
reads the image (the mean share of the text rows' attention on image tokens) and where it
ignores it. Images seen as several views (LLaVA-NeXT's tiles and base image, Idefics3's tiles
and global image) have a select for the view drawn.

Data: the kernel keeps the record; the browser gets one layer's text-rows x image-keys block
as uint8 (``cross_modal_data.block_value``) on request, and caches it; the first layer shown
is in ``first_block``.
"""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets

from ...records import AttentionRecord
from ...vlm_records import VLMInfo
from ..arrays import message_parts
from ..bundles import bundle, require_bundle
from ..inputs import clean_text
from ..vision.requests import Reply, echo_id, error
from . import cross_modal_data as data

BUNDLE = "cross_modal_view.js"


def cross_modal_parts(data_: Any, info: VLMInfo | None) -> tuple[AttentionRecord, VLMInfo, int]:
    """``(language-model record, layout, first generated position or -1)`` of a VLM run (or
    of ``record, info=``); a clear error for anything whose text never attends to an image."""
    if info is None:
        info = getattr(data_, "vlm", None)
    if not isinstance(info, VLMInfo):
        tokens = getattr(data_, "tokens", None) or []
        shown = f" (tokens {', '.join(map(repr, tokens[:3]))}...)" if tokens else ""
        raise TypeError(
            "CrossModalView shows a vision-language model's attention from text tokens to image "
            "tokens: give a VLM run, aw.wrap(vlm, processor)(image=..., text=...), or a record of "
            f"the language model's layers with info=VLMInfo; got {type(data_).__name__}{shown}, "
            "which has no image tokens. For text alone, use run.show() or AttentionView(run)"
        )
    if not info.positions:
        reason = getattr(data_, "_no_map_reason", None)
        raise ValueError(
            f"CrossModalView: {reason() if callable(reason) else 'no image tokens on a grid'}"
        )
    if isinstance(data_, AttentionRecord):
        record, generated_from = data_, -1
    else:
        layers = list(getattr(data_, "text_layers", []) or [])
        full = data_.attention
        names = [full.layer_names[i] for i in layers] if full.layer_names else None
        record = AttentionRecord([full[i] for i in layers], names)
        generated = getattr(data_, "generated", None) or []
        generated_from = len(data_.tokens) - len(generated) + 1 if generated else -1
    if not len(record):
        raise ValueError("CrossModalView: the run recorded no language-model layers")
    for index, weights in enumerate(record):
        if (
            weights.ndim != 3
            or weights.shape[1] != weights.shape[2]
            or weights.shape[1] < len(info.tokens)
        ):
            raise ValueError(
                f"layer {index} attention is {list(weights.shape)}; the image layout has "
                f"{len(info.tokens)} positions: give the language model's [heads, seq, seq] "
                "layers of the same run"
            )
    return record, info, generated_from


class CrossModalView(anywidget.AnyWidget):
    """Text tokens' attention over the image, and the text tokens that attend to a region.

    ``data_``: a VLM run (``aw.wrap(vlm, processor)(image=..., text=...)`` or
    ``lens.generate(...)``), or an ``AttentionRecord`` of language-model layers with ``info=``
    a ``VLMInfo``. ``layer`` indexes the language model's layers; ``query`` is a position of
    ``tokens`` that is text (default: the last prompt token, whose row predicts the answer);
    ``heads``: ``"one"`` (``head``), ``"mean"`` or ``"max"``; ``surface``: which image x view is
    drawn; ``region``: ``[r0, c0, r1, c1]`` cells of that surface (inclusive) or ``[]``.

    Example:
        >>> import numpy as np
        >>> from attnwidgets.vlm_records import ImagePosition, ImageView, VLMImage
        >>> views = (ImageView("image", (1, 2)),)
        >>> info = VLMInfo.build("llava", ["USER", "<image>", "<image>", "?"],
        ...     {1: ImagePosition(0, 0, 0), 2: ImagePosition(0, 0, 1)},
        ...     [VLMImage(0, np.zeros((8, 16, 3), np.uint8), views)])
        >>> w = np.tril(np.ones((2, 4, 4), np.float32)); w /= w.sum(-1, keepdims=True)
        >>> view = CrossModalView(AttentionRecord([w]), info=info)
        >>> view.query, view.cm_layout["rows"], view.cm_layout["keys"]
        (3, [0, 3], [1, 2])
    """

    _esm = bundle(BUNDLE)

    layer = traitlets.Int(0).tag(sync=True)
    head = traitlets.Int(0).tag(sync=True)
    heads = traitlets.Enum(["one", "mean", "max"], "mean").tag(sync=True)
    query = traitlets.Int(0).tag(sync=True)  # a text position of tokens
    surface = traitlets.Int(0).tag(sync=True)
    region = traitlets.List(traitlets.Int()).tag(sync=True)  # [r0, c0, r1, c1] or []
    opacity = traitlets.Float(0.7, min=0.0, max=1.0).tag(sync=True)
    show_lines = traitlets.Bool(True).tag(sync=True)
    size = traitlets.Int(448, min=64, max=2048).tag(sync=True)

    n_layers = traitlets.Int(0).tag(sync=True)
    layer_heads = traitlets.List(traitlets.Int()).tag(sync=True)
    layer_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    generated_from = traitlets.Int(-1).tag(sync=True)
    cm_layout = traitlets.Dict().tag(sync=True)  # (not "layout": DOMWidget's own trait)
    images = traitlets.Dict().tag(sync=True)
    first_block = traitlets.Dict().tag(sync=True)
    head_shares = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        data_: Any,
        info: VLMInfo | None = None,
        *,
        layer: int = 0,
        query: int | None = None,
        **kwargs: Any,
    ) -> None:
        require_bundle(BUNDLE)
        record, info, generated_from = cross_modal_parts(data_, info)
        sequence = int(record[0].shape[-1])
        layout = data.layout_of(info, sequence)
        self._record, self._layout = record, layout
        self._rows = set(layout.rows)
        tokens = list(getattr(data_, "tokens", None) or info.tokens)[:sequence]
        tokens += [f"<pos {i}>" for i in range(len(tokens), sequence)]
        n_layers = len(record)
        _check("layer", layer, n_layers)
        if query is None:
            prompt = [r for r in layout.rows if r < len(info.tokens)]
            query = prompt[-1] if prompt else layout.rows[-1]
        names = record.layer_names or [f"layer {i}" for i in range(n_layers)]
        super().__init__(
            layer=layer,
            query=query,
            n_layers=n_layers,
            layer_heads=[int(w.shape[0]) for w in record],
            layer_names=[clean_text(str(n)) for n in names],
            tokens=[clean_text(t) for t in tokens],
            generated_from=generated_from,
            cm_layout=layout.to_json(),
            images=data.images_value(info),
            first_block=data.block_value(record, layer, layout),
            head_shares=data.head_shares_value(record, list(range(n_layers)), layout),
            **kwargs,
        )
        self.on_msg(self._on_message)

    @traitlets.validate("layer")
    def _valid_layer(self, proposal: Any) -> int:
        return _check("layer", proposal["value"], len(self._record))

    @traitlets.validate("head")
    def _valid_head(self, proposal: Any) -> int:
        return _check("head", proposal["value"], max(self.layer_heads or [1]))

    @traitlets.validate("surface")
    def _valid_surface(self, proposal: Any) -> int:
        return _check("surface", proposal["value"], len(self._layout.surfaces))

    @traitlets.validate("query")
    def _valid_query(self, proposal: Any) -> int:
        value = proposal["value"]
        if value not in self._rows:
            rows = self._layout.rows
            what = f" ({self.tokens[value]!r} is an image token)" if _in(value, self.tokens) else ""
            raise traitlets.TraitError(
                f"query: {value!r} is not a text position{what}; text positions are {_spans(rows)}"
            )
        return int(value)

    @traitlets.validate("region")
    def _valid_region(self, proposal: Any) -> list[int]:
        value = list(proposal["value"])
        if not value:
            return value
        rows, cols = self._layout.surfaces[self.surface]["grid"]
        if len(value) != 4 or not all(isinstance(v, int) for v in value):
            raise traitlets.TraitError(f"region: {value!r} is not [r0, c0, r1, c1] or []")
        r0, c0, r1, c1 = value
        if not (0 <= r0 <= r1 < rows and 0 <= c0 <= c1 < cols):
            raise traitlets.TraitError(
                f"region: {value!r} is outside the {rows} x {cols} grid of surface "
                f"{self.surface} (r0 <= r1 < {rows}, c0 <= c1 < {cols})"
            )
        return value

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        reply, buffers = self.answer(content)
        self.send(reply, buffers=buffers)

    def answer(self, content: Any) -> Reply:
        """The reply to one browser request: ``{"type": "request_block", "id", "layer"}`` ->
        ``{"type": "block", "id", "layer", "arrays", "nan"}`` + one buffer; anything else ->
        ``{"type": "error", "id", "message"}`` naming the field."""
        if not isinstance(content, dict):
            return error(None, f"a request must be an object, not {type(content).__name__}")
        request_id = echo_id(content.get("id"))
        if content.get("type") != "request_block":
            return error(request_id, f"type: {_short(content.get('type'))} is not 'request_block'")
        layer = content.get("layer")
        if (
            not isinstance(layer, int)
            or isinstance(layer, bool)
            or not 0 <= layer < len(self._record)
        ):
            return error(
                request_id,
                f"layer: {_short(layer)} is out of range; layers are 0..{len(self._record) - 1}",
            )
        content, buffers = message_parts(data.block_value(self._record, layer, self._layout))
        return {"type": "block", "id": request_id, **content}, buffers


def _check(name: str, value: Any, size: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < size:
        raise traitlets.TraitError(f"{name}: {value!r} is out of range; valid: 0..{size - 1}")
    return value


def _in(value: Any, tokens: list[str]) -> bool:
    return isinstance(value, int) and 0 <= value < len(tokens)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _spans(rows: list[int]) -> str:
    """``[0, 1, 2, 5, 6]`` -> ``'0..2, 5..6'``.

    Example:
        >>> _spans([0, 1, 2, 5, 6, 9])
        '0..2, 5..6, 9'
    """
    parts: list[tuple[int, int]] = []
    for value in rows:
        if parts and value == parts[-1][1] + 1:
            parts[-1] = (parts[-1][0], value)
        else:
            parts.append((value, value))
    text = [str(a) if a == b else f"{a}..{b}" for a, b in parts]
    return ", ".join(text) if rows else "none"
