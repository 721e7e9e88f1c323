"""A fake-anywidget page for the norm bundles (norm_view.js, training_monitor_view.js).

The shared conftest serves attention_view.js; this page mounts any built ``*_view.js``
(``harness.mount(wire(widget), {bundle})``, fake_model.js) and measures its canvases.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from page_server import serve_page, wire

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head>
<body style="margin: 20px; font-family: sans-serif">
<script type="module">
import { createHarness } from "/fake_model.js";

window.harness = {
  ...createHarness({ bundle: "norm_view.js", tick: "timeout", width: 900 }),
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
    """The traits ``names`` of ``widget`` as ipywidgets sends them (``page_server.wire``)."""
    state = widget.get_state()
    return wire({name: state[name] for name in names})


def mount(page: Any, widget: Any, names: list[str], bundle: str, width: int = 900) -> None:
    """Mount ``bundle`` on the traits ``names`` of ``widget``."""
    options = {"bundle": bundle, "width": width}
    page.evaluate("([w, o]) => harness.mount(w, o)", [widget_state(widget, names), options])


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
