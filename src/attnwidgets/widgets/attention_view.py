"""AttentionView: one head of one layer as a canvas heatmap (numpy + traitlets, no torch)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets

from ..metrics import head_metrics
from ..records import AttentionRecord
from .inputs import as_attention_record, token_labels
from .tiles import TileRequest, make_tile, thumbnails, token_focus
from .transport import MASKED_BYTE, encode_block

STATIC = Path(__file__).resolve().parent.parent / "static"
PRELOAD_BUDGET = 256 * 1024  # bytes of uint8 data sent up front when preload="auto"
LAYER_BUDGET = 1024 * 1024  # above this many cells per layer, the browser asks for tiles
THUMBNAIL_SIDE = 32
FIRST_TILE_SIDE = 512  # cells per side of the first view sent with the state in tiles mode


def bundle(name: str) -> Path | str:
    """The built module, or (in an unbuilt source checkout) a stub so that import still works."""
    path = STATIC / name
    return path if path.is_file() else "export default { render() {} };"


def require_bundle(name: str) -> None:
    """Raise a clear error when the built JavaScript is missing (a source checkout, unbuilt)."""
    path = STATIC / name
    if not path.is_file():
        raise FileNotFoundError(
            f"the widget bundle {path} is missing. Install attnwidgets with `pip install .` "
            "(it builds the JavaScript), or run `npm ci && npm run build` in the source folder."
        )


class AttentionView(anywidget.AnyWidget):
    """Heatmap of one attention head: query rows x key columns, with token labels.

    ``data`` is a ``Run`` (from ``attnwidgets.wrap``), an ``AttentionRecord``, or an array
    ``[layers, heads, query, key]``. The kernel keeps the whole record; the browser holds the
    layers it has been sent and asks for others by message when ``layer`` changes.
    ``preload`` is ``"auto"`` (every layer if small, else the shown one), ``"all"`` (needed for
    pages exported without a kernel) or ``"layer"``. When one layer holds more than
    ``LAYER_BUDGET`` cells (``mode="tiles"``), nothing is preloaded: the browser asks for the
    region it shows, max-pooled in the kernel to the pixels it has (``request_tile``).
    ``show_overview`` adds the layer x head thumbnails, ``show_metrics`` the per-head metrics
    table; both are computed in the kernel when first shown.
    ``scores`` (default: ``data.scores`` of a Run captured with ``scores=True``) maps a kind
    (``"scores"``, ``"scaled"``, ``"masked"``) to a record of the same shape; ``value_kind``
    picks the one drawn (a select in the view when there is more than one). Masked cells
    (``-inf``) are drawn grey.

    Example:
        >>> import numpy as np
        >>> view = AttentionView(np.ones((2, 3, 4, 4)) / 4, ["a", "b", "c", "d"], layer=1, head=2)
        >>> view.n_layers, view.n_heads, view.chunk_meta["layers"]
        (2, 3, [0, 1])
    """

    _esm = bundle("attention_view.js")

    layer = traitlets.Int(0).tag(sync=True)
    head = traitlets.Int(0).tag(sync=True)
    n_layers = traitlets.Int(0).tag(sync=True)
    n_heads = traitlets.Int(0).tag(sync=True)
    layer_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    query_tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    key_tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    chunk = traitlets.Bytes(b"").tag(sync=True)
    chunk_meta = traitlets.Dict().tag(sync=True)
    value_label = traitlets.Unicode("probability").tag(sync=True)
    value_kind = traitlets.Unicode("probability").tag(sync=True)  # key of available_kinds
    available_kinds = traitlets.List(traitlets.Unicode()).tag(sync=True)
    mode = traitlets.Unicode("layers").tag(sync=True)
    color_scale = traitlets.Enum(["linear", "log", "row"], "linear").tag(sync=True)
    focus_token = traitlets.Int(-1).tag(sync=True)  # locked query row / focused token, -1: none
    show_overview = traitlets.Bool(False).tag(sync=True)
    show_metrics = traitlets.Bool(False).tag(sync=True)
    show_lines = traitlets.Bool(False).tag(sync=True)
    compare_heads = traitlets.List(traitlets.List(traitlets.Int())).tag(sync=True)  # [[l, h]]
    tile0 = traitlets.Bytes(b"").tag(sync=True)  # tiles mode: the first view, pooled, in state
    tile0_meta = traitlets.Dict().tag(sync=True)
    thumbnails = traitlets.Bytes(b"").tag(sync=True)
    thumbnail_meta = traitlets.Dict().tag(sync=True)
    metrics = traitlets.Bytes(b"").tag(sync=True)
    metrics_meta = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        data: Any,
        tokens: Sequence[str] | None = None,
        *,
        layer: int = 0,
        head: int = 0,
        key_tokens: Sequence[str] | None = None,
        preload: str = "auto",
        mode: str = "auto",
        show_overview: bool = False,
        show_metrics: bool = False,
        scores: dict[str, AttentionRecord] | None = None,
        value_kind: str | None = None,
        **kwargs: Any,
    ) -> None:
        require_bundle("attention_view.js")
        record = as_attention_record(data)
        if scores is None:
            scores = getattr(data, "scores", None) or {}
        records: dict[str, AttentionRecord] = {record.kind: record}
        for name, other in scores.items():
            other = as_attention_record(other)
            if other.shape != record.shape:
                raise ValueError(
                    f"scores[{name!r}] has shape {other.shape}, the attention {record.shape}"
                )
            records.setdefault(name, other)
        kind = record.kind if value_kind is None else value_kind
        if kind not in records:
            raise ValueError(f"value_kind {kind!r} is not one of {list(records)}")
        self._records = records
        shown = records[kind]
        if tokens is None:
            tokens = getattr(data, "tokens", None)
        n_layers, n_heads, n_queries, n_keys = record.shape
        record.head(layer, head)  # IndexError with the valid range
        queries = token_labels(tokens, n_queries, "query")
        keys = token_labels(key_tokens, n_keys, "key") if key_tokens else None
        if keys is None:
            keys = queries if n_keys == n_queries else token_labels(None, n_keys, "key")
        self._record = record
        self._tokens = queries
        if mode == "auto":
            mode = "tiles" if n_heads * n_queries * n_keys > LAYER_BUDGET else "layers"
        if mode not in ("layers", "tiles"):
            raise ValueError(f"mode must be 'auto', 'layers' or 'tiles', not {mode!r}")
        layers = self._preloaded_layers(preload, layer) if mode == "layers" else []
        if mode == "tiles":  # first paint without a round trip, and a picture in exported pages
            request = TileRequest(layer % n_layers, head % n_heads, (0, n_queries), (0, n_keys),
                                  FIRST_TILE_SIDE, FIRST_TILE_SIDE)  # fmt: skip
            meta, data = make_tile(shown.head(request.layer, request.head), request, kind)
            kwargs.update(tile0=data, tile0_meta=meta)
        if show_overview:
            kwargs.update(self._overview_traits())
        if show_metrics:
            kwargs.update(self._metrics_traits())
        super().__init__(
            layer=layer % n_layers,
            head=head % n_heads,
            n_layers=n_layers,
            n_heads=n_heads,
            layer_names=record.layer_names,
            query_tokens=queries,
            key_tokens=keys,
            **self._chunk_traits(shown, layers),
            value_label=kind,
            value_kind=kind,
            available_kinds=list(records),
            mode=mode,
            show_overview=show_overview,
            show_metrics=show_metrics,
            **kwargs,
        )
        self.on_msg(self._on_message)
        self.observe(self._fill_panels, names=["show_overview", "show_metrics"])
        self.observe(self._on_kind, names=["value_kind"])

    @staticmethod
    def _chunk_traits(record: AttentionRecord, layers: list[int]) -> dict[str, Any]:
        """``chunk`` + ``chunk_meta`` for ``layers`` of ``record`` (byte 0 = masked when any
        of them holds -inf)."""
        masked = any(bool(np.isneginf(record[i]).any()) for i in layers)
        blocks = [encode_block(record[i], masked=masked) for i in layers]
        meta: dict[str, Any] = {
            "layers": layers,
            "dtype": "uint8",
            "shape": list(record.shape[1:]),
            "offset": [block.offset for block in blocks],
            "scale": [block.scale for block in blocks],
            "kind": record.kind,
        }
        if masked:
            meta["masked_byte"] = MASKED_BYTE
        return {"chunk": b"".join(block.data for block in blocks), "chunk_meta": meta}

    @property
    def kinds(self) -> dict[str, AttentionRecord]:
        """Every record this view can show, by kind (``value_kind`` picks one)."""
        return dict(self._records)

    def _shown(self, kind: Any = None) -> tuple[str, AttentionRecord]:
        name = kind if isinstance(kind, str) and kind in self._records else self.value_kind
        if name not in self._records:
            name = self._record.kind
        return name, self._records[name]

    def _on_kind(self, change: dict[str, Any]) -> None:
        """Re-send what is shown for the new kind (chunk, or the first tile) and its label."""
        kind = change["new"]
        if kind not in self._records:
            self.set_trait("value_kind", change["old"])
            raise traitlets.TraitError(f"value_kind {kind!r} is not one of {list(self._records)}")
        record = self._records[kind]
        with self.hold_sync():
            self.value_label = kind
            if self.mode == "layers":
                for name, value in self._chunk_traits(record, self.chunk_meta["layers"]).items():
                    self.set_trait(name, value)
            else:
                n_q, n_k = record.shape[2:]
                request = TileRequest(self.layer, self.head, (0, n_q), (0, n_k),
                                      FIRST_TILE_SIDE, FIRST_TILE_SIDE)  # fmt: skip
                meta, data = make_tile(record.head(self.layer, self.head), request, kind)
                self.set_trait("tile0", data)
                self.set_trait("tile0_meta", meta)

    @property
    def record(self) -> AttentionRecord:
        """The full record this view draws from (kept in the kernel)."""
        return self._record

    def _preloaded_layers(self, preload: str, layer: int) -> list[int]:
        count = len(self._record)
        if preload == "all":
            return list(range(count))
        if preload == "layer":
            return [layer % count]
        if preload == "auto":
            total = sum(block.size for block in self._record)
            return list(range(count)) if total <= PRELOAD_BUDGET else [layer % count]
        raise ValueError(f"preload must be 'auto', 'all' or 'layer', not {preload!r}")

    def _overview_traits(self) -> dict[str, Any]:
        data, meta = thumbnails(self._record, THUMBNAIL_SIDE)
        return {"thumbnails": data, "thumbnail_meta": meta}

    def _metrics_traits(self) -> dict[str, Any]:
        computed = head_metrics(self._record, self._tokens)
        shape = list(computed.values.shape)
        meta = {"dtype": "float32", "shape": shape, "names": list(computed.names)}
        return {"metrics": computed.values.astype("<f4").tobytes(), "metrics_meta": meta}

    def _fill_panels(self, change: dict[str, Any]) -> None:
        """Compute thumbnails / metrics the first time their panel is switched on."""
        if change["new"] and change["name"] == "show_overview" and not self.thumbnails:
            self.set_trait("thumbnail_meta", {})  # JS waits for the meta that follows the data
            for name, value in self._overview_traits().items():
                self.set_trait(name, value)
        if change["new"] and change["name"] == "show_metrics" and not self.metrics:
            for name, value in self._metrics_traits().items():
                self.set_trait(name, value)

    def _on_message(self, widget: Any, content: Any, buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        if content.get("type") == "request_tile":
            self._send_tile(content)
            return
        if content.get("type") == "request_focus":
            self._send_focus(content)
            return
        if content.get("type") != "request_layer":
            return
        request_id = content.get("id")
        layer = content.get("layer")
        if not isinstance(layer, int) or not 0 <= layer < len(self._record):
            message = f"layer {layer!r} out of range 0..{len(self._record) - 1}"
            self.send({"type": "error", "id": request_id, "message": message})
            return
        kind, record = self._shown(content.get("kind"))
        block = encode_block(record[layer])
        reply = {"type": "layer", "id": request_id, "layer": layer, "kind": kind, **block.meta()}
        self.send(reply, buffers=[block.data])

    def _send_tile(self, content: dict[str, Any]) -> None:
        try:
            request = TileRequest.parse(content, self._record.shape)
        except ValueError as error:
            self.send({"type": "error", "id": content.get("id"), "message": str(error)})
            return
        kind, record = self._shown(content.get("kind"))
        meta, data = make_tile(record.head(request.layer, request.head), request, kind)
        self.send({**meta, "id": content.get("id")}, buffers=[data])

    def _send_focus(self, content: dict[str, Any]) -> None:
        token, width = content.get("token"), content.get("width")
        n_queries = len(self.query_tokens)
        if not isinstance(token, int) or not 0 <= token < n_queries:
            message = f"focus token {token!r} out of range 0..{n_queries - 1}"
            self.send({"type": "error", "id": content.get("id"), "message": message})
            return
        if not isinstance(width, int) or width < 1:
            width = n_queries
        meta, data = token_focus(self._record, token, min(width, 4096))
        self.send({**meta, "id": content.get("id")}, buffers=[data])
