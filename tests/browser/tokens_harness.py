"""A page that mounts built bundles (tokenizer_view.js, attention_view.js) side by side, each
on its own fake anywidget model (fake_model.js, ``window.models[name]``) in its own element
(#name), connected both ways to a REAL widget in this process (``kernel_bridge.KernelBridge``),
with an animation frame after each kernel update or reply (the text view draws in one); and
``harness.link(a, b, trait)``, which ties two widgets' trait in the page as
``ipywidgets.jslink`` does.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kernel_bridge import KernelBridge
from page_server import serve_page
from PIL import Image

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head>
<body style="margin: 0; padding: 10px; font-family: sans-serif">
<script type="module">
import { createHarness } from "/fake_model.js";

window.harness = {
  ...createHarness({ tick: "frame", width: 900 }),
  // ipywidgets.jslink: a change on either side is set on the other (and saved there).
  link(a, b, trait) {
    const tie = (from, to) =>
      from.on(`change:${trait}`, (value) => {
        if (to.get(trait) !== value) {
          to.set(trait, value);
          to.save_changes();
        }
      });
    tie(window.models[a], window.models[b]);
    tie(window.models[b], window.models[a]);
  },
};
window.harnessReady = true;
</script>
</body></html>
"""


@contextmanager
def tokens_server() -> Iterator[str]:
    with serve_page(PAGE) as url:
        yield url


class Bridge(KernelBridge):
    """One page model (``window.models[name]``, mounted in #name) and a real widget kept in
    sync, as a kernel would."""

    def __init__(self, page: Any, view: Any, bundle: str, name: str, width: int = 900) -> None:
        super().__init__(page, view, width, bundle=bundle, name=name, settle="harness.frames()")

    def pump(self, rounds: int = 30) -> None:
        super().pump(rounds)

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
        f"document.querySelector('#{host} .attnwidgets-tokens')?.dataset.state === 'ready'"
    )
