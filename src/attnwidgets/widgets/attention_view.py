"""AttentionView: one head of one layer as a canvas heatmap (numpy + traitlets, no torch)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from ..records import AttentionRecord
from .inputs import as_attention_record, token_labels
from .transport import encode_block

STATIC = Path(__file__).resolve().parent.parent / "static"
PRELOAD_BUDGET = 256 * 1024  # bytes of uint8 data sent up front when preload="auto"


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
    pages exported without a kernel) or ``"layer"``.

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

    def __init__(
        self,
        data: Any,
        tokens: Sequence[str] | None = None,
        *,
        layer: int = 0,
        head: int = 0,
        key_tokens: Sequence[str] | None = None,
        preload: str = "auto",
        **kwargs: Any,
    ) -> None:
        require_bundle("attention_view.js")
        record = as_attention_record(data)
        if tokens is None:
            tokens = getattr(data, "tokens", None)
        n_layers, n_heads, n_queries, n_keys = record.shape
        record.head(layer, head)  # IndexError with the valid range
        queries = token_labels(tokens, n_queries, "query")
        keys = token_labels(key_tokens, n_keys, "key") if key_tokens else None
        if keys is None:
            keys = queries if n_keys == n_queries else token_labels(None, n_keys, "key")
        self._record = record
        layers = self._preloaded_layers(preload, layer)
        blocks = [encode_block(record[i]) for i in layers]
        super().__init__(
            layer=layer % n_layers,
            head=head % n_heads,
            n_layers=n_layers,
            n_heads=n_heads,
            layer_names=record.layer_names,
            query_tokens=queries,
            key_tokens=keys,
            chunk=b"".join(block.data for block in blocks),
            chunk_meta={
                "layers": layers,
                "dtype": "uint8",
                "shape": [n_heads, n_queries, n_keys],
                "offset": [block.offset for block in blocks],
                "scale": [block.scale for block in blocks],
            },
            value_label=record.kind,
            **kwargs,
        )
        self.on_msg(self._on_message)

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

    def _on_message(self, widget: Any, content: Any, buffers: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "request_layer":
            return
        request_id = content.get("id")
        layer = content.get("layer")
        if not isinstance(layer, int) or not 0 <= layer < len(self._record):
            message = f"layer {layer!r} out of range 0..{len(self._record) - 1}"
            self.send({"type": "error", "id": request_id, "message": message})
            return
        block = encode_block(self._record[layer])
        reply = {"type": "layer", "id": request_id, "layer": layer, **block.meta()}
        self.send(reply, buffers=[block.data])
