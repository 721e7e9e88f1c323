"""Serve the BUILT bundle in a plain page with a fake anywidget model, in Debian's chromium.

No Jupyter and no attnwidgets import: the page loads src/attnwidgets/static/attention_view.js
as an ES module and mounts it on a model object that behaves like anywidget's (Backbone-style
get/set/on/off, `change:<trait>` events, `msg:custom`, send/save_changes).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from page_server import serve_page

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "src" / "attnwidgets" / "static" / "attention_view.js"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

# The fake model and a few helpers the tests call through page.evaluate.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>attnwidgets fake host</title></head>
<body style="margin: 20px; font-family: sans-serif">
<script type="module">
import widget from "/attention_view.js";

// A DataView that starts a few bytes into a bigger buffer, as Bytes traits can arrive.
function viewOf(b64, pad = 7) {
  const bin = atob(b64);
  const buffer = new ArrayBuffer(bin.length + 2 * pad);
  const bytes = new Uint8Array(buffer, pad, bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new DataView(buffer, pad, bin.length);
}

class FakeModel {
  constructor(state) {
    this.state = { ...state };
    this.listeners = new Map();
    this.sent = [];
    this.saved = 0;
  }
  get(key) { return this.state[key]; }
  set(key, value) {  // Backbone fires change:<key> synchronously on set
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
  send(content) { this.sent.push(structuredClone(content)); }
  save_changes() { this.saved += 1; }
  listenerCount() { let n = 0; for (const s of this.listeners.values()) n += s.size; return n; }
}

const tick = () => new Promise((resolve) => queueMicrotask(resolve));

window.harness = {
  async mount(state, { width = 800, dpr = null } = {}) {
    if (dpr) Object.defineProperty(window, "devicePixelRatio", { value: dpr, configurable: true });
    const { chunk_b64, ...traits } = state;
    const model = new FakeModel({ ...traits, chunk: viewOf(chunk_b64) });
    const el = document.createElement("div");
    el.id = "host";
    el.style.width = `${width}px`;
    document.body.appendChild(el);
    window.model = model;
    window.cleanup = widget.render({ model, el });
    await tick();
  },
  async set(key, value) { window.model.set(key, value); await tick(); },
  async reply(msg, b64) {
    window.model.trigger("msg:custom", msg, b64 == null ? [] : [viewOf(b64)]);
    await tick();
  },
  // RGBA at the centre of heatmap cell (row, col), in backing-store pixels.
  cell(row, col) {
    const canvas = document.querySelector(".attnwidgets-heatmap");
    const nQ = window.model.get("query_tokens").length;
    const nK = window.model.get("key_tokens").length;
    const x = Math.floor(((col + 0.5) * canvas.width) / nK);
    const y = Math.floor(((row + 0.5) * canvas.height) / nQ);
    return Array.from(canvas.getContext("2d").getImageData(x, y, 1, 1).data);
  },
  // RGBA at a fraction (0..1) along the colour bar.
  bar(t) {
    const canvas = document.querySelector(".attnwidgets-colorbar");
    const x = Math.min(canvas.width - 1, Math.floor(t * canvas.width));
    return Array.from(canvas.getContext("2d").getImageData(x, canvas.height >> 1, 1, 1).data);
  },
};
window.harnessReady = true;
</script>
</body></html>
"""


@pytest.fixture(scope="session")
def bundle() -> Path:
    """The built bundle; runs `npm run build` only when it is missing."""
    if not BUNDLE.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("the bundle is not built and npm is not installed to build it")
        if not (REPO / "node_modules").exists():
            subprocess.run([npm, "ci"], cwd=REPO, check=True)
        subprocess.run([npm, "run", "build"], cwd=REPO, check=True)
    return BUNDLE


@pytest.fixture(scope="session")
def server(bundle: Path) -> Iterator[str]:
    """http://127.0.0.1:<free port>/ serving the page and the bundle."""
    with serve_page(PAGE) as url:
        yield url


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is not installed: run scripts/setup.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1000, "height": 900},
        )
        yield context
        context.close()


def open_page(browser: object, server: str, *, fake_clock: bool = False) -> object:
    """A fresh page on the harness; page.errors collects uncaught errors and console errors."""
    page = browser.new_page()  # type: ignore[attr-defined]
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    if fake_clock:
        page.clock.install()
    page.goto(server)
    page.wait_for_function("window.harnessReady === true")
    return page


@pytest.fixture
def make_page(browser: object, server: str) -> Iterator[object]:
    """open_page for this test (e.g. with fake_clock=True); pages are closed afterwards."""
    pages: list[object] = []

    def make(**options: bool) -> object:
        pages.append(open_page(browser, server, **options))
        return pages[-1]

    yield make
    for p in pages:
        p.close()  # type: ignore[attr-defined]


@pytest.fixture
def page(make_page: object) -> object:
    return make_page()  # type: ignore[operator]
