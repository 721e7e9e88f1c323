"""A fake-anywidget page for the norm bundles (norm_view.js, training_monitor_view.js).

The shared conftest serves only attention_view.js; this serves any built ``*_view.js`` and a
page whose ``harness.mount(bundle, state)`` decodes ``*_b64`` entries into DataView traits.
"""

from __future__ import annotations

import base64
from contextlib import AbstractContextManager
from typing import Any

from page_server import serve_page

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head>
<body style="margin: 20px; font-family: sans-serif">
<script type="module">
function viewOf(b64, pad = 5) {  // a DataView that does not start at byte 0, as traits can
  const bin = atob(b64);
  const buffer = new ArrayBuffer(bin.length + 2 * pad);
  const bytes = new Uint8Array(buffer, pad, bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new DataView(buffer, pad, bin.length);
}
class FakeModel {
  constructor(state) { this.state = { ...state }; this.listeners = new Map(); this.saved = 0; }
  get(key) { return this.state[key]; }
  set(key, value) {
    const old = this.state[key];
    this.state[key] = value;
    if (old !== value) this.trigger(`change:${key}`, value);
  }
  on(name, fn) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(fn);
  }
  off(name, fn) { this.listeners.get(name)?.delete(fn); }
  trigger(name, ...args) { for (const fn of [...(this.listeners.get(name) ?? [])]) fn(...args); }
  send() {}
  save_changes() { this.saved += 1; }
}
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
function decodeState(state) {
  const out = {};
  for (const [key, value] of Object.entries(state)) {
    if (key.endsWith("_b64")) out[key.slice(0, -4)] = viewOf(value);
    else out[key] = value;
  }
  return out;
}
window.harness = {
  async mount(bundle, state, width = 900) {
    const widget = (await import(`/${bundle}`)).default;
    const model = new FakeModel(decodeState(state));
    const el = document.createElement("div");
    el.style.width = `${width}px`;
    document.body.appendChild(el);
    window.model = model;
    window.cleanup = widget.render({ model, el });
    await tick();
  },
  async set(state) {
    for (const [k, v] of Object.entries(decodeState(state))) window.model.set(k, v);
    await tick();
  },
  // [input-coloured, output-coloured] opaque-pixel counts in the left and right halves.
  colours(selector) {
    const c = document.querySelector(selector);
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    const out = { left: [0, 0], right: [0, 0] };
    for (let y = 0; y < c.height; y++) {
      for (let x = 0; x < c.width; x++) {
        const i = 4 * (y * c.width + x);
        if (d[i + 3] < 100) continue;
        const half = x < c.width / 2 ? out.left : out.right;
        if (d[i + 2] > d[i] + 60) half[0] += 1;       // blue: input
        else if (d[i] > d[i + 2] + 60) half[1] += 1;  // orange (or red): output
      }
    }
    return out;
  },
  digest(selector) {
    const c = document.querySelector(selector);
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let h = 2166136261;
    for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i], 16777619);
    return (h >>> 0).toString(16);
  },
};
window.harnessReady = true;
</script></body></html>
"""


def widget_state(widget: Any, names: list[str]) -> dict[str, Any]:
    """Trait values for the page: bytes become ``<name>_b64``."""
    state: dict[str, Any] = {}
    for name in names:
        value = getattr(widget, name)
        if isinstance(value, (bytes, memoryview)):
            state[f"{name}_b64"] = base64.b64encode(bytes(value)).decode()
        else:
            state[name] = value
    return state


def serve() -> AbstractContextManager[str]:
    """The norm harness page and the built bundles on a local port."""
    return serve_page(PAGE)


def open_harness(browser: Any, url: str) -> Any:
    page = browser.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.goto(url)
    page.wait_for_function("window.harnessReady === true")
    return page
