"""Replies to the data an AttentionView's browser side asks for by message (numpy only).

JS sends ``{"type": "request_layer" | "request_tile" | "request_focus", "id", ...}`` (see
docs/architecture.md); ``answer_request`` builds the reply and its buffers from the view's
``ViewData`` alone, or an ``{"type": "error", "id", "message"}`` naming the bad field and the
valid range.

>>> import numpy as np
>>> from attnwidgets.widgets.view_data import load_view_data
>>> shown = load_view_data(np.ones((2, 1, 3, 3)) / 3, ["a", "b", "c"])
>>> reply, buffers = answer_request({"type": "request_layer", "id": 7, "layer": 1}, shown, 3)
>>> reply["type"], reply["id"], reply["layer"], reply["shape"], len(buffers[0])
('layer', 7, 1, [1, 3, 3], 9)
>>> answer_request({"type": "request_layer", "id": 8, "layer": 5}, shown, 3)[0]["message"]
'layer 5 out of range 0..1'
"""

from __future__ import annotations

from typing import Any

from ..records import AttentionRecord
from .tiles import TileRequest, make_tile, token_focus
from .transport import encode_block
from .view_data import ViewData

Reply = tuple[dict[str, Any], list[bytes] | None]  # message content, binary buffers


def answer_request(
    content: dict[str, Any], loaded: ViewData, n_queries: int, value_kind: str | None = None
) -> Reply | None:
    """The reply to a ``request_layer`` / ``request_tile`` / ``request_focus`` message, of the
    kind the request names (else ``value_kind``, the kind shown); None for other messages.
    ``n_queries`` is how many query tokens the view shows (the range of a focus token).

    Example:
        >>> import numpy as np
        >>> from attnwidgets.widgets.view_data import load_view_data
        >>> shown = load_view_data(np.eye(4)[None, None], list("abcd"))
        >>> focus = {"type": "request_focus", "id": "f", "token": 1, "width": 4}
        >>> reply, buffers = answer_request(focus, shown, 4)
        >>> reply["type"], reply["shape"], list(buffers[0][4:8])  # row of token 1
        ('focus', [2, 1, 4], [0, 255, 0, 0])
    """
    request = content.get("type")
    if request == "request_tile":
        return tile_reply(content, loaded, value_kind)
    if request == "request_focus":
        return focus_reply(content, loaded, n_queries, value_kind)
    if request == "request_layer":
        return layer_reply(content, loaded, value_kind)
    return None


def error_reply(request_id: Any, message: str) -> Reply:
    """``{"type": "error", "id", "message"}`` without buffers.

    Example:
        >>> error_reply(3, "layer 9 out of range 0..1")
        ({'type': 'error', 'id': 3, 'message': 'layer 9 out of range 0..1'}, None)
    """
    return {"type": "error", "id": request_id, "message": message}, None


def shown_record(
    loaded: ViewData, requested: Any = None, value_kind: str | None = None
) -> tuple[str, AttentionRecord]:
    """The kind and record to draw from: ``requested`` when ``loaded`` holds it, else
    ``value_kind``, else the attention's own kind.

    Example:
        >>> import numpy as np
        >>> from attnwidgets.widgets.view_data import load_view_data
        >>> shown = load_view_data(np.ones((1, 1, 2, 2)) / 2, ["a", "b"])
        >>> shown_record(shown, "scores", "probability")[0]  # no scores here
        'probability'
    """
    records = loaded.records
    name = requested if isinstance(requested, str) and requested in records else value_kind
    if name not in records:
        name = loaded.record.kind
    return name, records[name]


def layer_reply(content: dict[str, Any], loaded: ViewData, value_kind: str | None = None) -> Reply:
    """One whole layer, uint8-encoded (``request_layer``: the browser's cache misses it)."""
    request_id = content.get("id")
    layer = content.get("layer")
    record = loaded.record
    if not isinstance(layer, int) or not 0 <= layer < len(record):
        return error_reply(request_id, f"layer {layer!r} out of range 0..{len(record) - 1}")
    kind, shown = shown_record(loaded, content.get("kind"), value_kind)
    block = encode_block(shown[layer])
    reply = {"type": "layer", "id": request_id, "layer": layer, "kind": kind, **block.meta()}
    return reply, [block.data]


def tile_reply(content: dict[str, Any], loaded: ViewData, value_kind: str | None = None) -> Reply:
    """A region of one head max-pooled to the pixels shown (``request_tile``, tiles mode)."""
    try:
        request = TileRequest.parse(content, loaded.record.shape)
    except ValueError as error:
        return error_reply(content.get("id"), str(error))
    kind, record = shown_record(loaded, content.get("kind"), value_kind)
    meta, data = make_tile(record.head(request.layer, request.head), request, kind)
    return {**meta, "id": content.get("id")}, [data]


def focus_reply(
    content: dict[str, Any], loaded: ViewData, n_queries: int, value_kind: str | None = None
) -> Reply:
    """One token's query row and key column in every layer x head (``request_focus``)."""
    token, width = content.get("token"), content.get("width")
    if not isinstance(token, int) or not 0 <= token < n_queries:
        message = f"focus token {token!r} out of range 0..{n_queries - 1}"
        return error_reply(content.get("id"), message)
    if not isinstance(width, int) or width < 1:
        width = n_queries
    kind, record = shown_record(loaded, content.get("kind"), value_kind)
    meta, data = token_focus(record, token, min(width, 4096), kind)
    return {**meta, "id": content.get("id")}, [data]
