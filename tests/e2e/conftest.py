"""Real browsers for the end-to-end tests: Chromium (system build), JupyterLab, canvas pixels.

Everything runs locally: JupyterLab on 127.0.0.1 with settings that fetch no news, and pages
that must not reach any other host. Failure screenshots and server logs go to ``artifacts/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

T = TypeVar("T")

# Draws the canvas onto a 2D scratch canvas (works whatever context the page used) and returns
# its size, an FNV-1a hash of the RGBA bytes, how many distinct colours it holds (up to 256) and
# how many "ink" pixels it has: opaque and not near-white, i.e. something was drawn.
CANVAS_DIGEST_JS = """(canvas) => {
  const w = canvas.width, h = canvas.height;
  if (!w || !h) return { width: w, height: h, hash: "empty", colours: 0, ink: 0 };
  const scratch = document.createElement("canvas");
  scratch.width = w; scratch.height = h;
  const ctx = scratch.getContext("2d");
  ctx.drawImage(canvas, 0, 0);
  const data = ctx.getImageData(0, 0, w, h).data;
  const words = new Uint32Array(data.buffer, data.byteOffset, data.byteLength / 4);
  let hash = 2166136261, ink = 0;
  const colours = new Set();
  for (let i = 0; i < words.length; i++) {
    const v = words[i];  // little endian: A B G R
    hash = Math.imul(hash ^ v, 16777619);
    const white = (v & 255) > 250 && ((v >>> 8) & 255) > 250 && ((v >>> 16) & 255) > 250;
    if (v >>> 24 && !white) ink++;
    if (colours.size < 256) colours.add(v);
  }
  return { width: w, height: h, hash: (hash >>> 0).toString(16), colours: colours.size, ink };
}"""


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, every: float = 0.25) -> T:
    """Call ``probe`` until it returns something truthy; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = probe()
        except Exception as error:  # the page may be between renders
            last = error
        if last and not isinstance(last, Exception):
            return last  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} ({last!r})")
        time.sleep(every)


def canvas_digest(page: Any, selector: str = "canvas.attnwidgets-heatmap") -> dict[str, Any]:
    """Pixel digest of the first visible canvas matching ``selector``."""
    return page.locator(selector).first.evaluate(CANVAS_DIGEST_JS)  # type: ignore[no-any-return]


def wait_for_drawn_canvas(page: Any, timeout: float) -> dict[str, Any]:
    """Wait until the heatmap is visible and something is drawn on it (not blank or white)."""
    page.locator("canvas.attnwidgets-heatmap").first.wait_for(
        state="visible", timeout=timeout * 1e3
    )

    def drawn() -> dict[str, Any] | None:
        digest = canvas_digest(page)
        return digest if digest["ink"] > 0 else None

    return wait_for(drawn, timeout, "non-blank heatmap pixels")


def wait_for_new_pixels(page: Any, before: dict[str, Any], timeout: float) -> dict[str, Any]:
    def changed() -> dict[str, Any] | None:
        digest = canvas_digest(page)
        return digest if digest["hash"] != before["hash"] and digest["ink"] > 0 else None

    return wait_for(changed, timeout, f"the heatmap pixels to change from {before['hash']}")


def nudge_slider(page: Any, css_class: str, key: str = "ArrowRight") -> None:
    """Focus the handle of the ipywidgets IntSlider with ``css_class`` and press ``key``."""
    handle = page.locator(f".{css_class} .noUi-handle").first
    handle.scroll_into_view_if_needed()
    handle.focus()
    handle.press(key)


