"""Recorded replies: what a kernel would answer to the requests an exported page will make.

Some views ask the kernel for data by message (an image view's other layers). A page has no
kernel, so ``save_html`` asks the widget's own request handler before writing the page and
records each reply under its request (without the id); ``replay.js`` answers the page's
requests from that table. Requests nobody recorded stay unanswered, as in any exported page.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

Reply = tuple[dict[str, Any], list[Any]]


def request_key(content: dict[str, Any]) -> str:
    """A request's key: its JSON without ``id``, keys sorted, compact (``replay.js`` computes
    the same in the page).

    Example:
        >>> request_key({"type": "request_layer", "layer": 3, "id": 17})
        '{"layer":3,"type":"request_layer"}'
    """
    rest = {key: value for key, value in content.items() if key != "id"}
    return json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_replies(
    answer: Callable[[dict[str, Any]], Reply], requests: Iterable[dict[str, Any]]
) -> tuple[dict[str, Any], int]:
    """``{key: {"content", "buffers"}}`` for each request ``answer`` answers without an error,
    and the bytes of their buffers.

    Example:
        >>> table, size = record_replies(lambda r: ({"type": "ok", "id": r["id"]}, [b"ab"]),
        ...                              [{"type": "ask", "id": 1}])
        >>> table, size
        ({'{"type":"ask"}': {'content': {'type': 'ok'}, 'buffers': ['YWI=']}}, 2)
    """
    table: dict[str, Any] = {}
    size = 0
    for request in requests:
        content, buffers = answer(request)
        if content.get("type") == "error":
            continue
        data = [bytes(buffer) for buffer in buffers]
        size += sum(len(item) for item in data)
        table[request_key(request)] = {
            "content": {key: value for key, value in content.items() if key != "id"},
            "buffers": [base64.b64encode(item).decode("ascii") for item in data],
        }
    return table, size


@functools.cache
def replay_js() -> str:
    """The page's script that answers requests from the recorded table."""
    return (Path(__file__).with_name("replay.js")).read_text(encoding="utf-8")
