"""One local HTTP server for the browser harnesses: a page at ``/``, the built bundles and
the fake widget model (``/fake_model.js``); and ``wire``, widget state as ipywidgets sends it."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ipywidgets.widgets.widget import _remove_buffers

STATIC = Path(__file__).resolve().parents[2] / "src" / "attnwidgets" / "static"
FAKE_MODEL = Path(__file__).resolve().parent / "fake_model.js"


def wire(state: Any) -> dict[str, Any]:
    """A widget's synced state (or a state dict) as ipywidgets sends it, for ``harness.mount``
    and ``harness.apply`` (``fake_model.js``): ``{"state": JSON, "buffers": [[path, b64]]}``,
    every binary value lifted out of the state by ipywidgets' own ``_remove_buffers``."""
    if not isinstance(state, dict):
        state = state.get_state()
    state = {key: value for key, value in state.items() if not key.startswith("_")}
    json_state, paths, buffers = _remove_buffers(state)
    encoded = [
        [path, base64.b64encode(bytes(buf)).decode()]
        for path, buf in zip(paths, buffers, strict=True)
    ]
    return {"state": json_state, "buffers": encoded}


@contextmanager
def serve_page(page: str) -> Iterator[str]:
    """``http://127.0.0.1:<free port>/`` serving ``page`` and every built ``/<name>_view.js``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = self.path.lstrip("/")
            if name == "":
                body, kind = page.encode(), "text/html; charset=utf-8"
            elif name.endswith("_view.js") and (STATIC / name).is_file():
                body, kind = (STATIC / name).read_bytes(), "text/javascript; charset=utf-8"
            elif name == FAKE_MODEL.name:
                body, kind = FAKE_MODEL.read_bytes(), "text/javascript; charset=utf-8"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
