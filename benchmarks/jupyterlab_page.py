"""Drive a notebook in a real JupyterLab and record when the attention views paint.

For benchmarks/jupyterlab_attention.py. JupyterLab itself and the notebook helpers come from
the e2e tests (tests/e2e/conftest.py, test_jupyterlab.py), so both start and open it the same
way. Times are on the machine's clock in ms (``performance.timeOrigin + performance.now()`` in
the page, ``time.time() * 1e3`` in the kernel), so page and kernel times can be subtracted.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from attention_bench_shared import DRAWN_JS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from conftest import CANVAS_DIGEST_JS, running_jupyterlab, wait_for
from test_jupyterlab import errors_in_outputs, open_notebook

__all__ = ["LabNotebook", "open_notebook", "running_jupyterlab"]

TIMEOUT = 300  # seconds for a cell: the 8,192-token data takes a while on 2 busy cores
SWITCH_TIMEOUT = 30

# Every drawn state of every attention view in the notebook, and every key press, with times
# on the machine's clock (performance.timeOrigin + now) so they compare with the kernel's.
RECORDER_JS = (
    DRAWN_JS
    + r"""
(() => {
  const rec = { ready: [], keys: [], shown: [] };
  const last = new WeakMap();
  window.awBench = rec;
  const now = () => performance.timeOrigin + performance.now();
  const cellOf = (root) =>
    [...document.querySelectorAll(".jp-Notebook .jp-Cell")].indexOf(root.closest(".jp-Cell"));
  const note = (root) => {
    const layer = Number(root.dataset.layer), head = Number(root.dataset.head);
    if (last.get(root) !== `${layer},${head}`) {  // the view turned to it (maybe loading)
      last.set(root, `${layer},${head}`);
      rec.shown.push({ cell: cellOf(root), layer, head, state_ms: now() });
    }
    if (!drawnAs(root, layer, head)) return;
    const entry = { cell: cellOf(root), layer, head, state_ms: now() };
    requestAnimationFrame(() => { entry.frame_ms = now(); rec.ready.push(entry); });
  };
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === "attributes" && r.target.classList?.contains("attnwidgets-attention"))
        note(r.target);
      for (const added of r.addedNodes ?? []) {  // drawn before it was attached
        if (added.querySelectorAll) added.querySelectorAll(".attnwidgets-attention").forEach(note);
      }
    }
  }).observe(document.body, { subtree: true, childList: true, attributes: true,
                              attributeFilter: ["data-state", "data-layer", "data-head"] });
  window.addEventListener("keydown", (e) => rec.keys.push({ key: e.key, t: now() }), true);
  window.addEventListener("click", () => rec.keys.push({ key: "click", t: now() }), true);
  // Tile requests and replies on the kernel's websocket (JSON headers are plain text in the
  // frame): request_tile sent -> tile reply received is the comm round trip of one tile.
  rec.tiles = {};
  const text = (d) => typeof d === "string" ? d : new TextDecoder().decode(
    new Uint8Array(d.buffer ?? d, d.byteOffset ?? 0, Math.min(d.byteLength, 8192)));
  const tileId = (s) => s.match(/"id": ?"(tile-\d+)"/)?.[1];
  const watched = new WeakSet();
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (!watched.has(this)) {
      watched.add(this);
      this.addEventListener("message", (event) => {
        const s = text(event.data);
        const id = /"type": ?"tile"/.test(s) && tileId(s);
        if (id && rec.tiles[id]) rec.tiles[id].received ??= now();
      });
    }
    const s = text(data);
    const id = s.includes('"request_tile"') && tileId(s);
    if (id) rec.tiles[id] = { sent: now() };
    return send.call(this, data);
  };
})();
"""
)

# The first record of layer/head in ``cell`` at or after ``since``: "ready" = drawn, "shown" =
# the view turned to it (the trait change arrived), drawn or still loading.
DRAWN_SINCE_JS = """([cell, layer, head, since, list]) => awBench[list ?? "ready"].find((e) =>
  e.cell === cell && e.layer === layer && e.head === head && e.state_ms >= since) ?? null"""


class LabNotebook:
    """One notebook open in JupyterLab, its cells run one at a time with Shift+Enter."""

    def __init__(self, page: Any) -> None:
        self.page = page
        page.evaluate(RECORDER_JS)

    def cell(self, index: int) -> Any:
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)

    def run(self, index: int) -> float:
        """Run cell ``index``; returns when Enter went down (page clock, ms)."""
        self.cell(index).locator(".jp-InputArea-editor").click()
        before = self.page.evaluate("() => awBench.keys.length")
        self.page.keyboard.press("Shift+Enter")
        keys = self.page.evaluate("(n) => awBench.keys.slice(n)", before)
        return float(next(k["t"] for k in keys if k["key"] == "Enter"))

    def wait_done(self, index: int) -> None:
        prompt = self.cell(index).locator(".jp-InputPrompt")

        def done() -> bool:
            if errors := errors_in_outputs(self.page):
                raise RuntimeError("a cell raised:\n" + "\n".join(errors)[-3000:])
            return bool(re.search(r"\[\d+\]", prompt.inner_text()))

        wait_for(done, TIMEOUT, f"cell {index} to finish")

    def run_and_wait(self, index: int) -> float:
        pressed = self.run(index)
        self.wait_done(index)
        return pressed

    def drawn(
        self, cell: int, layer: int, head: int, since: float, timeout: float = TIMEOUT
    ) -> dict[str, Any]:
        """The first time the view in ``cell`` drew ``layer``/``head`` at or after ``since``."""
        where = [cell, layer, head, since]
        what = f"layer {layer} head {head} drawn in cell {cell}"
        probe = lambda: self.page.evaluate(DRAWN_SINCE_JS, where)  # noqa: E731
        return wait_for(probe, timeout, what, every=0.01)  # type: ignore[no-any-return]

    def first_paint(self, index: int) -> dict[str, Any]:
        """Run a display cell; the times from Enter to the first drawn heatmap."""
        pressed = self.run(index)
        event = self.drawn(index, 0, 0, pressed)
        self.wait_done(index)
        canvas = self.cell(index).locator("canvas.attnwidgets-heatmap").first
        digest = canvas.evaluate(CANVAS_DIGEST_JS)
        if digest["ink"] == 0:
            raise RuntimeError(f"cell {index}: the heatmap is blank ({digest})")
        return {"frame_ms": event["frame_ms"], "pressed_ms": pressed}

    def key_switches(
        self, cell: int, focus: Any, key: str, delta: tuple[int, int], steps: int, pause_ms: float
    ) -> list[float]:
        """Press ``key`` on ``focus`` ``steps`` times, each moving (layer, head) by ``delta``;
        the ms from each key down to the view drawn there."""
        root = self.cell(cell).locator(".attnwidgets-attention").first
        out = []
        focus.focus()
        for _ in range(steps):
            layer = int(root.get_attribute("data-layer")) + delta[0]
            head = int(root.get_attribute("data-head")) + delta[1]
            before = self.page.evaluate("() => awBench.keys.length")
            focus.press(key)
            pressed = self.page.evaluate("(n) => awBench.keys[n].t", before)
            drawn = self.drawn(cell, layer, head, pressed, SWITCH_TIMEOUT)
            out.append(drawn["frame_ms"] - pressed)
            self.page.wait_for_timeout(pause_ms)
        return out

    def click_switches(
        self, cell: int, targets: list[tuple[int, int]], shape: tuple[int, int], pause_ms: float
    ) -> list[float]:
        """Open the model overview, click the thumbnail of each (layer, head); the ms from each
        click to the view drawn there."""
        self.cell(cell).locator(".attnwidgets-toggle-overview").first.click()
        grid = self.cell(cell).locator("canvas.attnwidgets-thumbnails").first
        grid.wait_for(state="visible", timeout=TIMEOUT * 1e3)
        layers, heads = shape
        out = []
        for layer, head in targets:
            box = grid.bounding_box()
            where = {"x": box["width"] * (head + 0.5) / heads,
                     "y": box["height"] * (layer + 0.5) / layers}  # fmt: skip
            before = self.page.evaluate("() => awBench.keys.length")
            grid.click(position=where)
            clicked = self.page.evaluate("(n) => awBench.keys[n].t", before)
            drawn = self.drawn(cell, layer, head, clicked, SWITCH_TIMEOUT)
            out.append(drawn["frame_ms"] - clicked)
            self.page.wait_for_timeout(pause_ms)
        return out

    def kernel_switches(
        self, cell: int, targets: list[tuple[int, int]], stamps: list[float]
    ) -> tuple[list[float], list[float]]:
        """For each (layer, head) the kernel set at ``stamps``: ms to the view drawn there and
        ms to the view turning to it (the change arriving); NaN when the next change came
        first."""
        drawn, arrived = [], []
        for (layer, head), stamp in zip(targets, stamps, strict=True):
            found = self.page.evaluate(DRAWN_SINCE_JS, [cell, layer, head, stamp])
            drawn.append(found["frame_ms"] - stamp if found else float("nan"))
            shown = self.page.evaluate(DRAWN_SINCE_JS, [cell, layer, head, stamp, "shown"])
            arrived.append(shown["state_ms"] - stamp if shown else float("nan"))
        return drawn, arrived

    def tile_round_trips(self) -> dict[str, list[float]]:
        """ms from each request_tile leaving the page to its tile reply arriving: ``all``, and
        ``alone``: those sent while no other tile was on its way (no queue in the kernel)."""
        tiles = self.page.evaluate("() => Object.values(awBench.tiles)")
        out: dict[str, list[float]] = {"all": [], "alone": []}
        busy_until = 0.0
        for tile in sorted(tiles, key=lambda tile: tile["sent"]):
            received = tile.get("received", float("inf"))
            out["all"].append(received - tile["sent"])
            if tile["sent"] >= busy_until:
                out["alone"].append(received - tile["sent"])
            busy_until = max(busy_until, received)
        return out
