"""scripts/report.py on notebooks/vision.ipynb: one HTML page that works with no network. Opened
from file:// with every other request aborted, the Patching and Image attention views paint,
the prediction grid draws its thumbnails with the attention of the image the notebook opened
below it, and its filters work without a kernel."""

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
    output = tmp_path_factory.mktemp("report") / "vision.html"
    env = {**tools.subprocess_env(), "ATTNWIDGETS_FAST": "1"}
    script = tools.repo / "scripts" / "report.py"
    notebook = tools.repo / "notebooks" / "vision.ipynb"
    result = subprocess.run(
        [sys.executable, str(script), str(notebook), "-o", str(output)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return output


def test_vision_page_draws_offline(report: Path, page: Any, tools: Any) -> None:
    attempted: list[str] = []

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith(LOCAL_SCHEMES):
            request_route.continue_()
        else:
            attempted.append(url)
            request_route.abort()

    page.route("**/*", route)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(report.as_uri())
    grid = page.locator('.attnwidgets-prediction-grid[data-state="ready"]')
    tools.wait_for(lambda: grid.count() == 1, DRAW, f"the grid (requests out: {attempted})")
    views = page.locator(".attnwidgets-image-attention")
    tools.wait_for(lambda: views.count() >= 3 and all(
        views.nth(i).get_attribute("data-state") == "ready" for i in range(views.count())
    ), DRAW, "every image attention view painted")  # fmt: skip
    assert page.locator(".attnwidgets-patching").count() >= 1
    items = grid.locator("figure.attnwidgets-grid-item")
    assert items.count() == 64
    opened = grid.get_attribute("data-opened")
    assert opened not in (None, "-1")  # the notebook opened the first wrong image's attention
    assert grid.locator(f'figure[data-index="{opened}"]').get_attribute("class").count("is-wrong")
    grid.locator("select.attnwidgets-grid-correctness").select_option("wrong")
    wrong = int(grid.get_attribute("data-shown") or 0)
    assert 0 < wrong < 64 and items.count() == wrong
    assert not errors, errors
    assert attempted == [], f"the page tried to reach the network: {sorted(set(attempted))}"
