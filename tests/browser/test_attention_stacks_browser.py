"""Stacks and the view's labels in Chromium, against REAL AttentionViews in this process: the
stack select swaps the heatmap (size, labels, pixels from transformers' eager attention),
whitespace tokens are marked, axes and thumbnails are labelled, generated tokens are set apart,
the Play buttons say what they do, and the text box takes several lines."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from kernel_bridge import KernelBridge
from test_attention_live_browser import assert_pixels_match, labels

import attnwidgets as aw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
from tiny_lm import char_gpt2, char_tokenizer

ENCODER_IDS = torch.tensor([[5, 9, 11, 2, 7, 30, 3, 4]])
DECODER_IDS = torch.tensor([[8, 3, 6, 12, 13]])
GENERATED = [194, 24, 91]  # the label colour of generated tokens (js/attention/dom.js)


def tiny_t5() -> torch.nn.Module:
    from tiny_families import T5_LIKE
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    config = T5Config(**{**T5_LIKE, "num_layers": 3, "num_decoder_layers": 2})
    return T5ForConditionalGeneration(config).eval()


def t5_eager(model: torch.nn.Module) -> Any:
    twin = copy.deepcopy(model)
    twin.set_attn_implementation("eager")
    with torch.no_grad():
        return twin(input_ids=ENCODER_IDS, decoder_input_ids=DECODER_IDS, output_attentions=True)


def heatmap_box(page: Any) -> dict[str, float]:
    return page.locator(".attnwidgets-heatmap").bounding_box()  # type: ignore[no-any-return]


def test_stack_select_swaps_heatmap_size_labels_and_pixels(page: Any) -> None:
    model = tiny_t5()
    run = aw.wrap(model)(input_ids=ENCODER_IDS, decoder_input_ids=DECODER_IDS)
    view = aw.AttentionView(run, layer=2, head=1)
    bridge = KernelBridge(page, view)
    select = page.locator("select.attnwidgets-stack")
    assert select.is_visible()
    options = page.locator("select.attnwidgets-stack option").all_text_contents()
    assert options == ["encoder", "decoder", "cross"]
    encoder = [str(i) for i in ENCODER_IDS[0].tolist()]
    decoder = [str(i) for i in DECODER_IDS[0].tolist()]
    assert labels(page) == encoder and labels(page, "klabel") == encoder
    square = heatmap_box(page)
    assert abs(square["width"] - square["height"]) < 1
    out = t5_eager(model)
    assert_pixels_match(page, out.encoder_attentions[2][0].numpy(), head=1)

    select.select_option("cross")
    bridge.pump()
    assert view.stack == "cross" and view.layer == 1  # 2 decoder layers: clamped
    root = page.locator(".attnwidgets-attention")
    assert root.get_attribute("data-stack") == "cross"
    assert root.get_attribute("data-layer") == "1" and root.get_attribute("data-state") == "ready"
    assert labels(page) == decoder and labels(page, "klabel") == encoder
    box = heatmap_box(page)
    assert abs(box["width"] / box["height"] - 8 / 5) < 0.02  # 5 decoder rows x 8 encoder columns
    assert "EncDecAttention" in page.locator(".attnwidgets-title").text_content()
    assert_pixels_match(page, out.cross_attentions[1][0].numpy(), head=1)

    select.select_option("decoder")
    bridge.pump()
    assert labels(page) == decoder and labels(page, "klabel") == decoder
    assert_pixels_match(page, out.decoder_attentions[1][0].numpy(), head=1)
    assert page.errors == []


def test_one_stack_has_no_select_and_a_run_without_ids_says_why(page: Any) -> None:
    layer = torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=True)
    model = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()
    view = aw.AttentionView(aw.wrap(model)(src=torch.randn(1, 5, 16)))
    KernelBridge(page, view)
    assert not page.locator(".attnwidgets-stack-bar").is_visible()
    assert labels(page) == ["0", "1", "2", "3", "4"]
    note = page.locator(".attnwidgets-label-note")
    assert note.is_visible()
    assert note.text_content().startswith("positions: no input_ids (the run took src)")
    assert page.locator(".attnwidgets-attention").get_attribute("data-state") == "ready"
    assert page.errors == []


def test_whitespace_tokens_are_marked_in_labels_and_tooltip(page: Any) -> None:
    tokens = [" ", "\n", "\t", "  ", "a b", "\n\n"]
    n = len(tokens)
    view = aw.AttentionView(np.full((1, 1, n, n), 1 / n, np.float32), tokens)
    KernelBridge(page, view)
    expected = ["␣", "⏎", "⇥", "␣␣", "a b", "⏎⏎"]
    assert labels(page) == expected and labels(page, "klabel") == expected
    titles = page.eval_on_selector_all(".attnwidgets-qlabel", "els => els.map((e) => e.title)")
    assert titles == expected
    box = heatmap_box(page)
    page.mouse.move(box["x"] + 1.5 * box["width"] / n, box["y"] + 0.5 * box["height"] / n)
    assert "query: ␣ → key: ⏎" in page.locator(".attnwidgets-tooltip").text_content()
    page.locator(".attnwidgets-heatmap").click(
        position={"x": 0.5 * box["width"] / n, "y": 2.5 * box["height"] / n}
    )
    assert "query 2 «⇥» locked" in page.locator(".attnwidgets-focus-text").text_content()
    assert page.errors == []


def test_axis_titles_sit_beside_the_labels(page: Any) -> None:
    view = aw.AttentionView(np.full((1, 1, 4, 4), 0.25, np.float32), ["alpha", "b", "c", "d"])
    KernelBridge(page, view)
    query = page.locator(".attnwidgets-axis-title-query")
    key = page.locator(".attnwidgets-axis-title-key")
    assert query.text_content() == "query" and key.text_content() == "key"
    heat, q_box, k_box = heatmap_box(page), query.bounding_box(), key.bounding_box()
    first_label = page.locator(".attnwidgets-qlabel").first.bounding_box()
    top_label = page.locator(".attnwidgets-klabel").first.bounding_box()
    # query: a vertical strip left of the query labels, as tall as the heatmap
    assert q_box["x"] + q_box["width"] <= first_label["x"] + 1
    assert abs(q_box["y"] - heat["y"]) < 1 and abs(q_box["height"] - heat["height"]) < 1
    assert q_box["height"] > q_box["width"]
    # key: a strip above the key labels, as wide as the heatmap
    assert k_box["y"] + k_box["height"] <= top_label["y"] + 1
    assert abs(k_box["x"] - heat["x"]) < 1 and abs(k_box["width"] - heat["width"]) < 1
    ink = page.evaluate(
        """() => {
          const el = document.querySelector(".attnwidgets-axis-title-query");
          const r = document.createRange(); r.selectNodeContents(el);
          const b = r.getBoundingClientRect(); return [b.width, b.height];
        }"""
    )
    assert ink[1] > ink[0] > 0  # the text itself runs vertically
    assert page.errors == []


def test_thumbnails_have_layer_and_head_labels(page: Any) -> None:
    data = np.full((3, 4, 5, 5), 0.2, np.float32)
    view = aw.AttentionView(data, list("abcde"), show_overview=True)
    KernelBridge(page, view)
    grid = page.locator(".attnwidgets-thumbnails").bounding_box()
    heads = page.locator(".attnwidgets-thumb-head")
    layers = page.locator(".attnwidgets-thumb-layer")
    assert heads.all_text_contents() == ["H0", "H1", "H2", "H3"]
    assert layers.all_text_contents() == ["L0", "L1", "L2"]
    assert heads.nth(2).get_attribute("title") == "head 2"
    for h in range(4):  # above its column
        box = heads.nth(h).bounding_box()
        assert box["y"] + box["height"] <= grid["y"] + 1
        centre = grid["x"] + (h + 0.5) * grid["width"] / 4
        assert box["x"] <= centre <= box["x"] + box["width"]
    for layer in range(3):  # left of its row
        box = layers.nth(layer).bounding_box()
        assert box["x"] + box["width"] <= grid["x"] + 1
        centre = grid["y"] + (layer + 0.5) * grid["height"] / 3
        assert box["y"] - 2 <= centre <= box["y"] + box["height"] + 2
    # the selection marker still frames the thumbnail clicked
    page.locator(".attnwidgets-thumbnails").click(
        position={"x": 2.5 * grid["width"] / 4, "y": 1.5 * grid["height"] / 3}
    )
    marker = page.locator(".attnwidgets-thumb-selected").bounding_box()
    assert abs(marker["x"] - (grid["x"] + 2 * grid["width"] / 4)) < 2
    assert abs(marker["y"] - (grid["y"] + grid["height"] / 3)) < 2
    assert page.errors == []


def label_colour(page: Any, kind: str, index: int) -> list[int]:
    colour = (
        page.locator(f".attnwidgets-{kind}").nth(index).evaluate("el => getComputedStyle(el).color")
    )
    return [int(v) for v in colour[colour.index("(") + 1 : -1].split(",")[:3]]


def test_generated_tokens_are_marked_apart_from_the_prompt(page: Any) -> None:
    lens = aw.wrap(char_gpt2(), char_tokenizer())
    run = lens.generate("ab c", max_new_tokens=4)  # 4 prompt tokens, 3 generated fed back
    view = aw.AttentionView(run)
    KernelBridge(page, view)
    assert view.generated_from == 4
    for kind in ("qlabel", "klabel"):
        spans = page.locator(f".attnwidgets-{kind}")
        assert spans.count() == 7
        for i in range(7):
            marked = "attnwidgets-generated" in spans.nth(i).get_attribute("class")
            assert marked == (i >= 4), (kind, i)
        assert label_colour(page, kind, 5) == GENERATED
        assert label_colour(page, kind, 1) != GENERATED
    heat = heatmap_box(page)
    row = page.locator(".attnwidgets-prompt-divider-row").bounding_box()
    col = page.locator(".attnwidgets-prompt-divider-col").bounding_box()
    assert abs(row["y"] + row["height"] / 2 - (heat["y"] + 4 * heat["height"] / 7)) < 1.5
    assert abs(row["width"] - heat["width"]) < 1
    assert abs(col["x"] + col["width"] / 2 - (heat["x"] + 4 * heat["width"] / 7)) < 1.5
    # the prompt's own run has no marks
    view.set_data(lens("ab c"))
    assert page.locator(".attnwidgets-generated").count() == 0
    assert not page.locator(".attnwidgets-prompt-divider-row").is_visible()
    assert page.errors == []


def test_play_buttons_get_titles(page: Any) -> None:
    view = aw.AttentionView(np.full((2, 1, 3, 3), 1 / 3, np.float32), list("abc"))
    KernelBridge(page, view)
    # The explorer's markup: the view and an ipywidgets Play (three icon buttons) in one box.
    page.evaluate(
        """() => {
          const box = document.createElement("div");
          box.className = "attnwidgets-explorer";
          const play = document.createElement("div");
          play.className = "widget-play attnwidgets-play";
          for (let i = 0; i < 3; i++) play.appendChild(document.createElement("button"));
          document.body.appendChild(box);
          box.append(document.getElementById("host"), play);
        }"""
    )
    buttons = page.locator(".attnwidgets-play button")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.attnwidgets-play button')].every((b) => b.title)"
    )
    titles = [buttons.nth(i).get_attribute("title") for i in range(3)]
    assert titles[0].startswith("play / pause") and titles[1].startswith("stop")
    assert titles[2].startswith("loop")
    assert buttons.nth(1).get_attribute("aria-label") == titles[1]
    assert page.errors == []


def test_text_box_takes_several_lines_and_keeps_keys_to_itself(page: Any) -> None:
    lens = aw.wrap(char_gpt2(), char_tokenizer())
    view = aw.AttentionView(lens("ab"), layer=0, head=1)
    bridge = KernelBridge(page, view)
    box = page.locator("textarea.attnwidgets-text")
    box.click()
    page.keyboard.press("End")
    page.keyboard.press("Shift+Enter")  # a new line, nothing sent
    page.keyboard.type("cd")
    assert box.input_value() == "ab\ncd"
    assert int(box.get_attribute("rows")) == 2
    for key in ("ArrowLeft", "ArrowUp", "ArrowRight", "ArrowDown"):  # the caret moves, not layer
        page.keyboard.press(key)
    assert page.evaluate("window.model.sent.filter((m) => m.type === 'run_text').length") == 0
    assert page.evaluate("window.model.saves.length") == 0  # no layer / head change saved
    page.keyboard.press("Enter")
    sent = page.evaluate("window.model.sent.map((m) => [m.type, m.text])")
    assert sent == [["run_text", "ab\ncd"]]
    bridge.pump()
    assert labels(page) == [*view.query_tokens] and len(view.query_tokens) == 5
    assert (view.layer, view.head) == (0, 1)
    assert page.errors == []


def test_short_labels_are_drawn_whole(page: Any) -> None:
    tokens = ["11", "h", "i", "42", "W"]
    n = len(tokens)
    view = aw.AttentionView(np.full((1, 1, n, n), 1 / n, np.float32), tokens)
    KernelBridge(page, view)
    assert labels(page) == tokens and labels(page, "klabel") == tokens  # no "1…"
    cut = page.eval_on_selector_all(
        ".attnwidgets-qlabel, .attnwidgets-klabel",
        """els => els
          .filter((e) => e.scrollWidth > e.clientWidth + 0.5
                      || e.scrollHeight > e.clientHeight + 0.5)
          .map((e) => e.textContent)""",
    )
    assert cut == []
    assert page.errors == []
