"""A page that mounts a built vision bundle (image_attention_view.js, patching_view.js) on the
fake anywidget model of fake_model.js, connected both ways to a REAL widget in this process
(``kernel_bridge.KernelBridge``); each kernel update or reply is followed by an animation
frame, as the views draw in one. ``harness.pixel`` / ``harness.pixels`` read a canvas back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kernel_bridge import KernelBridge
from page_server import serve_page

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head>
<body style="margin: 0; padding: 10px; font-family: sans-serif">
<script type="module">
import { createHarness } from "/fake_model.js";

window.harness = {
  ...createHarness({ tick: "frame", width: 1000, replace: true }),
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


@contextmanager
def vision_server() -> Iterator[str]:
    with serve_page(PAGE) as url:
        yield url


class VisionBridge(KernelBridge):
    """The page's fake model and a real vision widget kept in sync, as a kernel would."""

    def __init__(self, page: Any, view: Any, bundle: str, width: int = 1000) -> None:
        super().__init__(page, view, width, bundle=bundle, settle="harness.frames()")

    def pump(self, rounds: int = 30) -> None:
        super().pump(rounds)
