"""aw.save_html: any view, panel or run as one HTML file, opened from disk in Chromium with
every request that would leave the machine aborted and recorded. Sliders, tabs and the panels'
buttons work without a kernel; the layers asked for are in the page (``layers=`` /
``max_bytes=``), the ones left out say so; an image view's other layers come from the replies
recorded in the page."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import attnwidgets as aw
from attnwidgets.export import ExportError

pytestmark = pytest.mark.slow

LOCAL_SCHEMES = ("file:", "data:", "blob:")
DRAW = 60  # seconds
STATE = re.compile(
    r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', re.DOTALL
)


@pytest.fixture
def offline(page: Any) -> tuple[Any, list[str]]:
    """The page, with every request that would leave the machine aborted and recorded."""
    return refuse_network(page)


def refuse_network(page: Any) -> tuple[Any, list[str]]:
    """``page`` with every request that would leave the machine aborted and recorded (the
    list); errors thrown in the page go to ``page.errors``."""
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
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    return page, attempted


@pytest.fixture(scope="module")
def minilm_run() -> Any:
    import torch

    torch.set_num_threads(1)
    model, tokenizer = aw.demo.load_minilm()
    return aw.wrap(model, tokenizer, qkv=True)("The cat sat on the mat because it was tired.")


def page_models(path: Path) -> dict[str, Any]:
    """The widget models of a saved page, by model id."""
    found = STATE.search(path.read_text(encoding="utf-8"))
    assert found, "no widget state in the page"
    models: dict[str, Any] = json.loads(found.group(1))["state"]
    return models


def attention_state(path: Path) -> dict[str, Any]:
    (state,) = [
        model["state"]
        for model in page_models(path).values()
        if model["state"].get("_anywidget_id", "").endswith("AttentionView")
        or "chunk" in model["state"]
    ]
    return state


def click_tab(page: Any, name: str) -> None:
    page.locator(".lm-TabBar-tab", has_text=re.compile(rf"^{name}$")).first.click()


def drawn(page: Any, tools: Any, selector: str) -> dict[str, Any]:
    page.locator(selector).first.wait_for(state="visible", timeout=DRAW * 1e3)

    def inked() -> dict[str, Any] | None:
        digest = tools.canvas_digest(page, selector)
        return digest if digest["ink"] > 0 else None

    return tools.wait_for(inked, DRAW, f"pixels on {selector}")


def changed(page: Any, tools: Any, selector: str, before: dict[str, Any]) -> dict[str, Any]:
    def new() -> dict[str, Any] | None:
        digest = tools.canvas_digest(page, selector)
        return digest if digest["hash"] != before["hash"] and digest["ink"] > 0 else None

    return tools.wait_for(new, DRAW, f"new pixels on {selector}")


def test_a_run_page_works_offline_in_every_tab(
    minilm_run: Any, offline: tuple[Any, list[str]], tools: Any, tmp_path: Path, capsys: Any
) -> None:
    path = aw.save_html(minilm_run, tmp_path / "run.html")
    printed = capsys.readouterr().out
    assert re.search(r"wrote .*run\.html \(\d+\.\d MB\): .*AttentionView: layers 0-5 of 6", printed)
    assert "TokenizerView: nearest neighbours of the text's" in printed  # the Tokens tab
    assert attention_state(path)["chunk"]["layers"] == [0, 1, 2, 3, 4, 5]
    page, attempted = offline
    page.goto(path.as_uri())

    heatmap = "canvas.attnwidgets-heatmap"
    before = tools.wait_for_drawn_canvas(page, DRAW)
    view = page.locator(".attnwidgets-attention").first
    tools.nudge_slider(page, "attnwidgets-layer-slider")
    changed(page, tools, heatmap, before)
    tools.wait_for(lambda: "layer 1" in view.inner_text(), DRAW, "the view to name layer 1")
    assert "not in this page" not in view.inner_text()
    page.locator("button.attnwidgets-toggle-overview").first.click()  # thumbnails in the page
    drawn(page, tools, "canvas.attnwidgets-thumbnails")
    assert "kernel" not in page.locator(".attnwidgets-overview").first.inner_text()
    assert not view.locator(".attnwidgets-live").first.is_visible()  # no text box: no kernel

    click_tab(page, "Norms")
    hist = "canvas.attnwidgets-norm-hist"
    before = drawn(page, tools, hist)
    tools.nudge_slider(page, "attnwidgets-norm-slider")
    changed(page, tools, hist, before)

    click_tab(page, "Positions")
    plot = "canvas.attnwidgets-position-canvas"
    before = drawn(page, tools, plot)
    tools.nudge_slider(page, "attnwidgets-position-slider")
    changed(page, tools, plot, before)

    click_tab(page, "Steps")
    drawn(page, tools, "canvas.attnwidgets-step-canvas")
    tools.artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(tools.artifacts / "save-html-run.png"), full_page=True)
    assert attempted == [], f"the page tried to reach the network: {sorted(set(attempted))}"
    assert page.errors == []


def synthetic(layers: int = 6, heads: int = 4, n: int = 300) -> np.ndarray:
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(layers, heads, n, n)).astype(np.float32) * 3
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    return (weights / weights.sum(-1, keepdims=True)).astype(np.float32)


def test_layers_asked_for_are_in_the_page_and_others_say_so(
    offline: tuple[Any, list[str]], tools: Any, tmp_path: Path, capsys: Any
) -> None:
    box = aw.attention_explorer(synthetic(), [f"t{i}" for i in range(300)], preload="layer")
    path = aw.save_html(box, tmp_path / "two.html", layers=[2])
    assert "AttentionView: layers 0, 2 of 6" in capsys.readouterr().out
    assert attention_state(path)["chunk"]["layers"] == [0, 2]  # the one shown comes too
    page, attempted = offline
    page.goto(path.as_uri())
    before = tools.wait_for_drawn_canvas(page, DRAW)
    view = page.locator(".attnwidgets-attention").first
    tools.nudge_slider(page, "attnwidgets-layer-slider")  # layer 1: not in the page
    tools.wait_for(lambda: "not in this page" in view.inner_text(), DRAW, "a missing layer note")
    tools.nudge_slider(page, "attnwidgets-layer-slider")  # layer 2: in the page
    tools.wait_for(lambda: "layer 2" in view.inner_text(), DRAW, "layer 2")
    changed(page, tools, "canvas.attnwidgets-heatmap", before)
    tools.wait_for(lambda: "not in this page" not in view.inner_text(), DRAW, "layer 2 drawn")
    assert attempted == []


def test_max_bytes_leaves_out_the_farthest_layers_and_refuses_asked_ones(
    tmp_path: Path, capsys: Any
) -> None:
    data = synthetic()
    view = aw.AttentionView(data, layer=3)
    alone = aw.save_html(view, tmp_path / "a.html", layers=[]).stat().st_size
    capsys.readouterr()
    one_layer = int(data[0].size * 4 / 3) + 1000  # a layer in base64, and its meta
    path = aw.save_html(view, tmp_path / "b.html", max_bytes=alone + 2 * one_layer)
    printed = capsys.readouterr().out
    assert "layers 2-4 of 6 (layers 0, 1, 5 left out: max_bytes)" in printed, printed
    assert attention_state(path)["chunk"]["layers"] == [2, 3, 4]  # nearest to 3 first
    assert path.stat().st_size <= alone + 2 * one_layer
    with pytest.raises(ExportError, match=r"layers \[0, 5\] need .* MB.*max_bytes"):
        aw.save_html(view, tmp_path / "c.html", layers=[0, 5], max_bytes=alone + one_layer)
    assert not (tmp_path / "c.html").exists()
    with pytest.raises(ExportError, match=r"layers: \[6\] are not layers of this page"):
        aw.save_html(view, tmp_path / "d.html", layers=[6])
    with pytest.raises(TypeError, match="save_html takes a widget"):
        aw.save_html(data, tmp_path / "e.html")


@pytest.fixture(scope="module")
def fashion() -> tuple[Any, Any, np.ndarray, np.ndarray]:
    import torch

    torch.set_num_threads(1)
    return aw.demo.load_fashion_vit(limit=64)  # type: ignore[no-any-return]


def test_vision_run_page_switches_layers_from_recorded_replies(
    fashion: Any, offline: tuple[Any, list[str]], tools: Any, tmp_path: Path, capsys: Any
) -> None:
    model, processor, images, _ = fashion
    run = aw.wrap(model, processor)(images[0])
    path = aw.save_html(run, tmp_path / "vision.html")
    assert "ImageAttentionView: layers 0-3 of 4" in capsys.readouterr().out
    page, attempted = offline
    page.goto(path.as_uri())
    tools.wait_for_drawn_canvas(page, DRAW)
    click_tab(page, "Image attention")
    view = page.locator(".attnwidgets-image-attention").first
    tools.wait_for(lambda: view.get_attribute("data-state") == "ready", DRAW, "first paint")
    canvas = "canvas.attnwidgets-vision-canvas"
    before = tools.canvas_digest(page, canvas)
    slider = view.locator("input.attnwidgets-vision-layer").bounding_box()
    page.mouse.click(slider["x"] + slider["width"] - 3, slider["y"] + slider["height"] / 2)

    def layer_3_painted() -> bool:  # from the replies in the page: there is no kernel
        state = view.get_attribute("data-state")
        return bool(view.get_attribute("data-layer") == "3" and state == "ready")

    tools.wait_for(layer_3_painted, DRAW, "layer 3 painted")
    changed(page, tools, canvas, before)
    click_tab(page, "Patching")
    drawn(page, tools, ".attnwidgets-patching canvas")
    assert attempted == [], f"the page tried to reach the network: {sorted(set(attempted))}"
    assert page.errors == []


def test_prediction_grid_page_filters_without_a_kernel(
    fashion: Any, offline: tuple[Any, list[str]], tools: Any, tmp_path: Path, capsys: Any
) -> None:
    model, processor, images, labels = fashion
    grid = aw.PredictionGrid(model, processor, images, labels)
    path = aw.save_html(grid, tmp_path / "grid.html")
    assert "PredictionGridView: opening an image needs a kernel" in capsys.readouterr().out
    page, attempted = offline
    page.goto(path.as_uri())
    root = page.locator('.attnwidgets-prediction-grid[data-state="ready"]')
    tools.wait_for(lambda: root.count() == 1, DRAW, "the grid")
    assert root.locator("figure.attnwidgets-grid-item").count() == 64
    shown = root.get_attribute("data-shown")
    root.locator("select.attnwidgets-grid-correctness").select_option("wrong")
    tools.wait_for(lambda: root.get_attribute("data-shown") != shown, DRAW, "the filter applied")
    drawn(page, tools, "canvas.attnwidgets-grid-thumb")
    assert attempted == []


HOSTILE = ["<!--", "</script>", '<img src=x onerror="window.__pwned=1">', "\u202eexe", "ok"]


def test_hostile_tokens_keep_the_page_whole(
    offline: tuple[Any, list[str]], tools: Any, tmp_path: Path
) -> None:
    rng = np.random.default_rng(0)
    att = rng.dirichlet(np.ones(5), size=(1, 2, 5)).astype(np.float32)
    path = aw.save_html(aw.AttentionView(att, HOSTILE), tmp_path / "h.html", quiet=True)
    page, attempted = offline
    page.goto(path.as_uri())
    tools.wait_for_drawn_canvas(page, DRAW)
    labels = page.locator(".attnwidgets-qlabel").evaluate_all("(ls) => ls.map((l) => l.title)")
    assert labels == [t.replace("\u202e", "⟨U+202E⟩") for t in HOSTILE]
    assert page.evaluate("window.__pwned") is None
    assert attempted == []
