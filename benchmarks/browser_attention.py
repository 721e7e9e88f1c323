"""Attention views in headless Chromium: attnwidgets against bertviz, CircuitsVis and inspectus.

Synthetic GPT-2-small-shaped attention (12 layers x 12 heads, causal softmax of random scores).
attnwidgets runs its built bundle in a plain page whose widget model forwards messages over
HTTP to a real ``AttentionView`` in this process (the kernel side), so tiles are pooled and
encoded exactly as in Jupyter. Peers render their own HTML with their JavaScript served from
this machine (bertviz's require.js/d3/jquery from npm packages in --peer-js, CircuitsVis's and
inspectus's from their wheels), each with a time limit.

Run: ``python benchmarks/browser_attention.py [--sizes 64 256 512] [--limit 90]``
Needs: ``pip install --no-deps bertviz circuitsvis inspectus`` and, for bertviz,
``npm pack requirejs@2.3.6 d3@5.7.0 jquery@2.2.4`` unpacked under --peer-js (see --help).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import importlib.metadata
import json
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
from attention_bench_shared import CHROMIUM_ARGS, DRAWN_JS, synthetic, versus_target
from ipywidgets.widgets.widget import _remove_buffers

from attnwidgets import AttentionView

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "src" / "attnwidgets" / "static" / "attention_view.js"
TRAITS = [
    "layer", "head", "n_layers", "n_heads", "layer_names", "query_tokens", "key_tokens",
    "chunk", "mode", "show_overview", "show_metrics", "thumbnails",
    "metrics", "color_scale", "focus_token", "tile0",
]  # fmt: skip
FAKE_MODEL = REPO / "tests" / "browser" / "fake_model.js"  # the tests' fake anywidget model

PAGE = """<!doctype html><meta charset="utf-8"><body style="margin:16px">
<script type="module">
import widget from "/attention_view.js";
import { decodeWire, FakeModel } from "/fake_model.js";
DRAWN_JS_HERE
class BridgeModel extends FakeModel {
  constructor(name, state) { super(state); this.name = name; }
  async send(content) {  // the comm round trip: JSON out, JSON + one binary buffer back
    const body = JSON.stringify(content);
    const r = await fetch(`/msg/${this.name}`, { method: "POST", body });
    const data = new Uint8Array(await r.arrayBuffer());
    const n = new DataView(data.buffer).getUint32(0, true);
    const msg = JSON.parse(new TextDecoder().decode(data.subarray(4, 4 + n)));
    const buf = data.subarray(4 + n);
    const views = buf.length ? [new DataView(buf.buffer, buf.byteOffset, buf.length)] : [];
    this.trigger("msg:custom", msg, views);
  }
}
const ready = (root, layer, head) => new Promise((resolve, reject) => {
  const fail = () => reject(new Error(`not drawn: ${root.textContent.slice(0, 80)}`));
  setTimeout(fail, 30000);
  const check = () => drawnAs(root, layer, head);
  if (check()) return requestAnimationFrame(() => resolve());
  const obs = new MutationObserver(() => {
    if (!check()) return;
    obs.disconnect();
    requestAnimationFrame(() => resolve());
  });
  obs.observe(root, { attributes: true });
});
window.firstPaint = async (name) => {
  const t0 = performance.now();
  const state = decodeWire(await (await fetch(`/state/${name}`)).json());
  const model = new BridgeModel(name, state);
  const el = document.createElement("div");
  document.body.replaceChildren(el);
  widget.render({ model, el });
  await ready(el.firstChild, state.layer, state.head);
  window.current = { model, root: el.firstChild };
  return performance.now() - t0;
};
window.switchTimes = async (steps, pauseMs = 0) => {
  const { model, root } = window.current;
  const out = [];
  for (const [layer, head] of steps) {
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
    const t0 = performance.now();
    model.set("layer", layer); model.set("head", head);
    await ready(root, layer, head);
    out.push(performance.now() - t0);
  }
  return out;
};
window.pageReady = true;
</script>""".replace("DRAWN_JS_HERE", DRAWN_JS)


class Kernel:
    """HTTP stand-in for the comm: /state/<name> and /msg/<name> against real views."""

    def __init__(self) -> None:
        self.views: dict[str, AttentionView] = {}
        self.bytes_out: dict[str, int] = {}
        self.pages: dict[str, bytes] = {}  # peers' HTML, served like a file
        self.lock = threading.Lock()  # one message at a time, like a kernel
        kernel = self

        class Handler(BaseHTTPRequestHandler):
            def reply(self, body: bytes, kind: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                # The page may be closed with prefetches in flight.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/":
                    self.reply(PAGE.encode(), "text/html")
                elif self.path.startswith("/peer/"):
                    self.reply(kernel.pages[self.path.split("/")[2]], "text/html; charset=utf-8")
                elif self.path == "/attention_view.js":
                    self.reply(BUNDLE.read_bytes(), "text/javascript")
                elif self.path == "/fake_model.js":
                    self.reply(FAKE_MODEL.read_bytes(), "text/javascript")
                elif self.path.startswith("/state/"):
                    name = self.path.split("/")[2]
                    view = kernel.views[name]
                    state, paths, raw = _remove_buffers({t: getattr(view, t) for t in TRAITS})
                    # binary in Jupyter: the JSON state plus the buffers
                    kernel.bytes_out[name] += len(json.dumps(state)) + sum(map(len, raw))
                    buffers = [
                        [p, base64.b64encode(bytes(b)).decode()]
                        for p, b in zip(paths, raw, strict=True)
                    ]
                    body = {"state": state, "buffers": buffers}
                    self.reply(json.dumps(body).encode(), "application/json")
                else:
                    self.send_error(404)

            def do_POST(self) -> None:
                name = self.path.split("/")[2]
                content = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                replies: list[tuple[dict[str, Any], list[bytes]]] = []
                view = kernel.views[name]
                with kernel.lock:
                    view.send = lambda c, buffers=None: replies.append((c, buffers or []))  # type: ignore[method-assign]
                    view._on_message(view, content, [])
                msg, buffers = replies[0] if replies else ({"type": "none"}, [])
                head = json.dumps(msg).encode()
                body = len(head).to_bytes(4, "little") + head + b"".join(buffers)
                kernel.bytes_out[name] += len(head) + sum(len(b) for b in buffers)
                self.reply(body, "application/octet-stream")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def add(self, name: str, view: AttentionView) -> None:
        self.views[name] = view
        self.bytes_out[name] = 0


def measure_attnwidgets(
    context: Any,
    kernel: Kernel,
    name: str,
    data: np.ndarray,
    steps: int,
    pause_ms: int = 150,
    cold: list[tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """First paint, then switches back to back and (as a person steps) ``pause_ms`` apart;
    then, ``pause_ms`` apart, to each (layer, head) of ``cold`` (heads nothing fetched before:
    see jupyterlab_attention.cold_targets)."""
    tokens = [f"tok{i}" for i in range(data.shape[2])]
    view = AttentionView(data, tokens)
    kernel.add(name, view)
    page = context.new_page()
    page.goto(kernel.url)
    page.wait_for_function("window.pageReady === true")
    first = page.evaluate("(n) => firstPaint(n)", name)
    first_bytes = kernel.bytes_out[name]
    layers, heads = data.shape[:2]
    path = [((i // heads) % layers, i % heads) for i in range(1, steps + 1)]
    switches, paused = [], []
    if layers * heads > 1:
        switches = page.evaluate("(s) => switchTimes(s, 0)", path)
        # Heads not visited (nor prefetched) by the first walk, so no switch is a cache hit.
        base = 5 if layers >= 7 else 0
        back = [(base + (i // heads) % (layers - base), (heads - 1 - i) % heads)
                for i in range(steps)]  # fmt: skip
        paused = page.evaluate("([s, p]) => switchTimes(s, p)", [back, pause_ms])
    far = page.evaluate("([s, p]) => switchTimes(s, p)", [cold, pause_ms]) if cold else []
    page.close()
    del kernel.views[name]
    return {
        "first_paint_ms": round(first, 1),
        "switch_median_ms": round(statistics.median(switches), 1) if switches else None,
        "switch_paused_median_ms": round(statistics.median(paused), 1) if paused else None,
        "switch_cold_median_ms": round(statistics.median(far), 1) if far else None,
        "first_view_bytes": first_bytes,
        "mode": view.mode,
    }


def peer_html(peer: str, data: np.ndarray, tokens: list[str], peer_js: Path) -> str | None:
    """A whole page for the peer, its JavaScript inlined or served locally; None if missing."""
    try:
        if peer == "bertviz":
            import torch
            from bertviz import head_view

            attn = tuple(torch.from_numpy(layer[None]) for layer in data)
            body = head_view(attn, tokens, html_action="return").data
            return f"<!doctype html><meta charset='utf-8'><body>{body}</body>"
        if peer == "circuitsvis":
            sys.modules.setdefault("importlib_metadata", importlib.metadata)  # old import
            import circuitsvis as cv

            rendered = cv.attention.attention_heads(attention=data[0], tokens=tokens)
            return f"<!doctype html><meta charset='utf-8'><body>{rendered.local_src}</body>"
        if peer == "inspectus":
            return inspectus_page(data, tokens)
    except ImportError:
        return None
    raise ValueError(peer)


def inspectus_page(data: np.ndarray, tokens: list[str]) -> str:
    """inspectus writes through IPython.display: capture the HTML it displays."""
    import inspectus
    import IPython.display

    parts: list[str] = []
    original = IPython.display.display
    IPython.display.display = lambda obj, *a, **k: parts.append(obj.data)  # type: ignore[assignment]
    try:
        inspectus.attention(data, tokens)
    finally:
        IPython.display.display = original
    return "<!doctype html><meta charset='utf-8'><body>" + "".join(parts) + "</body>"


PEER_DONE = {
    "bertviz": "document.querySelectorAll('svg line').length > 0",
    "circuitsvis": "document.querySelectorAll('canvas, svg, table').length > 0",
    "inspectus": "document.querySelectorAll('svg rect, canvas').length > 10",
}
CDN_FILES = {
    "require.min.js": "requirejs-2.3.6/package/require.js",
    "d3.min.js": "d3-5.7.0/package/dist/d3.min.js",
    "jquery.min.js": "jquery-2.2.4/package/dist/jquery.min.js",
}


def ensure_peer_js(folder: Path) -> None:
    """bertviz loads require.js, d3 and jquery from cdnjs: fetch the same files with npm."""
    import subprocess
    import tarfile

    folder.mkdir(parents=True, exist_ok=True)
    for spec, path in (("requirejs@2.3.6", "requirejs-2.3.6"), ("d3@5.7.0", "d3-5.7.0"),
                       ("jquery@2.2.4", "jquery-2.2.4")):  # fmt: skip
        if (folder / path / "package").is_dir():
            continue
        subprocess.run(["npm", "pack", spec], cwd=folder, check=True, capture_output=True)
        with tarfile.open(folder / f"{path}.tgz") as archive:
            archive.extractall(folder / path, filter="data")


def measure_peer(
    playwright: Any, kernel: Kernel, peer: str, data: np.ndarray, limit: float, peer_js: Path
) -> Any:
    """One peer at one size in a browser of its own: closing it ends a page still drawing."""
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
    try:
        context = browser.new_context(viewport={"width": 1000, "height": 900})
        return _measure_peer(context, kernel, peer, data, limit, peer_js)
    finally:
        kernel.pages.pop(peer, None)
        browser.close()


def _measure_peer(
    context: Any, kernel: Kernel, peer: str, data: np.ndarray, limit: float, peer_js: Path
) -> Any:
    tokens = [f"tok{i}" for i in range(data.shape[2])]
    start = time.perf_counter()
    html = peer_html(peer, data, tokens, peer_js)
    if html is None:
        return {"error": "not installed"}
    build = time.perf_counter() - start
    page = context.new_page()

    def cdn(route: Any) -> None:
        name = route.request.url.rsplit("/", 1)[-1]
        name = name if name.endswith(".js") else f"{name}.js"
        local = peer_js / CDN_FILES.get(name, "missing")
        if local.is_file():
            route.fulfill(body=local.read_bytes(), content_type="text/javascript")
        else:
            route.abort()

    page.route("https://**/*", cdn)  # nothing leaves the machine
    kernel.pages[peer] = html.encode()
    del html
    result: dict[str, Any] = {"html_bytes": len(kernel.pages[peer]), "build_s": round(build, 1)}
    t0 = time.perf_counter()
    try:
        page.goto(f"{kernel.url}peer/{peer}", timeout=limit * 1e3, wait_until="commit")
        remaining = max(1.0, limit - (time.perf_counter() - t0))
        page.wait_for_function(PEER_DONE[peer], timeout=remaining * 1e3, polling=100)
        result["first_paint_ms"] = round((time.perf_counter() - t0) * 1e3)
    except Exception as error:  # timeout or a crash of the page
        result["first_paint_ms"] = f"> {limit:.0f} s ({type(error).__name__})"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 512])
    parser.add_argument("--limit", type=float, default=90.0, help="seconds per peer and size")
    parser.add_argument("--peers", nargs="*", default=["bertviz", "circuitsvis", "inspectus"])
    parser.add_argument("--peer-js", type=Path, default=Path("/tmp/peers_js"))
    parser.add_argument("--max-bertviz", type=int, default=256, help="bertviz 512 needs ~6 GB")
    parser.add_argument("--steps", type=int, default=24, help="layer/head switches timed")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    if "bertviz" in args.peers:
        ensure_peer_js(args.peer_js)
    kernel = Kernel()
    rows: list[dict[str, Any]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1000, "height": 900})
        cases = [(n, synthetic(12, 12, n)) for n in sorted({*args.sizes, 1024})]
        for n, data in cases:
            result = measure_attnwidgets(context, kernel, f"gpt2-{n}", data, args.steps)
            rows.append({"tool": "attnwidgets", "tokens": n, **result})
            print(json.dumps(rows[-1]), flush=True)
        del cases
        big = synthetic(1, 1, 8192)
        result = measure_attnwidgets(context, kernel, "single-8192", big, 0)
        rows.append({"tool": "attnwidgets (1 head)", "tokens": 8192, **result})
        print(json.dumps(rows[-1]), flush=True)
        del big
        for n in args.sizes if args.peers else []:
            data = synthetic(12, 12, n)
            for peer in args.peers:
                if peer == "bertviz" and n > args.max_bertviz:
                    rows.append({"tool": peer, "tokens": n, "first_paint_ms": "skipped"})
                    continue
                result = measure_peer(p, kernel, peer, data, args.limit, args.peer_js)
                rows.append({"tool": peer, "tokens": n, **result})
                print(json.dumps(rows[-1]), flush=True)
        browser.close()
    print_table(rows)


def print_table(rows: list[dict[str, Any]]) -> None:
    print("\n| tool | tokens | bytes for first view | first paint | switch, back to back "
          "(median) | switch, 150 ms apart (median) | against issue 4's targets |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        size = row.get("first_view_bytes", row.get("html_bytes", "-"))
        paint = row.get("first_paint_ms", row.get("error", "-"))
        switch = row.get("switch_median_ms") or "-"
        size = f"{size:,}" if isinstance(size, int) else size
        paint = f"{paint} ms" if isinstance(paint, (int, float)) else paint
        switch = f"{switch} ms" if isinstance(switch, (int, float)) else switch
        paused = row.get("switch_paused_median_ms")
        paused = f"{paused} ms" if isinstance(paused, (int, float)) else "-"
        print(f"| {row['tool']} | {row['tokens']} | {size} | {paint} | {switch} | {paused} "
              f"| {against_targets(row)} |")  # fmt: skip


def against_targets(row: dict[str, Any]) -> str:
    """Our 1,024-token and 8,192-token rows as ratios of issue 4's targets."""
    if not row["tool"].startswith("attnwidgets") or row["tokens"] not in (1024, 8192):
        return "-"
    paint = versus_target(row["first_paint_ms"], f"first_paint_{row['tokens']}")
    if row["tokens"] == 8192:
        return f"first paint {paint}"
    switch = versus_target(row["switch_median_ms"], "switch_1024")
    paused = versus_target(row["switch_paused_median_ms"], "switch_1024")
    return f"first paint {paint}; switch {switch} (150 ms apart: {paused})"


if __name__ == "__main__":
    main()
