"""One local HTTP server for the browser harnesses: a page at ``/`` and the built bundles."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "src" / "attnwidgets" / "static"


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
