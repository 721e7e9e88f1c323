"""Connect the page's fake anywidget model to a REAL AttentionView in this process, both ways,
through the widget's own comm protocol (no Jupyter):

- kernel -> page: ``view._send`` (what ipywidgets calls for every state update and custom
  message) is replaced; an update sets all its keys at once and then fires the change events,
  as Backbone does; a custom message goes to ``msg:custom``.
- page -> kernel: ``pump()`` hands the page's messages to the view's handler and applies the
  traits the page saved (``model.set`` + ``save_changes``) with ``view.set_state``.

Each push is awaited in the page, so a test sees what the page drew after every kernel update
(e.g. every generation step).
"""

from __future__ import annotations

import base64
from typing import Any

from ipywidgets.widgets.widget import _remove_buffers

# Apply a kernel update the way Backbone does: set every key, then fire the change events.
APPLY = """async ([state, buffers]) => {
  const model = window.model;
  const decode = (b64) => {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new DataView(bytes.buffer);
  };
  for (const [key, b64] of buffers) state[key] = decode(b64);
  const changed = Object.keys(state).filter((k) => model.state[k] !== state[k]);
  Object.assign(model.state, state);
  for (const key of changed) model.trigger(`change:${key}`, state[key]);
  await new Promise((resolve) => setTimeout(resolve, 0));
}"""

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
        state = view.get_state()
        state, paths, buffers = _remove_buffers(state)
        for path, buffer in zip(paths, buffers, strict=True):
            state[f"{path[0]}_b64"] = b64(buffer)
        chunk = state.pop("chunk_b64", b64(b""))
        bytes_traits = {k[:-4]: v for k, v in state.items() if k.endswith("_b64")}
        for key in bytes_traits:
            del state[f"{key}_b64"]
        state = {k: v for k, v in state.items() if not k.startswith("_")}
        page.evaluate(
            "([s, o]) => harness.mount(s, o)", [{**state, "chunk_b64": chunk}, {"width": width}]
        )
        if bytes_traits:
            page.evaluate(APPLY, [{}, list(bytes_traits.items())])
        page.evaluate(WATCH_SAVES)
        view._send = self._from_kernel

    def _from_kernel(self, msg: dict[str, Any], buffers: list[Any] | None = None) -> None:
        buffers = buffers or []
        if msg.get("method") == "update":
            state = dict(msg["state"])
            paths = msg.get("buffer_paths", [])
            pairs = [[path[0], b64(buf)] for path, buf in zip(paths, buffers, strict=True)]
            self.updates.append({**state, **{key: "<bytes>" for key, _ in pairs}})
            self.page.evaluate(APPLY, [state, pairs])
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
