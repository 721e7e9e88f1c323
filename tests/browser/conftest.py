"""Serve the BUILT bundle in a plain page with a fake anywidget model, in Debian's chromium.

No Jupyter: the page loads src/attnwidgets/static/attention_view.js as an ES module and mounts
it on the model of fake_model.js, which behaves like anywidget's (Backbone-style
get/set/on/off, `change:<trait>` events, `msg:custom`, send/save_changes). State goes in as
ipywidgets sends it (``page_server.wire``): binary values as buffers at their paths.
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

# The fake model (fake_model.js) and a few helpers the tests call through page.evaluate:
# harness.mount(wire(state), options), set, apply, reply.
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>attnwidgets fake host</title></head>
<body style="margin: 20px; font-family: sans-serif">
<script type="module">
import { createHarness } from "/fake_model.js";

window.harness = {
  ...createHarness({ bundle: "attention_view.js", tick: "microtask" }),
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
