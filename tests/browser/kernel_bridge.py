"""Connect the page's fake anywidget model to a REAL AttentionView in this process, both ways,
through the widget's own comm protocol (no Jupyter):

- kernel -> page: ``view._send`` (what ipywidgets calls for every state update and custom
  message) is replaced; an update (binary values as buffers at their paths, as ipywidgets
  sends them) sets all its keys at once and then fires the change events, as Backbone does;
  a custom message goes to ``msg:custom``.
- page -> kernel: ``pump()`` hands the page's messages to the view's handler and applies the
  traits the page saved (``model.set`` + ``save_changes``) with ``view.set_state``.

Each push is awaited in the page, so a test sees what the page drew after every kernel update
(e.g. every generation step).
"""

from __future__ import annotations

import base64
from typing import Any

from page_server import wire

# Record the keys the page saves (model.set + save_changes), as anywidget would send them.
WATCH_SAVES = """() => {
  const model = window.model;
  model.dirty = new Set();
  model.saves = [];
  const set = model.set.bind(model);
  model.set = (key, value) => { model.dirty.add(key); set(key, value); };
  model.save_changes = () => {
    model.saved += 1;
    const out = {};
    for (const key of model.dirty) out[key] = model.state[key];
    model.dirty.clear();
    model.saves.push(out);
  };
}"""


def b64(data: Any) -> str:
    return base64.b64encode(bytes(data)).decode()


class KernelBridge:
    """The page's model and ``view`` kept in sync, as a kernel and JupyterLab would."""

    def __init__(self, page: Any, view: Any, width: int = 700) -> None:
        self.page = page
        self.view = view
        self.updates: list[dict[str, Any]] = []  # every state update the kernel sent
        page.evaluate("([w, o]) => harness.mount(w, o)", [wire(view), {"width": width}])
        page.evaluate(WATCH_SAVES)
        view._send = self._from_kernel

    def _from_kernel(self, msg: dict[str, Any], buffers: list[Any] | None = None) -> None:
        buffers = buffers or []
        if msg.get("method") == "update":
            state = dict(msg["state"])
            paths = msg.get("buffer_paths", [])
            pairs = [[path, b64(buf)] for path, buf in zip(paths, buffers, strict=True)]
            self.updates.append({**state, "buffer_paths": [path for path, _ in pairs]})
            self.page.evaluate("(w) => harness.apply(w)", {"state": state, "buffers": pairs})
        elif msg.get("method") == "custom":
            data = b64(buffers[0]) if buffers else None
            self.page.evaluate("([m, b]) => harness.reply(m, b)", [msg["content"], data])

    def pump(self, rounds: int = 20) -> None:
        """Hand everything the page sent or saved to the kernel, until it is quiet."""
        for _ in range(rounds):
            saves = self.page.evaluate("window.model.saves.splice(0)")
            sent = self.page.evaluate("window.model.sent.splice(0)")
            if not saves and not sent:
                return
            for state in saves:
                self.view.set_state(state)
            for content in sent:
                self.view._handle_custom_msg(content, [])
