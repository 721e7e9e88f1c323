"""A page that mounts several built bundles side by side, each on its own fake anywidget model
(fake_model.js, ``window.models[name]``) in its own element (#name), each connected both ways
to a REAL widget in this process (``kernel_bridge.KernelBridge``), as a kernel and JupyterLab
would: the PredictionGridView's bundle as "grid", and, once a click made the kernel open it,
the ImageAttentionView shown below the grid as "attention" (mounted again in the same element
when another image is opened).
"""

from __future__ import annotations

from typing import Any

from kernel_bridge import KernelBridge

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head>
<body style="margin: 0; padding: 10px; font-family: sans-serif">
<script type="module">
import { createHarness } from "/fake_model.js";

window.harness = {
  ...createHarness({ tick: "frame", width: 1100 }),
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


def mounted(page: Any, widget: Any, name: str, bundle: str, width: int) -> KernelBridge:
    """``widget`` mounted in the page as ``name`` and kept in sync with the page's model."""
    return KernelBridge(page, widget, width, bundle=bundle, name=name)


class GridBridge:
    """An ``aw.PredictionGrid``'s grid mounted as "grid", and the attention view it opens
    mounted as "attention" (re-mounted when another image is opened)."""

    def __init__(self, page: Any, grid: Any, width: int = 1100) -> None:
        self.page, self.grid = page, grid
        view = getattr(grid, "grid", grid)
        self.mounted = {"grid": mounted(page, view, "grid", "prediction_grid_view.js", width)}
        self._attention: Any = None

    def pump(self, rounds: int = 30) -> None:
        for _ in range(rounds):
            busy = [m.step() for m in list(self.mounted.values())]
            opened = getattr(self.grid, "attention", None)
            if opened is not None and opened is not self._attention:
                self._attention = opened
                self.mounted["attention"] = mounted(
                    self.page, opened, "attention", "image_attention_view.js", 1000
                )
                busy.append(True)
            self.page.evaluate("harness.frames()")
            if not any(busy):
                return
