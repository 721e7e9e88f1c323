"""Back-pressure for the data requests of one view: the newest request per slot wins.

A browser can ask faster than the kernel answers (a zoom with the wheel sends a tile request
per notch; a page stuck in a loop sends thousands). The handler only queues a request and
schedules one drain; the drain answers what is queued then. Until the drain runs:

- a newer request for the same slot (``slot``: a tile of the same layer, head, kind and pixel
  size; the token focus; the layer shown) replaces the queued one, which is answered at once
  with ``{"type": "error", "id", "message": "superseded ...", "retry": true}``;
- at most ``limit`` requests wait; one more is answered ``"busy: dropped ..."`` (``retry``).

When the handler runs inside an asyncio task (a Jupyter kernel dispatches each message in one)
the drain runs ``COALESCE_SECONDS`` later on that loop, so a burst of messages that arrives
meanwhile costs one answer per slot. Outside a task (plain Python, tests; also Playwright's
sync API, whose loop is "running" but idle while a test's own code runs) each request is
answered before ``submit`` returns.

Example:
    >>> sent = []
    >>> queue = RequestQueue(lambda c: ({"type": "ok", "id": c["id"]}, None), sent.append)
    >>> queue.submit({"type": "request_focus", "id": 1})  # no event loop: answered now
    >>> sent, queue.answered
    ([({'type': 'ok', 'id': 1}, None)], 1)
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from .requests import Reply, error_reply, reply_id

MAX_QUEUED = 64
COALESCE_SECONDS = 0.01


def slot(content: Any) -> Hashable:
    """Which picture a request is for: a newer request of the same slot makes it stale.

    Example:
        >>> a = {"type": "request_tile", "layer": 0, "head": 1, "rows": [0, 9], "pixels": [5, 5]}
        >>> slot(a) == slot({**a, "rows": [2, 7]}), slot(a) == slot({**a, "head": 2})
        (True, False)
    """
    if not isinstance(content, dict):
        return ("invalid", id(content))
    kind = content.get("type")
    if kind == "request_tile":
        fields = ("layer", "head", "kind", "pixels")
        return (kind, *(_hashable(content.get(name)) for name in fields))
    if kind in ("request_focus", "request_layer"):
        return (kind,)
    return ("other", id(content))  # never merged: answered (an error) in its turn


def _hashable(value: Any) -> Hashable:
    if value is None or isinstance(value, (bool, int, float, str)):
        return (type(value).__name__, value)
    return repr(value)[:200]


def defer_on_loop(drain: Callable[[], None]) -> None:
    """Run ``drain`` ``COALESCE_SECONDS`` later on this thread's asyncio loop when called from
    a task of it (a kernel handling a message), else now."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None or asyncio.current_task(loop) is None:
        drain()
        return
    loop.call_later(COALESCE_SECONDS, drain)


class RequestQueue:
    """Requests waiting for an answer, at most one per ``slot``; ``answer(content)`` builds a
    reply, ``send(reply)`` sends it. ``answered`` counts the requests answered (not dropped)."""

    def __init__(
        self,
        answer: Callable[[Any], Reply],
        send: Callable[[Reply], None],
        *,
        limit: int = MAX_QUEUED,
        defer: Callable[[Callable[[], None]], None] = defer_on_loop,
    ) -> None:
        self.answer = answer
        self.send = send
        self.limit = limit
        self.defer = defer
        self.answered = 0
        self.dropped = 0
        self._waiting: OrderedDict[Hashable, Any] = OrderedDict()
        self._scheduled = False
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._waiting)

    def submit(self, content: Any) -> None:
        """Queue ``content`` (replacing a stale request of its slot) and schedule a drain."""
        key = slot(content)
        dropped: list[tuple[Any, str]] = []
        with self._lock:
            stale = self._waiting.pop(key, None)
            if stale is not None:
                dropped.append((stale, "superseded by a newer request"))
            if len(self._waiting) >= self.limit:
                dropped.append((content, f"busy: dropped ({self.limit} requests already queued)"))
            else:
                self._waiting[key] = content
            start = not self._scheduled and bool(self._waiting)
            self._scheduled = self._scheduled or start
        for request, why in dropped:
            self.dropped += 1
            request_id = reply_id(request.get("id")) if isinstance(request, dict) else None
            self._send(error_reply(request_id, why, retry=True))
        if start:
            self.defer(self.drain)

    def drain(self) -> None:
        """Answer every queued request, oldest slot first."""
        try:
            while True:
                with self._lock:
                    if not self._waiting:
                        return
                    _, content = self._waiting.popitem(last=False)
                try:
                    reply = self.answer(content)
                except Exception as error:  # a bug must not stop the queue nor reach the kernel
                    request_id = reply_id(content.get("id")) if isinstance(content, dict) else None
                    reply = error_reply(request_id, f"{type(error).__name__}: {error}")
                self.answered += 1
                self._send(reply)
        finally:  # also when send raised: the next submit schedules a drain again
            with self._lock:
                self._scheduled = False

    def clear(self) -> None:
        """Forget what waits (the view is closing): nothing more is sent."""
        with self._lock:
            self._waiting.clear()

    def _send(self, reply: Reply) -> None:
        self.send(reply)
