"""A real ipywidgets front end in Chromium, wired to the widgets of THIS Python process.

For the views built of bqplot widgets (FeatureMap, ProbeView), whose front ends need the
real widget manager; an anywidget view alone mounts on the one fake model
(tests/browser/fake_model.js) through kernel_bridge.KernelBridge instead. No Jupyter: the
page runs the widget manager that ships on npm (``@jupyter-widgets/html-manager``), with
bqplot, bqplot-gl, bqscales and anywidget loaded from the AMD bundles their wheels install
(``share/jupyter/nbextensions``), so the widgets render with their real front ends. The
comms are a bridge:

- kernel -> page: ``comm.create_comm`` is replaced while the host is open; every comm
  message a widget publishes (open, update, custom message) is queued and ``deliver()``
  hands it to the page's manager (``handle_comm_open`` / the model's comm handler);
- page -> kernel: what the page's models send (a brush selection, a slider drag, a save)
  is queued in the page; ``pump()`` hands each message to the Python widget's comm, then
  delivers the replies, until both sides are quiet.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import comm
import numpy as np
from comm.base_comm import BaseComm

REPO = Path(__file__).resolve().parents[3]
ORIGIN = "http://widgets.test"
NPM = REPO / "node_modules"
MODULES = ("anywidget", "bqscales", "bqplot", "bqplot-gl")

# JupyterLab's light-theme variables, which bqplot's styles refer to.
THEME = """<style>:root { --jp-layout-color0: #fff; --jp-layout-color1: #fff;
  --jp-layout-color2: #eee; --jp-layout-color3: #bdbdbd; --jp-border-color0: #bdbdbd;
  --jp-border-color1: #e0e0e0; --jp-border-color2: #eee; --jp-content-font-color0: #000;
  --jp-content-font-color1: rgba(0, 0, 0, 0.87); --jp-content-font-color2: rgba(0, 0, 0, 0.54);
  --jp-ui-font-color1: rgba(0, 0, 0, 0.87); --jp-widgets-font-size: 13px; }</style>"""

PAGE = (
    """<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
"""
    + THEME
    + """
