"""A page that mounts several built bundles side by side, each on its own fake anywidget model,
each connected both ways to a REAL widget in this process (as a kernel and JupyterLab would):
the PredictionGridView's bundle, and, once a click made the kernel open it, the
ImageAttentionView shown below the grid.

- kernel -> page: each widget's ``_send`` (state updates and custom messages) is replaced;
  buffers are put back at their nested paths as DataViews; an update sets every key first,
  then fires the change events.
- page -> kernel: ``pump()`` applies what each page model saved (``set_state``) and hands the
  messages it sent to the widget's handler, until every side is quiet; a new attention view
  the grid opened is mounted on the way.
"""

from __future__ import annotations

import base64
from typing import Any

from ipywidgets.widgets.widget import _remove_buffers

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head>
<body style="margin: 0; padding: 10px; font-family: sans-serif">
<script type="module">
function viewOf(b64, pad = 3) {  // a DataView that does not start at byte 0
  const bin = atob(b64);
  const buffer = new ArrayBuffer(bin.length + 2 * pad);
  const bytes = new Uint8Array(buffer, pad, bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new DataView(buffer, pad, bin.length);
}
function putBuffers(state, buffers) {
  for (const [path, b64] of buffers) {
    let obj = state;
    for (const key of path.slice(0, -1)) obj = obj[key];
    obj[path[path.length - 1]] = viewOf(b64);
  }
  return state;
}
class FakeModel {
  constructor(state) {
    this.state = { ...state }; this.listeners = new Map(); this.sent = []; this.saves = [];
    this.dirty = new Set();
  }
  get(key) { return this.state[key]; }
  set(key, value) {
    const old = this.state[key];
    this.state[key] = value;
    this.dirty.add(key);
    if (old !== value) this.trigger(`change:${key}`, value);
  }
  on(name, fn) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(fn);
  }
  off(name, fn) { this.listeners.get(name)?.delete(fn); }
  trigger(name, ...args) { for (const fn of [...(this.listeners.get(name) ?? [])]) fn(...args); }
  send(content) { this.sent.push(structuredClone(content)); }
  save_changes() {
    const out = {};
    for (const key of this.dirty) out[key] = this.state[key];
    this.dirty.clear();
    this.saves.push(out);
  }
}
const frames = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
window.models = {};
window.harness = {
  async mount(name, bundle, state, buffers, width) {
    const widget = (await import(`/${bundle}`)).default;
    const model = new FakeModel(putBuffers(state, buffers));
    window.models[name] = model;
    let el = document.getElementById(name);
    if (el) el.replaceChildren();
    else {
      el = document.createElement("div");
      el.id = name;
      document.body.appendChild(el);
    }
    el.style.width = `${width}px`;
    const started = performance.now();
    widget.render({ model, el });
    await frames();
    return performance.now() - started;
  },
  async update(name, state, buffers) {
    putBuffers(state, buffers);
    const model = window.models[name];
    const changed = Object.keys(state).filter((k) => model.state[k] !== state[k]);
    Object.assign(model.state, state);
    for (const key of changed) model.trigger(`change:${key}`, state[key]);
    await frames();
  },
  async reply(name, msg, buffers) {
    window.models[name].trigger("msg:custom", msg, buffers.map((b) => viewOf(b)));
    await frames();
  },
  take(name) {
    const model = window.models[name];
    return { saves: model.saves.splice(0), sent: model.sent.splice(0) };
  },
  frames,
  // Every pixel of a canvas as [r, g, b, a] quadruples, with its size.
  rgba(element) {
    const d = element.getContext("2d").getImageData(0, 0, element.width, element.height).data;
    return { width: element.width, height: element.height, rgba: Array.from(d) };
  },
};
window.harnessReady = true;
</script>
</body></html>
"""


def b64(data: Any) -> str:
    return base64.b64encode(bytes(data)).decode()


class Mounted:
    """One widget mounted in the page under ``name``, kept in sync with the page's model."""

    def __init__(self, page: Any, widget: Any, name: str, bundle: str, width: int) -> None:
        self.page, self.widget, self.name = page, widget, name
        self.replies: list[dict[str, Any]] = []
        state = {k: v for k, v in widget.get_state().items() if not k.startswith("_")}
        state, paths, buffers = _remove_buffers(state)
        pairs = [[list(p), b64(buf)] for p, buf in zip(paths, buffers, strict=True)]
        self.render_ms = page.evaluate(
            "([n, b, s, p, w]) => harness.mount(n, b, s, p, w)", [name, bundle, state, pairs, width]
        )
        widget._send = self._from_kernel

    def _from_kernel(self, msg: dict[str, Any], buffers: list[Any] | None = None) -> None:
        buffers = buffers or []
        if msg.get("method") == "update":
            paths = msg.get("buffer_paths", [])
            pairs = [[list(p), b64(buf)] for p, buf in zip(paths, buffers, strict=True)]
            self.page.evaluate(
                "([n, s, p]) => harness.update(n, s, p)", [self.name, msg["state"], pairs]
            )
        elif msg.get("method") == "custom":
            self.replies.append(msg["content"])
            data = [b64(buf) for buf in buffers]
            self.page.evaluate(
                "([n, m, b]) => harness.reply(n, m, b)", [self.name, msg["content"], data]
            )

    def step(self) -> bool:
        """Hand one round of what the page saved and sent to the widget; False when quiet."""
        taken = self.page.evaluate("(n) => harness.take(n)", self.name)
        for state in taken["saves"]:
            self.widget.set_state(state)
        for content in taken["sent"]:
            self.widget._handle_custom_msg(content, [])
        return bool(taken["saves"] or taken["sent"])


class GridBridge:
    """An ``aw.PredictionGrid``'s grid mounted as "grid", and the attention view it opens
    mounted as "attention" (re-mounted when another image is opened)."""

    def __init__(self, page: Any, grid: Any, width: int = 1100) -> None:
        self.page, self.grid = page, grid
        view = getattr(grid, "grid", grid)
        self.mounted = {"grid": Mounted(page, view, "grid", "prediction_grid_view.js", width)}
        self._attention: Any = None

    def pump(self, rounds: int = 30) -> None:
        for _ in range(rounds):
            busy = [m.step() for m in list(self.mounted.values())]
            opened = getattr(self.grid, "attention", None)
            if opened is not None and opened is not self._attention:
                self._attention = opened
                self.mounted["attention"] = Mounted(
                    self.page, opened, "attention", "image_attention_view.js", 1000
                )
                busy.append(True)
            self.page.evaluate("harness.frames()")
            if not any(busy):
                return
