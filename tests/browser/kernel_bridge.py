"""Connect a page's fake anywidget model (fake_model.js) to a REAL widget in this process, both
ways, through the widget's own comm protocol (no Jupyter):

- kernel -> page: ``widget._send`` (what ipywidgets calls for every state update and custom
  message) is replaced; an update (binary values as buffers at their paths, as ipywidgets
  sends them) sets all its keys at once and then fires the change events, as Backbone does;
  a custom message goes to ``msg:custom`` with its buffers.
- page -> kernel: ``pump()`` hands the page's messages to the widget's handler and applies the
  traits the page saved (``model.set`` + ``save_changes``, recorded by the fake model) with
  ``widget.set_state``.

Each push is awaited in the page, so a test sees what the page drew after every kernel update
(e.g. every generation step). A page may hold several widgets, each mounted under its own
``name`` (the element's id and ``window.models[name]``).
"""

from __future__ import annotations

import base64
from typing import Any

from page_server import wire


def b64(data: Any) -> str:
    return base64.b64encode(bytes(data)).decode()


class KernelBridge:
    """The page's model and ``view`` kept in sync, as a kernel and JupyterLab would.

    ``bundle``: the built ``*_view.js`` to mount (default: the page's own); ``name``: mount
    it in its own element (#name), beside the page's other widgets; ``settle``: JavaScript
    awaited after each round of ``pump`` (e.g. ``"harness.frames()"`` for views that draw in
    an animation frame)."""

    def __init__(
        self,
        page: Any,
        view: Any,
        width: int = 700,
        *,
        bundle: str | None = None,
        name: str | None = None,
        settle: str | None = None,
    ) -> None:
        self.page = page
        self.view = view
        self.name = name
        self.settle = settle
        self.updates: list[dict[str, Any]] = []  # every state update the kernel sent
        self.replies: list[dict[str, Any]] = []  # every custom message the kernel sent
        options: dict[str, Any] = {"width": width}
        if bundle is not None:
            options["bundle"] = bundle
        if name is not None:
            options["id"] = name
        page.evaluate("([w, o]) => harness.mount(w, o)", [wire(view), options])
        view._send = self._from_kernel

    def _from_kernel(self, msg: dict[str, Any], buffers: list[Any] | None = None) -> None:
        buffers = buffers or []
        if msg.get("method") == "update":
            state = dict(msg["state"])
            paths = msg.get("buffer_paths", [])
            pairs = [[path, b64(buf)] for path, buf in zip(paths, buffers, strict=True)]
            self.updates.append({**state, "buffer_paths": [path for path, _ in pairs]})
            self.page.evaluate(
                "([w, n]) => harness.apply(w, n)",
                [{"state": state, "buffers": pairs}, self.name],
            )
        elif msg.get("method") == "custom":
            self.replies.append(msg["content"])
            data = [b64(buf) for buf in buffers]
            self.page.evaluate(
                "([m, b, n]) => harness.reply(m, b, n)", [msg["content"], data, self.name]
            )

    def step(self) -> bool:
        """Hand one round of what the page saved and sent to the widget; False when quiet."""
        taken = self.page.evaluate("(n) => harness.take(n)", self.name)
        for state in taken["saves"]:
            self.view.set_state(state)
        for content in taken["sent"]:
            self.view._handle_custom_msg(content, [])
        busy = bool(taken["saves"] or taken["sent"])
        if busy and self.settle:
            self.page.evaluate(self.settle)
        return busy

    def pump(self, rounds: int = 20) -> None:
        """Hand everything the page sent or saved to the kernel, until it is quiet."""
        for _ in range(rounds):
            if not self.step():
                return
