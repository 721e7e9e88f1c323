"""notebooks/attention_marimo.py served by ``marimo run`` on loopback: MiniLM's AttentionView
through ``mo.ui.anywidget``; moving marimo's layer slider (bound to the view's trait in Python)
redraws the heatmap, and typing new text in the view's own box re-runs the model through
marimo's kernel (the view's custom messages work there too)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from servers import free_port, running

pytestmark = pytest.mark.slow

RENDER = 120  # seconds: the app runs every cell (MiniLM loads) before the view shows
REDRAW = 60


@pytest.fixture(scope="module")
def marimo_url(tools: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("marimo")
    app = tools.repo / "notebooks" / "attention_marimo.py"
    port = free_port()
    command = [
        sys.executable, "-m", "marimo", "run", str(app), "--headless", "--no-token",
        "--no-sandbox", "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    env = tools.subprocess_env()
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        (base / name).mkdir()
        env[name] = str(base / name)  # marimo's own config and state stay in the test
    log = base / "marimo.log"
    url = f"http://127.0.0.1:{port}"
    try:
        with running(command, cwd=base, env=env, log=log, probe=f"{url}/health", timeout=90):
            yield url
    finally:
        tools.artifacts.mkdir(exist_ok=True)
        shutil.copy(log, tools.artifacts / "marimo.log")


def qlabels(view: Any) -> list[str]:
    return view.locator(".attnwidgets-qlabel").all_inner_texts()  # type: ignore[no-any-return]


def test_marimo_slider_redraws_and_text_reruns(marimo_url: str, page: Any, tools: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(marimo_url, timeout=RENDER * 1e3)
    before = tools.wait_for_drawn_canvas(page, RENDER)
    view = page.locator(".attnwidgets-attention").first
    tools.wait_for(lambda: "layer 0" in view.inner_text(), REDRAW, "the view at layer 0")
    assert "head 2" in view.inner_text()

    layer = page.get_by_role("slider").first  # marimo's own slider (Radix), keyboard-driven
    layer.focus()
    layer.press("ArrowRight")
    after = tools.wait_for_new_pixels(page, before, REDRAW)
    tools.wait_for(lambda: "layer 1" in view.inner_text(), REDRAW, "the view to name layer 1")
    assert "head 2" in view.inner_text()

    box = view.locator(".attnwidgets-text")
    box.click()
    box.fill("Dogs bark loudly")
    box.press("Enter")
    expected = ["[CLS]", "dogs", "bark", "loudly", "[SEP]"]
    tools.wait_for(lambda: qlabels(view) == expected, REDRAW, f"the labels {expected}")
    tools.wait_for_new_pixels(page, after, REDRAW)
    assert "layer 1" in view.inner_text()  # layer and head stay where they were
    tools.artifacts.mkdir(exist_ok=True)
    view.screenshot(path=str(tools.artifacts / "marimo.png"))
    assert not errors, errors
