"""notebooks/dashboard.ipynb served by Voila on loopback, used as a person would: the page runs
the notebook (MiniLM) and shows the explorer with no code; typing new text in the box and
pressing Enter re-runs the model through Voila's kernel (new token labels, new pixels), and
the layer slider still drives the view afterwards. Picking SmolLM2 in the model box brings a
generate button, and generating grows the view's rows through the kernel."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from servers import free_port, running

pytestmark = pytest.mark.slow

RENDER = 120  # seconds: Voila executes the notebook (MiniLM loads) before the widgets show
REDRAW = 60


@pytest.fixture(scope="module")
def voila_url(tools: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("voila")
    root = base / "root"
    root.mkdir()
    shutil.copy(tools.repo / "notebooks" / "dashboard.ipynb", root)
    port = free_port()
    command = [
        sys.executable, "-m", "voila", "dashboard.ipynb", "--no-browser",
        "--Voila.ip=127.0.0.1", f"--port={port}",
    ]  # fmt: skip
    env = {**tools.subprocess_env(), **tools.isolated_jupyter_dirs(base)}
    log = base / "voila.log"
    url = f"http://127.0.0.1:{port}"
    try:  # the probe is a static file: asking for "/" would start a kernel
        with running(
            command, cwd=root, env=env, log=log, probe=f"{url}/voila/static/voila.js", timeout=90
        ):
            yield url
    finally:
        tools.artifacts.mkdir(exist_ok=True)
        shutil.copy(log, tools.artifacts / "voila.log")


def qlabels(view: Any) -> list[str]:
    return view.locator(".attnwidgets-qlabel").all_inner_texts()  # type: ignore[no-any-return]


def test_dashboard_typing_new_text_reruns_the_model(voila_url: str, page: Any, tools: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(voila_url, timeout=RENDER * 1e3)
    before = tools.wait_for_drawn_canvas(page, RENDER)
    shown = page.locator("body").inner_text()
    assert "Attention dashboard" in shown and "aw.wrap(" not in shown, "code shown"
    view = page.locator(".attnwidgets-attention").first
    assert qlabels(view)[:3] == ["[CLS]", "the", "cat"]
    assert not view.locator(".attnwidgets-generate").is_visible()  # BERT: no LM head

    box = view.locator(".attnwidgets-text")
    box.click()
    box.fill("Dogs bark loudly")
    box.press("Enter")
    expected = ["[CLS]", "dogs", "bark", "loudly", "[SEP]"]
    tools.wait_for(lambda: qlabels(view) == expected, REDRAW, f"the labels {expected}")
    status = view.locator(".attnwidgets-live-status")
    tools.wait_for(lambda: status.inner_text() == "5 tokens", REDRAW, "the run to finish")
    after = tools.wait_for_new_pixels(page, before, REDRAW)
    assert view.get_attribute("data-state") == "ready"

    tools.nudge_slider(page, "attnwidgets-layer-slider")
    tools.wait_for(lambda: "layer 1" in view.inner_text(), REDRAW, "layer 1 of the new text")
    tools.wait_for_new_pixels(page, after, REDRAW)
    assert qlabels(view) == expected
    tools.artifacts.mkdir(exist_ok=True)
    page.locator(".attnwidgets-explorer").first.screenshot(path=str(tools.artifacts / "voila.png"))
    assert not errors, errors


def test_dashboard_generates_with_a_language_model(voila_url: str, page: Any, tools: Any) -> None:
    """Pick SmolLM2 in the model box (loaded from its GGUF file the first time, ~30 s, then
    from a safetensors cache): the explorer comes back with a generate button; generating 6
    new tokens grows its rows by as many, through Voila's kernel."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(voila_url, timeout=RENDER * 1e3)
    tools.wait_for_drawn_canvas(page, RENDER)
    page.locator(".dashboard-model select").select_option(label="SmolLM2-135M-Instruct (generates)")
    view = page.locator(".attnwidgets-attention").first
    generate = view.locator(".attnwidgets-generate")
    generate.wait_for(state="visible", timeout=RENDER * 1e3)
    assert "30 layers x 9 heads" in page.locator("body").inner_text()
    rows = len(qlabels(view))
    view.locator(".attnwidgets-new-tokens").fill("6")
    generate.click()
    status = view.locator(".attnwidgets-live-status")
    tools.wait_for(lambda: status.inner_text() == "generated 6 new tokens", RENDER, "generation")
    assert len(qlabels(view)) == rows + 5  # the last new token is not fed back
    assert not errors, errors