def subprocess_env() -> dict[str, str]:
    """The environment for kernels and tools: this checkout's package first, hubs offline."""
    env = dict(os.environ)
    src = str(REPO / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    env["HF_HUB_OFFLINE"] = "1"
    env["TRANSFORMERS_OFFLINE"] = "1"
    return env


class Tools:
    """The helpers above, for test modules (two conftest.py files cannot both be imported)."""

    repo = REPO
    artifacts = ARTIFACTS
    wait_for = staticmethod(wait_for)
    canvas_digest = staticmethod(canvas_digest)
    wait_for_drawn_canvas = staticmethod(wait_for_drawn_canvas)
    wait_for_new_pixels = staticmethod(wait_for_new_pixels)
    nudge_slider = staticmethod(nudge_slider)
    subprocess_env = staticmethod(subprocess_env)
    isolated_jupyter_dirs = staticmethod(lambda base: isolated_jupyter_dirs(base))
    canvas_digest_js = CANVAS_DIGEST_JS


@pytest.fixture(scope="session")
def tools() -> type[Tools]:
    return Tools


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium (the system build) with a fresh profile, one per test module.

    Module scope on purpose: Playwright's sync API allows one instance per thread at a time, so
    a session-scoped browser here or in another test folder would block every other one.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1200, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A new tab; on failure its screenshot and console log go to artifacts/."""
    tab = browser_context.new_page()
    console: list[str] = []
    tab.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    tab.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    try:
        yield tab
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            name = request.node.name.replace("/", "_")
            try:
                tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            except Exception as error:
                console.append(f"(screenshot failed: {error})")
            (ARTIFACTS / f"{name}.console.txt").write_text("\n".join(console), encoding="utf-8")
        tab.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def isolated_jupyter_dirs(base: Path) -> dict[str, str]:
    """Config, data, runtime, settings and workspace folders of our own, with quiet settings."""
    dirs = {
        "JUPYTER_CONFIG_DIR": base / "config",
        "JUPYTER_DATA_DIR": base / "data",
        "JUPYTER_RUNTIME_DIR": base / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": base / "lab-settings",
        "JUPYTERLAB_WORKSPACES_DIR": base / "lab-workspaces",
        "IPYTHONDIR": base / "ipython",
    }
    for folder in dirs.values():
        folder.mkdir(parents=True, exist_ok=True)
    settings = dirs["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab"
    write_json(
        settings / "apputils-extension" / "notification.jupyterlab-settings",
        {"fetchNews": "false", "checkForUpdates": False},
    )
    # "none": every cell stays in the DOM, so outputs below the fold can be found and clicked.
    write_json(
        settings / "notebook-extension" / "tracker.jupyterlab-settings",
        {"windowingMode": "none"},
    )
    write_json(
        settings / "extensionmanager-extension" / "plugin.jupyterlab-settings",
        {"enabled": False},
    )
    # No "build recommended" dialog.
    write_json(
        dirs["JUPYTER_CONFIG_DIR"] / "labconfig" / "page_config.json",
        {"buildCheck": False, "buildAvailable": False},
    )
    return {name: str(folder) for name, folder in dirs.items()}


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    log: Path

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}&reset"

    def api(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None


def shut_down_kernels(lab: Lab) -> None:
    try:
        for kernel in lab.api("/api/kernels"):
            lab.api(f"/api/kernels/{kernel['id']}", method="DELETE")
    except OSError:
        pass


def stop_server(process: subprocess.Popen[bytes], lab: Lab) -> None:
    """Shut down every kernel, then the server (SIGTERM, then SIGKILL after 20 s)."""
    if process.poll() is None:
        shut_down_kernels(lab)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def jupyterlab(jupyterlab_server: Lab) -> Iterator[Lab]:
    """The session's JupyterLab; the kernels a test started are shut down after it."""
    yield jupyterlab_server
    shut_down_kernels(jupyterlab_server)


@pytest.fixture(scope="session")
def jupyterlab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab serving a temporary copy of notebooks/, isolated from the user's settings."""
    base = tmp_path_factory.mktemp("jupyterlab")
    root = base / "root"
    shutil.copytree(REPO / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    try:
        with running_jupyterlab(base, root) as lab:
            yield lab
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(base / "jupyterlab.log", ARTIFACTS / "jupyterlab.log")


@contextlib.contextmanager
def running_jupyterlab(base: Path, root: Path) -> Iterator[Lab]:
    """JupyterLab on a free local port serving ``root``, with its Jupyter folders under
    ``base`` (also used by benchmarks/jupyterlab_attention.py); stopped on exit."""
    port = free_port()
    token = os.urandom(16).hex()
    env = {**subprocess_env(), **isolated_jupyter_dirs(base)}
    log = base / "jupyterlab.log"
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--allow-root",
    ]
    lab = Lab(url=f"http://127.0.0.1:{port}", token=token, root=root, log=log)
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
        try:

            def ready() -> bool:
                if process.poll() is not None:
                    tail = log.read_text(errors="replace")[-3000:]
                    pytest.fail(f"jupyter lab exited ({process.returncode}):\n{tail}")
                try:
                    return bool(lab.api("/api/status"))
                except OSError:
                    return False

            wait_for(ready, 90, f"JupyterLab on port {port} (log: {log})", every=0.5)
            yield lab
        finally:
            stop_server(process, lab)
