"""The Tokens tab of ``run.show()`` on MiniLM in a real JupyterLab: hovering a token in the
text highlights the same token's labels in the attention view (ipywidgets.jslink between the
two ``hover_token`` traits, in the browser), shown when the Attention tab is opened again."""

from __future__ import annotations

import re
from typing import Any

import nbformat
import pytest
from test_jupyterlab import REDRAW, RUN_ALL, errors_in_outputs, open_notebook
from test_jupyterlab import run_all_cells as run_all

pytestmark = pytest.mark.slow

SETUP = """\
import attnwidgets as aw
from attnwidgets.demo import load_minilm
model, tokenizer = load_minilm()
run = aw.wrap(model, tokenizer)("The tokenizer splits unbelievably long words")
print("TOKENS", run.tokens)"""
SHOW = "tabs = run.widget(); tabs"


def test_hovering_a_token_highlights_it_in_the_attention_view(
    page: Any, jupyterlab: Any, tools: Any
) -> None:
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3",
    }  # fmt: skip
    notebook.cells = [nbformat.v4.new_code_cell(c) for c in (SETUP, SHOW)]
    nbformat.write(notebook, jupyterlab.root / "tokens_tab.ipynb")
    open_notebook(page, jupyterlab, "tokens_tab.ipynb")
    run_all(page)

    def tab() -> Any:
        if errors := errors_in_outputs(page):
            raise AssertionError("a cell raised:\n" + "\n".join(errors)[-3000:])
        found = page.locator(".lm-TabBar-tab", has_text=re.compile(r"^Tokens$"))
        return found.first if found.count() else None

    attention = page.locator(".attnwidgets-attention").first
    tools.wait_for(lambda: attention.get_attribute("data-state") == "ready", RUN_ALL, "heatmap")
    tools.wait_for(tab, RUN_ALL, "the Tokens tab").click()
    tokens = page.locator(".attnwidgets-tokens").first
    tools.wait_for(lambda: tokens.get_attribute("data-state") == "ready", REDRAW, "the text")
    pieces = tokens.locator(".attnwidgets-tok-body [data-t]")
    drawn = {int(t): pieces.nth(i).inner_text() for i, t in enumerate(
        pieces.evaluate_all("(s) => s.map((e) => e.dataset.t)"))}  # fmt: skip
    index = next(t for t, text in drawn.items() if text == "##bel" or text == "bel")
    tokens.locator(f".attnwidgets-tok-body [data-t='{index}']").first.hover()
    tools.wait_for(
        lambda: attention.get_attribute("data-hover-token") == str(index), REDRAW, "the link"
    )
    label = attention.locator(".attnwidgets-qlabel.attnwidgets-label-linked")
    assert label.count() == 1 and label.first.inner_text() == "##bel"
    assert attention.locator(".attnwidgets-klabel.attnwidgets-label-linked").count() == 1
    page.locator(".lm-TabBar-tab", has_text=re.compile(r"^Attention$")).first.click()
    band = attention.locator(".attnwidgets-linked-band").first
    tools.wait_for(lambda: band.is_visible(), REDRAW, "the highlighted row")
    tools.artifacts.mkdir(exist_ok=True)
    attention.screenshot(path=str(tools.artifacts / "jupyterlab-tokens-linked.png"))
    assert not page_errors, page_errors


def test_the_tokenizers_notebook_in_jupyterlab(page: Any, jupyterlab: Any, tools: Any) -> None:
    """notebooks/tokenizers.ipynb run in JupyterLab: MiniLM and SmolLM2 side by side with
    boundary marks, and the step panels play through WordPiece and BPE on a real word."""
    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    open_notebook(page, jupyterlab, "tokenizers.ipynb")
    run_all(page)
    views = page.locator(".attnwidgets-tokens")

    def compared() -> Any:
        if errors := errors_in_outputs(page):
            raise AssertionError("a cell raised:\n" + "\n".join(errors)[-3000:])
        for i in range(views.count()):
            view = views.nth(i)
            names = view.locator(".attnwidgets-tok-rowname")
            if view.get_attribute("data-state") == "ready" and names.count():
                return view
        return None

    both = tools.wait_for(compared, RUN_ALL, "the side-by-side view")
    rows = both.locator(".attnwidgets-tok-line").first.locator(".attnwidgets-tok-rowname")
    assert rows.all_inner_texts() == ["MiniLM (WordPiece)", "SmolLM2 (byte-level BPE)"]
    assert both.locator(".attnwidgets-tok-agree").count() > 0
    assert both.locator(".attnwidgets-tok-differ").count() > 0
    tools.wait_for(
        lambda: both.locator(".attnwidgets-tok-steps").get_attribute("data-state") == "ready",
        REDRAW,
        "the steps",
    )
    panels = both.locator(".attnwidgets-tok-steps-panel")
    assert panels.count() == 2
    wordpiece, bpe = panels.nth(0), panels.nth(1)
    assert "(wordpiece)" in wordpiece.locator(".attnwidgets-tok-steps-title").inner_text()
    assert "(bpe)" in bpe.locator(".attnwidgets-tok-steps-title").inner_text()
    bpe.locator("button.attnwidgets-tok-play").click()
    frames = bpe.get_attribute("data-frames")
    tools.wait_for(lambda: bpe.get_attribute("data-step") == str(int(frames) - 1), 30, "play")
    symbols = bpe.locator(".attnwidgets-tok-sym").all_inner_texts()
    assert symbols == ["␣token", "ization"]
    assert "= the tokenizer" in bpe.locator(".attnwidgets-tok-caption").inner_text()
    tools.artifacts.mkdir(exist_ok=True)
    both.screenshot(path=str(tools.artifacts / "jupyterlab-tokenizers-side-by-side.png"))
    assert not page_errors, page_errors
