"""The browser's requests to an ImageAttentionView, checked field by field and answered.

- ``{"type": "request_layer", "id", "layer"}`` -> ``{"type": "layer", "id", "layer", "arrays",
  "nan"}`` + one buffer: the layer ``[heads, N, N]`` uint8 and its ``scale`` ``[heads, N]``
  (layers of at most ``max_cells`` cells, heads x N x N).
- ``{"type": "request_rows", "id", "layer", "query"}`` -> ``{"type": "rows", "id", "layer",
  "query", "arrays", "nan"}`` + one buffer: that query's rows ``[heads, N]`` and ``scale``
  ``[heads]``; ``query`` indexes the layer's own sequence.
- Anything else -> ``{"type": "error", "id", "message"}`` naming the field and what is valid.
"""

from __future__ import annotations

from typing import Any, TypeGuard

from ...records import AttentionRecord
from ..arrays import message_parts
from .image_attention_data import layer_value, rows_value

Reply = tuple[dict[str, Any], list[Any]]


def _index(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def echo_id(value: Any) -> Any:
    """The id a reply echoes: an int or a string of at most 200 characters, else None.

    Example:
        >>> echo_id(4), echo_id("rows-2"), echo_id(True), echo_id("x" * 201)
        (4, 'rows-2', None, None)
    """
    if _index(value) or (isinstance(value, str) and len(value) <= 200):
        return value
    return None


def error(request_id: Any, message: str) -> Reply:
    return {"type": "error", "id": request_id, "message": message}, []


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _split(packed: dict[str, Any], **content: Any) -> Reply:
    meta, buffers = message_parts(packed)
    return {**content, **meta}, buffers


def answer(content: Any, record: AttentionRecord, max_cells: int) -> Reply:
    """The reply to one request (see the module docstring).

    Example:
        >>> import numpy as np
        >>> record = AttentionRecord([np.full((2, 3, 3), 1 / 3, np.float32)])
        >>> reply, buffers = answer({"type": "request_rows", "id": 1, "layer": 0, "query": 2},
        ...                         record, max_cells=0)
        >>> reply["type"], reply["arrays"]["weights"]["shape"], len(buffers[0])
        ('rows', [2, 3], 16)
        >>> answer({"type": "request_rows", "id": 2, "layer": 5, "query": 0}, record, 0)[0]
        {'type': 'error', 'id': 2, 'message': 'layer: 5 is out of range; layers are 0..0'}
    """
    if not isinstance(content, dict):
        return error(None, f"a request must be an object, not {type(content).__name__}")
    request_id = echo_id(content.get("id"))
    kind = content.get("type")
    if kind not in ("request_layer", "request_rows"):
        return error(
            request_id, f"type: {_shown(kind)} is not one of 'request_layer', 'request_rows'"
        )
    layer = content.get("layer")
    if not _index(layer) or not 0 <= layer < len(record):
        return error(
            request_id,
            f"layer: {_shown(layer)} is out of range; layers are 0..{len(record) - 1}",
        )
    if kind == "request_layer":
        heads, queries, keys = record[layer].shape
        if heads * queries * keys > max_cells:
            return error(
                request_id,
                f"type: layer {layer} ({heads} x {queries} x {keys} cells) is larger than this "
                f"view sends whole ({max_cells} cells); ask for one query's rows (request_rows)",
            )
        return _split(layer_value(record, layer), type="layer", id=request_id)
    query = content.get("query")
    size = record[layer].shape[-1]
    if not _index(query) or not 0 <= query < size:
        return error(
            request_id,
            f"query: {_shown(query)} is out of range; layer {layer} has queries 0..{size - 1}",
        )
    return _split(rows_value(record, layer, query), type="rows", id=request_id)