<script src="/require.js"></script>
<script src="/amd/anywidget.js"></script><script src="/amd/bqscales.js"></script>
<script src="/amd/bqplot.js"></script><script src="/amd/bqplot-gl.js"></script>
<script src="/embed-amd.js"></script>
</head><body style="margin: 10px; font-family: sans-serif"><div id="root"></div>
<script src="/host.js"></script></body></html>"""
)

HOST_JS = """
const b64ToView = (b64) => {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new DataView(bytes.buffer);
};
const toB64 = (buffer) => {
  const bytes = buffer instanceof ArrayBuffer ? new Uint8Array(buffer)
    : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
};
class BridgeComm {
  constructor(id, target) { this.comm_id = id; this.target_name = target; }
  on_msg(fn) { this.onMsg = fn; }
  on_close(fn) { this.onClose = fn; }
  open() { return this.comm_id; }
  close() { return this.comm_id; }
  send(data, callbacks, metadata, buffers) {
    window.host.outbox.push({ comm_id: this.comm_id, data, buffers: (buffers || []).map(toB64) });
    const idle = callbacks && callbacks.iopub && callbacks.iopub.status;
    if (idle) setTimeout(() => idle({ content: { execution_state: "idle" } }), 0);
    return this.comm_id;
  }
}
window.host = { outbox: [], comms: new Map(), errors: [] };
require(["@jupyter-widgets/html-manager"], (hm) => {
  const loader = (name) => new Promise((resolve, reject) => require([name], resolve, reject));
  const manager = new hm.HTMLManager({ loader });
  window.host.manager = manager;
  window.host.receive = async (messages) => {
    for (const m of messages) {
      const buffers = m.buffers.map(b64ToView);
      if (m.msg_type === "comm_open") {
        const c = new BridgeComm(m.comm_id, m.target_name);
        window.host.comms.set(m.comm_id, c);
        await manager.handle_comm_open(c, {
          content: { comm_id: m.comm_id, target_name: m.target_name, data: m.data },
          metadata: m.metadata || {}, buffers, parent_header: {},
        });
      } else if (m.msg_type === "comm_msg") {
        const c = window.host.comms.get(m.comm_id);
        if (c && c.onMsg) await c.onMsg({ content: { comm_id: m.comm_id, data: m.data },
          metadata: m.metadata || {}, buffers, parent_header: {} });
      } else if (m.msg_type === "comm_close") {
        const c = window.host.comms.get(m.comm_id);
        if (c && c.onClose) c.onClose({ content: { comm_id: m.comm_id, data: m.data } });
      }
    }
    await new Promise((r) => setTimeout(r, 0));
  };
  window.host.display = async (modelId) => {
    const model = await manager.get_model(modelId);
    const view = await manager.create_view(model);
    const el = document.createElement("div");
    el.className = "shown";
    document.getElementById("root").appendChild(el);
    await manager.display_view(view, el);
    return true;
  };
  window.host.ready = true;
});
"""


def _b64(data: Any) -> str:
    return base64.b64encode(bytes(data)).decode()


def _plain(value: Any) -> Any:
    """JSON-able copy of a comm payload (numpy scalars, tuples, bytes left by a widget)."""
    return json.loads(json.dumps(value, default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (bytes, memoryview)):
        return _b64(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def nbextension(module: str) -> Path:
    from jupyter_core.paths import jupyter_path

    for folder in jupyter_path("nbextensions"):
        path = Path(folder) / module / "index.js"
        if path.is_file():
            return path
    raise FileNotFoundError(f"no AMD bundle for {module}: install its Python package")


def named_amd(name: str, source: str) -> str:
    """A bundle that calls anonymous ``define(...)``, made to define ``name``."""
    return (
        "(function (define) {\n" + source + "\n})((function (name) {\n"
        "  var named = function () { var args = Array.prototype.slice.call(arguments);\n"
        "    if (typeof args[0] !== 'string') args.unshift(name);\n"
        "    return window.define.apply(window, args); };\n"
        "  named.amd = window.define.amd; return named;\n"
        f"}})({json.dumps(name)}));"
    )


def files() -> dict[str, tuple[bytes, str]]:
    js = "text/javascript; charset=utf-8"
    served = {
        "/": (PAGE.encode(), "text/html; charset=utf-8"),
        "/require.js": ((NPM / "requirejs" / "require.js").read_bytes(), js),
        "/embed-amd.js": (
            (NPM / "@jupyter-widgets" / "html-manager" / "dist" / "embed-amd.js").read_bytes(),
            js,
        ),
        "/host.js": (HOST_JS.encode(), js),
    }
    for module in MODULES:
        source = nbextension(module).read_text(encoding="utf-8")
        served[f"/amd/{module}.js"] = (named_amd(module, source).encode(), js)
    return served


class WidgetHost:
    """The page and this process's widgets, in sync both ways (see the module docstring)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.outbox: list[dict[str, Any]] = []
        self.comms: dict[str, BaseComm] = {}

    def comm_factory(self, **kwargs: Any) -> BaseComm:
        host = self

        class BridgeComm(BaseComm):
            def publish_msg(
                self,
                msg_type: str,
                data: Any = None,
                metadata: Any = None,
                buffers: Any = None,
                **keys: Any,
            ) -> None:
                host.outbox.append(
                    {
                        "msg_type": msg_type,
                        "comm_id": self.comm_id,
                        "data": _plain(data or {}),
                        "metadata": _plain(metadata or {}),
                        "buffers": [_b64(b) for b in buffers or []],
                        "target_name": keys.get("target_name", self.target_name),
                    }
                )

        made = BridgeComm(**kwargs)
        self.comms[made.comm_id] = made
        return made

    def deliver(self) -> None:
        """Everything the widgets published, handed to the page's manager in order."""
        while self.outbox:
            batch, self.outbox = self.outbox, []
            self.page.evaluate("(m) => window.host.receive(m)", batch)

    def pump_until(self, done: Any, timeout: float = 10.0) -> None:
        """Pump until ``done()`` holds (a page's pointer handlers and messages take a few
        frames); fails with what did not happen."""
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            if done():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the page never got there: {done.__doc__ or done}")
            self.page.wait_for_timeout(50)

    def pump(self, rounds: int = 20) -> None:
        """Page -> widgets -> page until nothing moves."""
        for _ in range(rounds):
            self.deliver()
            sent = self.page.evaluate("() => window.host.outbox.splice(0)")
            if not sent:
                return
            for message in sent:
                target = self.comms[message["comm_id"]]
                buffers = [memoryview(base64.b64decode(b)) for b in message["buffers"]]
                target.handle_msg(
                    {
                        "content": {"comm_id": message["comm_id"], "data": message["data"]},
                        "buffers": buffers,
                    }
                )
        raise AssertionError("the page and the widgets kept messaging")

    def display(self, widget: Any) -> Any:
        """Show ``widget`` in the page; returns its element."""
        self.deliver()
        self.page.evaluate("(id) => window.host.display(id)", widget.model_id)
        self.pump()
        return self.page.locator("#root > .shown").last


@contextmanager
def widget_host(browser: Any) -> Iterator[WidgetHost]:
    """A page with the widget manager, and ``comm.create_comm`` bridged to it meanwhile."""
    served = files()
    page = browser.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))

    def route(request: Any) -> None:
        path = request.request.url[len(ORIGIN) :] or "/"
        if path not in served and "/" + path.rsplit("/", 1)[-1] in served:
            path = "/" + path.rsplit("/", 1)[-1]  # the manager's fonts, wherever asked
        if path in served:
            body, kind = served[path]
            request.fulfill(status=200, body=body, headers={"Content-Type": kind})
        else:
            page.errors.append(f"unexpected request {request.request.url}")
            request.abort()

    fonts = NPM / "@jupyter-widgets" / "html-manager" / "dist"
    for font in fonts.iterdir():
        if font.suffix in (".woff2", ".woff", ".ttf", ".eot", ".svg"):
            served[f"/{font.name}"] = (font.read_bytes(), "font/" + font.suffix[1:])

    page.route(f"{ORIGIN}/**", route)
    page.route(lambda url: not url.startswith(ORIGIN), lambda r: r.abort())
    page.goto(f"{ORIGIN}/")
    page.wait_for_function("window.host && window.host.ready === true", timeout=30_000)
    host = WidgetHost(page)
    before = comm.create_comm
    comm.create_comm = host.comm_factory
    try:
        yield host
    finally:
        comm.create_comm = before
        page.close()
