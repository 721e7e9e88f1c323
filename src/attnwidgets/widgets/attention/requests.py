"""Replies to the data an AttentionView's browser side asks for by message (numpy only).

JS sends ``{"type": "request_layer" | "request_tile" | "request_focus", "id", ...}`` (see
docs/architecture.md); ``answer_request`` builds the reply and its buffers from the view's
``ViewData`` alone, or an ``{"type": "error", "id", "message"}`` naming the bad field and the
valid range. Messages come from the browser and are not trusted: every field is checked
(JSON ``true`` is no index, a kind must be one the view holds, a layer request must be one the
view advertised), and nothing in a message can make this module raise.

>>> import numpy as np
>>> from attnwidgets.widgets.attention.view_data import load_view_data
>>> shown = load_view_data(np.ones((2, 1, 3, 3)) / 3, ["a", "b", "c"])
>>> reply, buffers = answer_request({"type": "request_layer", "id": 7, "layer": 1}, shown, 3)
>>> reply["type"], reply["id"], reply["layer"], reply["shape"], len(buffers[0])
('layer', 7, 1, [1, 3, 3], 9)
>>> answer_request({"type": "request_layer", "id": 8, "layer": 5}, shown, 3)[0]["message"]
'layer 5 out of range 0..1'
"""

from __future__ import annotations

from typing import Any

from ...qk_records import QKRecord
from ...records import AttentionRecord
from ..arrays import message_parts
from .qk_tiles import qk_tiles
from .tiles import TileRequest, is_index, make_tile, short_repr, token_focus
from .transport import encode_block
from .view_data import ViewData

Reply = tuple[dict[str, Any], list[memoryview] | None]  # message content, binary buffers
REQUESTS = ("request_layer", "request_tile", "request_focus")
MAX_FOCUS_WIDTH = 4096


def answer_request(
    content: Any,
    loaded: ViewData,
    n_queries: int,
    value_kind: str | None = None,
    mode: str = "layers",
) -> Reply:
    """The reply to a ``request_layer`` / ``request_tile`` / ``request_focus`` message, of the
    kind the request names (else ``value_kind``, the kind shown), or an error reply for
    anything else. ``n_queries`` is how many query tokens the view shows (the range of a focus
    token); ``mode`` is the view's (``"tiles"`` views advertise no whole layers).

    Example:
        >>> import numpy as np
        >>> from attnwidgets.widgets.attention.view_data import load_view_data
        >>> shown = load_view_data(np.eye(4)[None, None], list("abcd"))
        >>> focus = {"type": "request_focus", "id": "f", "token": 1, "width": 4}
        >>> reply, buffers = answer_request(focus, shown, 4)
        >>> reply["type"], reply["shape"], list(buffers[0][4:8])  # row of token 1
        ('focus', [2, 1, 4], [0, 255, 0, 0])
        >>> answer_request({"type": "request_tile", "id": 2, "layer": True}, shown, 4)[0]
        {'type': 'error', 'id': 2, 'message': 'tile layer True out of range 0..0'}
    """
    if not isinstance(content, dict):
        what = type(content).__name__
        return error_reply(None, f"a message must be a JSON object with a 'type', not {what}")
    request = content.get("type")
    request_id = reply_id(content.get("id"))
    if request not in REQUESTS:
        return error_reply(
            request_id,
            f"unknown message type {short_repr(request)}; expected one of {list(REQUESTS)}",
        )
    kind = content.get("kind")
    if kind is not None and (not isinstance(kind, str) or kind not in loaded.records):
        return error_reply(
            request_id, f"kind {short_repr(kind)} is not one of {list(loaded.records)}"
        )
    if request == "request_tile":
        return tile_reply(content, loaded, value_kind)
    if request == "request_focus":
        return focus_reply(content, loaded, n_queries, value_kind)
    if mode != "layers":
        return error_reply(
            request_id,
            f"request_layer: this view is in {mode!r} mode and sends no whole layers "
            "(ask for tiles: request_tile)",
        )
    return layer_reply(content, loaded, value_kind)


