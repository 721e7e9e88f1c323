"""A page that mounts a built vision bundle (image_attention_view.js, patching_view.js) on a fake
anywidget model, connected both ways to a REAL widget in this process:

- kernel -> page: the view's ``_send`` (every state update and custom message) is replaced;
  buffers are put back at their nested paths (``["image", "value"]``) as DataViews, as the
  widget manager does; an update sets every key first, then fires the change events.
- page -> kernel: ``pump()`` applies what the page saved (``set_state``) and hands the messages
  it sent to the widget's handler, until both sides are quiet.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ipywidgets.widgets.widget import _remove_buffers
from page_server import serve_page

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
  listenerCount() { let n = 0; for (const s of this.listeners.values()) n += s.size; return n; }
}
const frames = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
window.harness = {
  async mount(bundle, state, buffers, width) {
    const widget = (await import(`/${bundle}`)).default;
    window.model = new FakeModel(putBuffers(state, buffers));
    const el = document.createElement("div");
    el.id = "host";
    el.style.width = `${width}px`;
    document.body.replaceChildren(el);
    window.cleanup = widget.render({ model: window.model, el });
    await frames();
  },
  async update(state, buffers) {
    putBuffers(state, buffers);
    const model = window.model;
    const changed = Object.keys(state).filter((k) => model.state[k] !== state[k]);
    Object.assign(model.state, state);
    for (const key of changed) model.trigger(`change:${key}`, state[key]);
    await frames();
  },
  async reply(msg, buffers) {
    window.model.trigger("msg:custom", msg, buffers.map((b) => viewOf(b)));
    await frames();
  },
  frames,
  // RGBA of one backing-store pixel of the first canvas matching selector.
  pixel(selector, x, y) {
    const c = document.querySelector(selector);
    return Array.from(c.getContext("2d").getImageData(x, y, 1, 1).data);
  },
  // Every pixel of a canvas as [r, g, b] triples, with its size: for whole-image checks.
  pixels(selector) {
    const c = document.querySelector(selector);
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    const rgb = [];
    for (let i = 0; i < d.length; i += 4) rgb.push(d[i], d[i + 1], d[i + 2]);
    return { width: c.width, height: c.height, rgb };
  },
};
window.harnessReady = true;
</script>
</body></html>
"""


def b64(data: Any) -> str:
    return base64.b64encode(bytes(data)).decode()


@contextmanager
def vision_server() -> Iterator[str]:
    with serve_page(PAGE) as url:
        yield url


class VisionBridge:
    """The page's fake model and a real widget kept in sync, as a kernel would."""

    def __init__(self, page: Any, view: Any, bundle: str, width: int = 1000) -> None:
        self.page, self.view = page, view
        self.replies: list[dict[str, Any]] = []
        state = {k: v for k, v in view.get_state().items() if not k.startswith("_")}
        state, paths, buffers = _remove_buffers(state)
        pairs = [[list(p), b64(buf)] for p, buf in zip(paths, buffers, strict=True)]
        page.evaluate("([b, s, p, w]) => harness.mount(b, s, p, w)", [bundle, state, pairs, width])
        view._send = self._from_kernel

    def _from_kernel(self, msg: dict[str, Any], buffers: list[Any] | None = None) -> None:
        buffers = buffers or []
        if msg.get("method") == "update":
            paths = msg.get("buffer_paths", [])
            pairs = [[list(p), b64(buf)] for p, buf in zip(paths, buffers, strict=True)]
            self.page.evaluate("([s, p]) => harness.update(s, p)", [msg["state"], pairs])
        elif msg.get("method") == "custom":
            self.replies.append(msg["content"])
            data = [b64(buf) for buf in buffers]
            self.page.evaluate("([m, b]) => harness.reply(m, b)", [msg["content"], data])

    def pump(self, rounds: int = 30) -> None:
        """Hand what the page saved and sent to the widget, until both sides are quiet."""
        for _ in range(rounds):
            saves = self.page.evaluate("window.model.saves.splice(0)")
            sent = self.page.evaluate("window.model.sent.splice(0)")
            if not saves and not sent:
                return
            for state in saves:
                self.view.set_state(state)
            for content in sent:
                self.view._handle_custom_msg(content, [])
            self.page.evaluate("harness.frames()")
