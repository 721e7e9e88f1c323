"""The built VLM view bundles in Chromium, talking to REAL widgets in this process
(vision_harness): attention forced onto known image tokens lights exactly those patches; a
click in the token list moves the overlay; a dragged region lists the text tokens that attend
to it; the layer slider asks the kernel; PCA colours and a clicked patch's cosine map are drawn
where the kernel says; prompts of a dual encoder switch the map; hostile strings stay text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from conftest import open_page
from vision_harness import VisionBridge, vision_server

from attnwidgets.feature_records import FeatureSet, ModuleFeatures, PromptMaps, Surface
from attnwidgets.records import AttentionRecord
from attnwidgets.vlm_records import ImagePosition, ImageView, VLMImage, VLMInfo
from attnwidgets.widgets.vlm import CrossModalView, DualEncoderView, FeatureHeatmapView

GRID = (2, 3)
PATCH = 8
SIZE = 448  # 24 px wide -> 18.67 backing px per image px
K = SIZE / (GRID[1] * PATCH)
OPACITY = 0.7
YELLOW = np.array([253, 231, 37])  # viridis at 1
TEXT = ["<s>", "USER", "What", "?", " A"]  # positions 0, 1, then 6 image tokens, then 8.. 10
CANVAS = "canvas.attnwidgets-vlm-canvas"
HOSTILE = [
    '<img src=x onerror="window.__pwned=1">',
    "</script><script>window.__pwned=2</script>",
    "\u202eevil",
    '"><b id=bold>x</b>',
]


@pytest.fixture(scope="module")
def server(bundle: Any) -> Iterator[str]:
    with vision_server() as url:
        yield url


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    tab = open_page(browser, server)
    yield tab
    assert not tab.errors, tab.errors
    tab.close()


def image_token(r: int, c: int) -> int:
    return 2 + r * GRID[1] + c


def vlm_info(labels: list[str] | None = None) -> VLMInfo:
    """``<s> USER <img> x 6 What ? A``: a 2 x 3 grid of 8 px patches on a black 16 x 24 image."""
    text = labels or TEXT
    sequence = [*text[:2], *["<image>"] * 6, *text[2:]]
    positions = {image_token(r, c): ImagePosition(0, r, c) for r in range(2) for c in range(3)}
    views = (ImageView("image", GRID, patch_size=(PATCH, PATCH)),)
    image = np.zeros((GRID[0] * PATCH, GRID[1] * PATCH, 3), np.uint8)
    return VLMInfo.build("llava", sequence, positions, [VLMImage(0, image, views)])


def forced(targets: dict[int, tuple[int, int]], heads: int = 2) -> np.ndarray:
    """Every query on itself, except ``targets``: query -> the image token of cell (r, c)."""
    n = 11
    weights = np.zeros((heads, n, n), np.float32)
    for q in range(n):
        weights[:, q, q] = 1.0
    for q, (r, c) in targets.items():
        weights[:, q, :] = 0.0
        weights[:, q, image_token(r, c)] = 1.0
    return weights


def centre(r: int, c: int, k: float = K, patch: float = PATCH) -> tuple[int, int]:
    x0, x1 = round(c * patch * k), round((c + 1) * patch * k)
    y0, y1 = round(r * patch * k), round((r + 1) * patch * k)
    return (x0 + x1) // 2, (y0 + y1) // 2


def pixel(page: Any, selector: str, x: int, y: int) -> np.ndarray:
    return np.array(page.evaluate("([s, x, y]) => harness.pixel(s, x, y)", [selector, x, y])[:3])


def lit(page: Any) -> set[tuple[int, int]]:
    """The cells whose centre is not black."""
    out = set()
    for r in range(GRID[0]):
        for c in range(GRID[1]):
            if pixel(page, CANVAS, *centre(r, c)).sum() > 0:
                out.add((r, c))
    return out


def mount(page: Any, view: Any, bundle: str) -> VisionBridge:
    bridge = VisionBridge(page, view, bundle)
    bridge.pump()
    return bridge


def test_forced_attention_lights_its_patch_and_a_token_click_moves_it(page: Any) -> None:
    layer0 = forced({8: (1, 2), 9: (0, 0), 10: (1, 0)})
    layer1 = forced({8: (0, 1), 9: (0, 0), 10: (0, 2)})
    view = CrossModalView(AttentionRecord([layer0, layer1]), info=vlm_info(), opacity=OPACITY)
    bridge = mount(page, view, "cross_modal_view.js")
    root = page.locator(".attnwidgets-cross-modal")
    assert root.get_attribute("data-query") == "10" and root.get_attribute("data-state") == "ready"
    assert lit(page) == {(1, 0)}
    assert np.abs(pixel(page, CANVAS, *centre(1, 0)) - YELLOW * OPACITY).max() <= 2
    page.locator('.attnwidgets-vlm-token[data-index="8"]').click()
    bridge.pump()
    assert view.query == 8
    assert lit(page) == {(1, 2)} and root.get_attribute("data-peak") == "(1, 2)"
    # the next layer comes from the kernel (asked for by message, then cached)
    page.locator("input.attnwidgets-vlm-layer").fill("1")
    bridge.pump()
    assert view.layer == 1
    assert [r["type"] for r in bridge.replies] == ["block"]
    assert lit(page) == {(0, 1)} and root.get_attribute("data-layer") == "1"
    view.query = 10  # from the kernel
    page.evaluate("harness.frames()")
    assert lit(page) == {(0, 2)}


def test_a_dragged_region_lists_the_text_tokens_that_attend_to_it(page: Any) -> None:
    weights = forced({8: (1, 2), 9: (0, 0), 10: (1, 0)})
    view = CrossModalView(AttentionRecord([weights]), info=vlm_info())
    bridge = mount(page, view, "cross_modal_view.js")
    box = page.locator(CANVAS).bounding_box()

    def drag(a: tuple[int, int], b: tuple[int, int]) -> None:
        page.mouse.move(box["x"] + centre(*a)[0], box["y"] + centre(*a)[1])
        page.mouse.down()
        page.mouse.move(box["x"] + centre(*b)[0], box["y"] + centre(*b)[1], steps=4)
        page.mouse.up()
        bridge.pump()

    def values() -> dict[int, float]:
        pairs = page.locator(".attnwidgets-vlm-token").evaluate_all(
            "rows => rows.map((r) => [Number(r.dataset.index), Number(r.dataset.value)])"
        )
        return {int(index): value for index, value in pairs}

    drag((0, 0), (1, 0))
    assert view.region == [0, 0, 1, 0]
    assert values() == {0: 0.0, 1: 0.0, 8: 0.0, 9: 1.0, 10: 1.0}
    title = page.locator(".attnwidgets-vlm-tokens-title").inner_text()
    assert title.startswith("attention of each text token to (0, 0)–(1, 0) (2 image tokens)")
    drag((1, 2), (1, 2))  # a click: one patch
    assert view.region == [1, 2, 1, 2] and values()[8] == 1.0 and values()[9] == 0.0
    red = pixel(page, CANVAS, round(2 * PATCH * K) + 1, round(PATCH * K) + 10)
    assert red[0] > 200 and red[1] < 80  # the region's outline
    page.locator(".attnwidgets-vlm-clear-region").click()
    bridge.pump()
    assert view.region == []
    assert values() == {0: 0.0, 1: 0.0, 8: 1.0, 9: 1.0, 10: 1.0}  # shares on the image


def feature_set() -> FeatureSet:
    rng = np.random.default_rng(3)
    hidden = rng.normal(size=(11, 5)).astype(np.float32)
    index = np.array([image_token(r, c) for r in range(2) for c in range(3)])
    surface = Surface("image 0", "text", 0, GRID, index)
    info = vlm_info()
    return FeatureSet([ModuleFeatures("model.layers.0", "text", hidden)], [surface],
                      [np.zeros((16, 24, 3), np.uint8)], info.tokens, info.modality)  # fmt: skip


def test_pca_rgb_and_a_clicked_patchs_cosine_are_drawn(page: Any) -> None:
    features = feature_set()
    view = FeatureHeatmapView(features, opacity=OPACITY)
    bridge = mount(page, view, "feature_heatmap_view.js")
    root = page.locator(".attnwidgets-features")
    assert (
        root.get_attribute("data-state") == "ready" and root.get_attribute("data-measure") == "pca"
    )
    rgb, _ = features.pca_rgb(0, 0)
    for r in range(2):
        for c in range(3):
            expected = np.round(np.round(rgb[r, c] * 255) * OPACITY)
            assert np.abs(pixel(page, CANVAS, *centre(r, c)) - expected).max() <= 2, (r, c)
    box = page.locator(CANVAS).bounding_box()
    x, y = centre(0, 2)
    page.mouse.click(box["x"] + x, box["y"] + y)
    bridge.pump()
    assert view.patch == [0, 2, 2, 3] and view.measure == "patch"
    assert root.get_attribute("data-state") == "ready" and root.get_attribute("data-patch") == "0,2"
    cosine = features.cosine_map(0, 0, cell=2)
    top = np.unravel_index(np.argmax(cosine), cosine.shape)
    assert top == (0, 2)
    # the brightest cell is the clicked one (cos = 1: the top of viridis, under its marker)
    inner = pixel(page, CANVAS, *centre(0, 2))
    assert np.abs(inner - YELLOW * OPACITY).max() <= 2, inner
    low = np.unravel_index(np.argmin(cosine), cosine.shape)
    assert pixel(page, CANVAS, *centre(*low)).sum() < 160  # the bottom of viridis: dark


def test_a_prompt_click_switches_the_map(page: Any) -> None:
    maps = np.zeros((2, 2, 3), np.float32)
    maps[0, 0, 1] = 1.0
    maps[1, 1, 2] = 1.0
    prompts = PromptMaps(["a cat", "a dog"], maps, np.array([0.8, 0.2], np.float32),
                         np.array([2.0, 0.6], np.float32), "softmax", 100.0, None,
                         np.zeros((16, 24, 3), np.uint8))  # fmt: skip
    view = DualEncoderView(prompts, opacity=OPACITY, size=SIZE)
    bridge = mount(page, view, "dual_encoder_view.js")
    root = page.locator(".attnwidgets-prompts")
    assert root.get_attribute("data-prompt") == "0" and lit(page) == {(0, 1)}
    assert root.get_attribute("data-scores") == "softmax"
    page.locator('.attnwidgets-vlm-prompt[data-index="1"]').click()
    bridge.pump()
    assert (
        view.prompt == 1 and lit(page) == {(1, 2)} and root.get_attribute("data-peak") == "(1, 2)"
    )
    assert page.locator(".attnwidgets-vlm-thumb").count() == 2


def test_hostile_strings_stay_text(page: Any) -> None:
    page.evaluate("() => { window.__pwned = undefined; }")
    labels = [HOSTILE[0], HOSTILE[1], HOSTILE[2], HOSTILE[3], " A"]
    info = vlm_info(labels)
    view = CrossModalView(AttentionRecord([forced({8: (0, 0)})]), info=info)
    mount(page, view, "cross_modal_view.js")
    shown = page.locator(".attnwidgets-vlm-token-label").evaluate_all(
        "nodes => nodes.map((n) => n.title)"
    )
    assert shown[:4] == [HOSTILE[0], HOSTILE[1], "⟨U+202E⟩evil", HOSTILE[3]]
    features = feature_set()
    features.tokens = info.tokens
    features.modules[0] = ModuleFeatures(HOSTILE[0], "text", features.modules[0].hidden)
    mount(page, FeatureHeatmapView(features, measure="text"), "feature_heatmap_view.js")
    assert page.locator(".attnwidgets-vision-layer-name").inner_text() == HOSTILE[0]
    options = page.locator(".attnwidgets-vlm-text-token option").all_inner_texts()
    assert options[1] == "1: </script><script>window…"  # cut to 24 characters, as text
    prompts = PromptMaps(HOSTILE, np.zeros((4, 2, 3), np.float32), np.full(4, 0.25, np.float32),
                         np.zeros(4, np.float32), "sigmoid", 10.0, -1.0,
                         np.zeros((16, 24, 3), np.uint8))  # fmt: skip
    mount(page, DualEncoderView(prompts), "dual_encoder_view.js")
    assert page.locator(".attnwidgets-vlm-prompt-label").first.get_attribute("title") == HOSTILE[0]
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("#host img, #host script, #bold").count() == 0