def reply_id(value: Any) -> Any:
    """The request id a reply echoes: an int or a short string as sent, else None.

    Example:
        >>> reply_id(3), reply_id("tile-4"), reply_id({"a": 1}), reply_id(True)
        (3, 'tile-4', None, None)
    """
    if is_index(value) or (isinstance(value, str) and len(value) <= 200):
        return value
    return None


def error_reply(request_id: Any, message: str, *, retry: bool = False) -> Reply:
    """``{"type": "error", "id", "message"}`` without buffers; ``retry`` marks a request the
    kernel dropped unanswered (superseded, or too many queued): the browser may ask again.

    Example:
        >>> error_reply(3, "layer 9 out of range 0..1")
        ({'type': 'error', 'id': 3, 'message': 'layer 9 out of range 0..1'}, None)
    """
    content: dict[str, Any] = {"type": "error", "id": request_id, "message": message}
    if retry:
        content["retry"] = True
    return content, None


def shown_record(
    loaded: ViewData, requested: Any = None, value_kind: str | None = None
) -> tuple[str, AttentionRecord | QKRecord]:
    """The kind and record to draw from: ``requested`` when ``loaded`` holds it, else
    ``value_kind``, else the attention's own kind.

    Example:
        >>> import numpy as np
        >>> from attnwidgets.widgets.attention.view_data import load_view_data
        >>> shown = load_view_data(np.ones((1, 1, 2, 2)) / 2, ["a", "b"])
        >>> shown_record(shown, "scores", "probability")[0]  # no scores here
        'probability'
    """
    records = loaded.records
    name = requested if isinstance(requested, str) and requested in records else value_kind
    if name is None or name not in records:
        name = loaded.record.kind
    return name, records[name]


def layer_reply(content: dict[str, Any], loaded: ViewData, value_kind: str | None = None) -> Reply:
    """One whole layer, uint8-encoded (``request_layer``: the browser's cache misses it)."""
    request_id = reply_id(content.get("id"))
    layer = content.get("layer")
    record = loaded.record
    if not is_index(layer) or not 0 <= layer < len(record):
        return error_reply(
            request_id, f"layer {short_repr(layer)} out of range 0..{len(record) - 1}"
        )
    kind, shown = shown_record(loaded, content.get("kind"), value_kind)
    value = encode_block(shown[layer]).value(type="layer", id=request_id, layer=layer, kind=kind)
    return message_parts(value)


def tile_reply(content: dict[str, Any], loaded: ViewData, value_kind: str | None = None) -> Reply:
    """A region of one head max-pooled to the pixels shown (``request_tile``, tiles mode)."""
    request_id = reply_id(content.get("id"))
    try:
        request = TileRequest.parse(content, loaded.record.shape)
    except ValueError as error:
        return error_reply(request_id, str(error))
    kind, record = shown_record(loaded, content.get("kind"), value_kind)
    if isinstance(record, QKRecord):  # computed from Q and K
        return message_parts({**qk_tiles(record).tile(request, kind), "id": request_id})
    colour = loaded.tile_range(kind, request.layer, request.head)
    tile = make_tile(record.head(request.layer, request.head), request, kind, colour)
    return message_parts({**tile, "id": request_id})


def focus_reply(
    content: dict[str, Any], loaded: ViewData, n_queries: int, value_kind: str | None = None
) -> Reply:
    """One token's query row and key column in every layer x head (``request_focus``)."""
    request_id = reply_id(content.get("id"))
    token, width = content.get("token"), content.get("width", n_queries)
    if not is_index(token) or not 0 <= token < n_queries:
        message = f"focus token {short_repr(token)} out of range 0..{n_queries - 1}"
        return error_reply(request_id, message)
    if not is_index(width) or width < 1:
        return error_reply(
            request_id, f"focus width must be a whole number >= 1, not {short_repr(width)}"
        )
    kind, record = shown_record(loaded, content.get("kind"), value_kind)
    width = min(width, MAX_FOCUS_WIDTH)
    if isinstance(record, QKRecord):
        return message_parts({**qk_tiles(record).focus(token, width), "id": request_id})
    focus = token_focus(record, token, width, kind)
    return message_parts({**focus, "id": request_id})
