"""The attack on the widgets, kept: hostile strings in Chromium, a crafted message table,
widgets created, closed and collected. Runs as its own pytest process (scripts/test.sh).

The page (``hostile_page.PAGE``) mounts any built ``*_view.js`` on a fake anywidget model and
traps what an injection would do: ``window.__pwned`` set, ``alert``/``confirm``/``prompt``
called (recorded in ``window.__dialogs``), a real dialog (``page.dialogs``), an element that
no widget makes (``img``, ``script``, ``svg``, ``iframe``, ``a``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "browser"))  # page_server, kernel_bridge
sys.path.insert(0, str(HERE))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    from hostile_page import PAGE
    from page_server import STATIC, serve_page

    if not (STATIC / "attention_view.js").is_file():
        pytest.fail("the bundles are not built: run `npm run build`")
    with serve_page(PAGE) as url:
        yield url


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
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


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A fresh trapped page; after the test, nothing may have fired."""
    from hostile_page import TRAPS

    tab = browser.new_page()
    tab.errors = []
    tab.dialogs = []
    tab.on("pageerror", lambda exc: tab.errors.append(str(exc)))
    tab.on("console", lambda m: m.type == "error" and tab.errors.append(m.text))

    def on_dialog(dialog: Any) -> None:
        tab.dialogs.append((dialog.type, dialog.message))
        dialog.dismiss()

    tab.on("dialog", on_dialog)
    tab.add_init_script(TRAPS)
    tab.goto(server)
    tab.wait_for_function("window.harnessReady === true")
    yield tab
    tab.close()
