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
