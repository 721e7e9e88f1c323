"""The live text box in a real JupyterLab: type new text, press Enter, the kernel runs MiniLM
again and the token labels change; the sliders still drive the view. Then generation on a tiny
GPT-2: the rows of the open view grow step by step while the kernel generates."""

from __future__ import annotations

from typing import Any

import nbformat
import pytest
from test_jupyterlab import (
    KERNEL_START,
    REDRAW,
    RUN_ALL,
    errors_in_outputs,
    open_notebook,
    run_all_cells,
    wait_for_heatmap,
)

pytestmark = pytest.mark.slow


def cells(tests_dir: str) -> list[str]:
    return [
        """\
import attnwidgets as aw
from attnwidgets.demo import load_minilm

model, tokenizer = load_minilm()
aw.attention_explorer(aw.AttentionView(aw.wrap(model, tokenizer)("The cat sat on the mat")))""",
        f"""\
import sys
sys.path.insert(0, {tests_dir!r})
from tiny_lm import char_gpt2, char_tokenizer

tiny = aw.wrap(char_gpt2(), char_tokenizer())
aw.attention_explorer(aw.AttentionView(tiny("the")))""",
    ]


# Every redraw of the second view (its shown region), recorded as it happens in the page.
WATCH_ROWS = """(root) => {
  window.rowsSeen = [];
  new MutationObserver(() => window.rowsSeen.push(Number(root.dataset.view.split(",")[1])))
    .observe(root, { attributes: true, attributeFilter: ["data-view"] });
}"""


def qlabels(view: Any) -> list[str]:
    return view.locator(".attnwidgets-qlabel").all_inner_texts()


def test_typing_new_text_reruns_the_model(page: Any, jupyterlab: Any, tools: Any) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    notebook.cells = [nbformat.v4.new_code_cell(s) for s in cells(str(tools.repo / "tests"))]
    nbformat.write(notebook, jupyterlab.root / "live.ipynb")
    open_notebook(page, jupyterlab, "live.ipynb")
    run_all_cells(page)
    wait_for_heatmap(page, tools, RUN_ALL)

    views = page.locator(".attnwidgets-explorer .attnwidgets-attention")
    tools.wait_for(lambda: views.count() == 2, KERNEL_START, "both explorers")
    minilm, tiny = views.nth(0), views.nth(1)
    box = minilm.locator(".attnwidgets-text")
    assert box.input_value() == "The cat sat on the mat"
    assert qlabels(minilm)[:3] == ["[CLS]", "the", "cat"]
    assert not minilm.locator(".attnwidgets-generate").is_visible()  # BERT: no LM head
    before = tools.canvas_digest(page)

    box.click()
    box.fill("Dogs bark loudly")
    box.press("Enter")
    expected = ["[CLS]", "dogs", "bark", "loudly", "[SEP]"]
    tools.wait_for(lambda: qlabels(minilm) == expected, REDRAW, f"the labels {expected}")
    status = minilm.locator(".attnwidgets-live-status")
    tools.wait_for(lambda: status.inner_text() == "5 tokens", REDRAW, "the run to finish")
    tools.wait_for_new_pixels(page, before, REDRAW)
    assert minilm.get_attribute("data-state") == "ready"
    tools.nudge_slider(page, "attnwidgets-layer-slider")  # the sliders still drive the view
    tools.wait_for(lambda: "layer 1" in minilm.inner_text(), REDRAW, "layer 1 of the new text")
    assert qlabels(minilm) == expected

    tiny.scroll_into_view_if_needed()
    tiny.evaluate(WATCH_ROWS)
    tiny.locator(".attnwidgets-new-tokens").fill("12")
    tiny.locator(".attnwidgets-generate").click()
    tiny_status = tiny.locator(".attnwidgets-live-status")
    tools.wait_for(
        lambda: tiny_status.inner_text() == "generated 12 new tokens", REDRAW, "generation"
    )
    seen = page.evaluate("window.rowsSeen")
    # the prompt's 3 rows, then one more per step while the kernel generates: 3 + 11 fed
    assert sorted(set(seen)) == list(range(3, 15)), seen
    assert seen == sorted(seen)  # never shrinks
    assert len(qlabels(tiny)) == 14
    assert tiny.locator(".attnwidgets-text").input_value().startswith("the")
    assert not errors_in_outputs(page)
    tools.artifacts.mkdir(exist_ok=True)
    page.locator(".attnwidgets-explorer").first.screenshot(
        path=str(tools.artifacts / "jupyterlab-live-text.png")
    )
