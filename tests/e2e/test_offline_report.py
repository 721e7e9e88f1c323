"""scripts/report.py: the executed quick start as one HTML page that works with no network.

The page is opened from file:// with every other request aborted and recorded; the heatmap must
draw and the jslinked sliders must redraw it without a kernel (MiniLM's 6 layers are small
enough to be preloaded in the widget state).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

LOCAL_SCHEMES = ("file:", "data:", "blob:")
DRAW = 60  # seconds


@pytest.fixture(scope="module")
def report(tools: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("report") / "quickstart.html"
    result = subprocess.run(
        [
            sys.executable,
            str(tools.repo / "scripts" / "report.py"),
            str(tools.repo / "notebooks" / "quickstart.ipynb"),
            "-o",
            str(output),
        ],
        env=tools.subprocess_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert output.is_file()
    return output


@pytest.fixture
def offline_page(page: Any) -> tuple[Any, list[str]]:
    """The page, with every request that would leave the machine aborted and recorded."""
    attempted: list[str] = []

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith(LOCAL_SCHEMES):
            request_route.continue_()
        else:
            attempted.append(url)
            request_route.abort()

    page.route("**/*", route)
    page.on(
        "request", lambda r: None if r.url.startswith(LOCAL_SCHEMES) else attempted.append(r.url)
    )
    return page, attempted


def test_offline_page_draws_and_sliders_work_without_kernel(
    report: Path, offline_page: tuple[Any, list[str]], tools: Any
) -> None:
    page, attempted = offline_page
    page.goto(report.as_uri())
    try:
        before = tools.wait_for_drawn_canvas(page, DRAW)
    except AssertionError as error:
        raise AssertionError(f"{error}; requests that tried to leave: {attempted}") from error
    view = page.locator(".attnwidgets-attention").first
    assert "layer 0" in view.inner_text()
    assert "head 2" in view.inner_text()

    tools.nudge_slider(page, "attnwidgets-head-slider")
    after_head = tools.wait_for_new_pixels(page, before, DRAW)
    tools.wait_for(lambda: "head 3" in view.inner_text(), DRAW, "the view to name head 3")

    tools.nudge_slider(page, "attnwidgets-layer-slider")
    tools.wait_for_new_pixels(page, after_head, DRAW)
    tools.wait_for(lambda: "layer 1" in view.inner_text(), DRAW, "the view to name layer 1")
    assert "no kernel" not in view.inner_text()  # every layer is in the page

    tools.artifacts.mkdir(exist_ok=True)
    page.locator(".attnwidgets-explorer").first.screenshot(
        path=str(tools.artifacts / "offline-report.png")
    )
    assert attempted == [], f"the page tried to reach the network: {sorted(set(attempted))}"


def test_report_explains_missing_npm_packages(tools: Any, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(tools.repo / "scripts" / "report.py"),
            str(tools.repo / "notebooks" / "quickstart.ipynb"),
            "-o",
            str(tmp_path / "out.html"),
            "--node-modules",
            str(tmp_path / "node_modules"),
        ],
        env=tools.subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "requirejs" in result.stderr and "npm ci" in result.stderr
    assert not (tmp_path / "out.html").exists()
