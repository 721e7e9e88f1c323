"""A page that mounts built bundles (tokenizer_view.js, attention_view.js) side by side, each
on a fake anywidget model connected both ways to a REAL widget in this process, and that can
tie two traits together in the page as ``ipywidgets.jslink`` does (``link``).

- kernel -> page: each widget's ``_send`` (state updates, custom messages) is replaced;
  buffers are put back at their nested paths as DataViews, as the widget manager does; an
  update sets every key first, then fires the change events.
- page -> kernel: ``pump()`` applies what each page model saved (``set_state``) and hands the
  messages it sent to the widget's handler, until every side is quiet.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ipywidgets.widgets.widget import _remove_buffers
from page_server import serve_page
from PIL import Image

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
window.models = {};
window.cleanups = {};
window.harness = {
  async mount(name, bundle, state, buffers, width) {
    const widget = (await import(`/${bundle}`)).default;
    const model = new FakeModel(putBuffers(state, buffers));
    window.models[name] = model;
    const el = document.createElement("div");
    el.id = `host-${name}`;
    el.style.width = `${width}px`;
    el.style.marginBottom = "16px";
    document.body.appendChild(el);
    window.renderStarted = performance.now(); // for benchmarks/tokenizer_view.py
    window.cleanups[name] = widget.render({ model, el });
    await frames();
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
  // ipywidgets.jslink: a change on either side is set on the other (and saved there).
  link(a, b, trait) {
    const tie = (from, to) => from.on(`change:${trait}`, (value) => {
      if (to.get(trait) !== value) { to.set(trait, value); to.save_changes(); }
    });
    tie(window.models[a], window.models[b]);
    tie(window.models[b], window.models[a]);
  },
  frames,
};
window.harnessReady = true;
</script>
</body></html>
"""


def b64(data: Any) -> str:
    return base64.b64encode(bytes(data)).decode()


@contextmanager
def tokens_server() -> Iterator[str]:
    with serve_page(PAGE) as url:
        yield url


class Bridge:
    """One page model (``name``) and a real widget kept in sync, as a kernel would."""

    def __init__(self, page: Any, view: Any, bundle: str, name: str, width: int = 900) -> None:
        self.page, self.view, self.name = page, view, name
        self.replies: list[dict[str, Any]] = []
        state = {k: v for k, v in view.get_state().items() if not k.startswith("_")}
        state, paths, buffers = _remove_buffers(state)
        pairs = [[list(p), b64(buf)] for p, buf in zip(paths, buffers, strict=True)]
        page.evaluate(
            "([n, b, s, p, w]) => harness.mount(n, b, s, p, w)", [name, bundle, state, pairs, width]
        )
        view._send = self._from_kernel

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

    def pump(self, rounds: int = 30) -> None:
        """Hand what the page saved and sent to the widget, until both sides are quiet."""
        for _ in range(rounds):
            saves = self.page.evaluate("(n) => window.models[n].saves.splice(0)", self.name)
            sent = self.page.evaluate("(n) => window.models[n].sent.splice(0)", self.name)
            if not saves and not sent:
                return
            for state in saves:
                self.view.set_state(state)
            for content in sent:
                self.view._handle_custom_msg(content, [])

    def get(self, trait: str) -> Any:
        return self.page.evaluate("([n, t]) => window.models[n].get(t)", [self.name, trait])


def pixel(page: Any, x: float, y: float) -> tuple[int, int, int]:
    """RGB of the page's pixel at (x, y), CSS px in the viewport (a screenshot of it)."""
    shot = page.screenshot(clip={"x": int(x), "y": int(y), "width": 1, "height": 1})
    return Image.open(io.BytesIO(shot)).convert("RGB").getpixel((0, 0))


def span_box(page: Any, selector: str) -> dict[str, float]:
    """The bounding box of the first element matching ``selector``, in the viewport."""
    return page.evaluate(
        "(s) => { const r = document.querySelector(s).getBoundingClientRect();"
        " return {x: r.x, y: r.y, width: r.width, height: r.height}; }",
        selector,
    )


def ready(page: Any, host: str) -> None:
    """Wait until the TokenizerView mounted as ``host`` has drawn its text."""
    page.wait_for_function(
        f"document.querySelector('#host-{host} .attnwidgets-tokens')?.dataset.state === 'ready'"
    )
