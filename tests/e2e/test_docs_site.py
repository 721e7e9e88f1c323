"""The documentation site (Sphinx + MyST-NB, ``docs/``) built as a user or CI would, with
``-W``: every notebook executes, the pages hold live widgets, and the index opened from disk
in Chromium, with every network request refused, draws MiniLM's attention and redraws when a
slider moves. A broken reference or a raising notebook fails the build."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

DRAW = 60  # seconds


def sphinx(
    tools: Any, source: Path, out: Path, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """``sphinx -W --keep-going -b html`` of ``source`` with docs/conf.py (``-T``: a failure
    prints its whole traceback, the raising cell's error included)."""
    command = [
        sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-T", "-b", "html",
        "-c", str(tools.repo / "docs"), "-d", str(out / "doctrees"), str(source), str(out / "html"),
    ]  # fmt: skip
    env = {**tools.subprocess_env(), "ATTNWIDGETS_FAST": "1"}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def site(tools: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    result = sphinx(tools, tools.repo / "docs", out)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return out / "html"


def offline(page: Any) -> list[str]:
    """Refuse every request that does not read a file of the site; returns what was asked."""
    asked: list[str] = []

    def route(request: Any) -> None:
        if request.request.url.startswith(("file:", "data:", "blob:")):
            request.continue_()
        else:
            asked.append(request.request.url)
            request.abort()

    page.route("**/*", route)
    return asked


def test_index_opens_from_disk_with_a_working_widget(site: Path, page: Any, tools: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    asked = offline(page)
    page.goto((site / "index.html").as_uri())
    before = tools.wait_for_drawn_canvas(page, DRAW)
    view = page.locator(".attnwidgets-attention").first
    assert "layer 0" in view.inner_text() and "head 2" in view.inner_text()
    tools.nudge_slider(page, "attnwidgets-layer-slider")
    tools.wait_for_new_pixels(page, before, DRAW)
    tools.wait_for(lambda: "layer 1" in view.inner_text(), DRAW, "the view to name layer 1")
    tools.artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(tools.artifacts / "docs-index.png"))
    assert not asked, f"the page asked the network for {asked}"
    assert not errors, errors


def test_every_page_is_there_with_its_content(site: Path) -> None:
    def text(name: str) -> str:
        return (site / name).read_text(encoding="utf-8")

    api = text("api.html")
    for name in ("attnwidgets.wrap", "attnwidgets.save_html", "attnwidgets.AttentionView"):
        assert f'id="{name}"' in api, f"{name} missing from the API reference"
    coming = text("coming_from.html")
    assert "bertviz" in coming and "CircuitsVis" in coming and "TransformerLens" in coming
    assert coming.count('type="application/vnd.jupyter.widget-view+json"') == 3  # cells ran
    assert "sdpa (2, 4, 7, 7)" in coming
    assert "<table" in text("benchmarks.html") and "Capture overhead" in text("benchmarks.html")
    for notebook in ("quickstart", "positions", "training_norms", "vision", "dashboard"):
        page = text(f"notebooks/{notebook}.html")
        assert "application/vnd.jupyter.widget-state+json" in page, notebook
    assert (site / "_static" / "widgets" / "module-anywidget.js").is_file()


@pytest.mark.parametrize(
    ("page", "error"),
    [
        ("See {doc}`no_such_page`.\n", "unknown document"),
        (
            "---\nfile_format: mystnb\nkernelspec:\n  name: python3\n  display_name: Python 3\n"
            "---\n\n```{code-cell} python\nraise ValueError('a notebook that raises')\n```\n",
            "a notebook that raises",
        ),
    ],
    ids=["broken-reference", "raising-notebook"],
)
def test_the_build_fails_on(page: str, error: str, tools: Any, tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "index.md").write_text("# A broken site\n\n```{toctree}\nbroken\n```\n")
    if page.startswith("---"):  # a MyST notebook: the title goes after its front matter
        page = page.replace("---\n\n", "---\n\n# Broken\n\n", 1)
    else:
        page = f"# Broken\n\n{page}"
    (source / "broken.md").write_text(page)
    result = sphinx(tools, source, tmp_path / "out", timeout=300)
    assert result.returncode != 0
    assert error in result.stdout + result.stderr, result.stderr[-3000:]
