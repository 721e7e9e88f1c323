"""scripts/report.py: the executed quick start as one HTML page that works with no network.

The page is opened from file:// with every other request aborted and recorded; the heatmap must
draw and the jslinked sliders must redraw it without a kernel (MiniLM's 6 layers are small
enough to be preloaded in the widget state). The Play button's FontAwesome icons must draw
as their shapes (a triangle, a square, two bars), not as missing-glyph boxes: the fonts are
inlined as ``data:`` URLs, so no request fails, not even one for a file next to the page.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

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
    """The page, with every request that would leave the machine aborted and recorded, and
    every request that failed (a missing local file too) recorded as ``failed: <url>``."""
    attempted: list[str] = []
    page.on("requestfailed", lambda r: attempted.append(f"failed: {r.url[:200]}"))

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
    # The quick start's view came from aw.wrap (a text box in JupyterLab); here no kernel can
    # run the model, so the box is not offered.
    box = view.locator(".attnwidgets-live")
    assert box.count() == 1, "the attention view has no live text box element at all"
    assert not box.is_visible(), "the page offers a text box that no kernel can answer"

    tools.artifacts.mkdir(exist_ok=True)
    page.locator(".attnwidgets-explorer").first.screenshot(
        path=str(tools.artifacts / "offline-report.png")
    )
    assert attempted == [], f"the page tried to reach the network: {sorted(set(attempted))}"


def ink_mask(png: bytes) -> np.ndarray:
    """Dark pixels of an element screenshot (icons are drawn dark on a light button)."""
    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.int16)
    ink = grey < (int(grey.max()) + int(grey.min())) // 2
    assert ink.any() and not ink.all(), "the icon drew nothing"
    rows, cols = np.nonzero(ink)
    return ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def icon_ink(page: Any, icon: str) -> np.ndarray:
    """The ink of the first visible ``<i class="fa fa-<icon>">`` under the Play widget."""
    element = page.locator(f".attnwidgets-play i.fa-{icon}").first
    element.wait_for(state="visible", timeout=DRAW * 1e3)
    return ink_mask(element.screenshot())


def test_offline_page_play_button_icons_draw(
    report: Path, offline_page: tuple[Any, list[str]], tools: Any
) -> None:
    page, attempted = offline_page
    page.goto(report.as_uri())
    tools.wait_for_drawn_canvas(page, DRAW)
    # A missing glyph is a hollow box, the same on the left and on the right.
    play = icon_ink(page, "play")  # a triangle pointing right: tall on the left, a tip right
    heights = play.sum(axis=0)
    assert heights[0] >= 0.8 * play.shape[0] and heights[-1] <= 0.4 * play.shape[0], heights
    stop = icon_ink(page, "stop")  # a filled square
    assert stop.mean() > 0.85, stop.astype(int)
    assert page.evaluate("() => document.fonts.check('900 16px \"Font Awesome 5 Free\"')")

    page.locator(".attnwidgets-play button").first.click()  # playing: the icon turns to pause
    pause = icon_ink(page, "pause")  # two filled bars with a gap
    columns = pause.mean(axis=0)  # (the bars have rounded corners)
    bars = min(columns[: len(columns) // 3].max(), columns[-(len(columns) // 3) :].max())
    assert bars > 0.9 and columns[len(columns) // 2] == 0, pause.astype(int)
    page.locator(".attnwidgets-play button:has(i.fa-pause)").first.click()  # pause again
    icon_ink(page, "play")
    assert attempted == [], f"the page tried to reach the network: {sorted(set(attempted))}"


def test_report_explains_missing_offline_scripts(tools: Any, tmp_path: Path) -> None:
    # a copy of the package whose static/offline/ (built by `npm run build`) is missing
    package = tmp_path / "src" / "attnwidgets"
    shutil.copytree(
        tools.repo / "src" / "attnwidgets",
        package,
        ignore=shutil.ignore_patterns("__pycache__", "demo_models", "offline"),
    )
    env = {**tools.subprocess_env(), "PYTHONPATH": str(tmp_path / "src")}
    result = subprocess.run(
        [
            sys.executable,
            str(tools.repo / "scripts" / "report.py"),
            str(tools.repo / "notebooks" / "quickstart.ipynb"),
            "-o",
            str(tmp_path / "out.html"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "require.js is missing" in result.stderr and "npm run build" in result.stderr
    assert not (tmp_path / "out.html").exists()


# Tokens that break a page whose widget state is not escaped for a <script> element ("<!--"
# then "<script": the browser's parser no longer ends the element at its "</script>"; no "-->"
# after them, which would undo it), and payloads that would run if a label were parsed as HTML.
HOSTILE_TOKENS = [
    "<!--",
    "</script>",
    "<script>alert(1)</script>",
    '<img src=x onerror="window.__pwned=1">',
    "<svg onload=window.__pwned=1>",
    "&amp;",
    "\u202eexe.txt",
    "ok",
]
TRAPS = """
window.__dialogs = [];
for (const name of ["alert", "confirm", "prompt"]) {
  window[name] = (message) => { window.__dialogs.push([name, String(message)]); };
}
"""


def write_notebook(path: Path, source: str, outputs: list[Any] | None = None, **meta: Any) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(source)
    if outputs is not None:
        cell.outputs = [nbformat.from_dict(output) for output in outputs]
    nb.cells = [cell]
    nb.metadata.update(meta)
    nbformat.write(nb, path)
    return path


def run_report(tools: Any, notebook: Path, output: Path, *extra: str) -> Any:
    return subprocess.run(
        [
            sys.executable,
            str(tools.repo / "scripts" / "report.py"),
            str(notebook),
            "-o",
            str(output),
            *extra,
        ],
        env=tools.subprocess_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def hostile_report(tools: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    source = (
        "import json\nimport numpy as np\nimport attnwidgets as aw\n"
        f"tokens = json.loads({json.dumps(json.dumps(HOSTILE_TOKENS))})\n"
        "n = len(tokens)\n"
        "att = np.random.default_rng(0).dirichlet(np.ones(n), size=(2, 2, n)).astype(np.float32)\n"
        "aw.AttentionView(att, tokens, preload='all')"
    )
    notebook = write_notebook(folder / "hostile.ipynb", source)
    output = folder / "hostile.html"
    result = run_report(tools, notebook, output)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "wrote" in result.stdout
    return output


def test_offline_page_with_hostile_tokens_keeps_its_widgets(
    hostile_report: Path, offline_page: tuple[Any, list[str]], tools: Any
) -> None:
    page, attempted = offline_page
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.add_init_script(TRAPS)
    page.goto(hostile_report.as_uri())
    tools.wait_for_drawn_canvas(page, DRAW)  # the state survived: the heatmap draws
    labels = page.locator(".attnwidgets-qlabel").evaluate_all("(ls) => ls.map((l) => l.title)")
    want = [t.replace("\u202e", "⟨U+202E⟩") for t in HOSTILE_TOKENS]
    assert labels == want  # the literal strings, as text
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("window.__dialogs") == [] and dialogs == []
    assert page.locator(".attnwidgets-attention img, .attnwidgets-attention svg").count() == 0
    assert attempted == [], f"the page tried to reach the network: {sorted(set(attempted))}"


def test_report_refuses_a_page_that_would_lose_its_widgets(tools: Any, tmp_path: Path) -> None:
    # an output that shows a widget whose state the notebook does not hold: offline, a blank
    view = {"version_major": 2, "version_minor": 0, "model_id": "0123456789abcdef"}
    output = {
        "output_type": "display_data",
        "metadata": {},
        "data": {"application/vnd.jupyter.widget-view+json": view, "text/plain": "view"},
    }
    state = {
        "application/vnd.jupyter.widget-state+json": {
            "version_major": 2,
            "version_minor": 0,
            "state": {},
        }
    }
    notebook = write_notebook(tmp_path / "broken.ipynb", "view", [output], widgets=state)
    result = run_report(tools, notebook, tmp_path / "broken.html", "--no-execute")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "would lose its widgets" in result.stderr and "wrote" not in result.stdout
    assert not (tmp_path / "broken.html").exists()
