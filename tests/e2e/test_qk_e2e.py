"""A Q/K run (``aw.wrap(model, attention="qk")``) in a real JupyterLab: 2,048 tokens of a
Llama-shaped model drawn from tiles the kernel computes from Q and K, a head switch through the
slider, and the Row tab drawing the last query's row with its top keys."""

from __future__ import annotations

from typing import Any

import nbformat
import pytest
from test_jupyterlab import KERNEL_START, REDRAW, errors_in_outputs, open_notebook, run_all_cells

pytestmark = pytest.mark.slow

CELLS = [
    """\
import torch
from transformers import LlamaConfig, LlamaForCausalLM

import attnwidgets as aw

config = LlamaConfig(num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                     hidden_size=64, intermediate_size=64, vocab_size=128,
                     max_position_embeddings=2048)
torch.manual_seed(0)
model = LlamaForCausalLM(config).eval()
ids = torch.randint(1, 128, (1, 2048), generator=torch.Generator().manual_seed(0))
run = aw.wrap(model, attention="qk", norms=False)(input_ids=ids, logits_to_keep=1)
print(type(run.attention).__name__, run.attention.shape)
run.show()""",
]


def test_a_qk_run_is_explored_in_jupyterlab(page: Any, jupyterlab: Any, tools: Any) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nbformat.write(notebook, jupyterlab.root / "qk.ipynb")
    open_notebook(page, jupyterlab, "qk.ipynb")
    run_all_cells(page)

    before = tools.wait_for_drawn_canvas(page, KERNEL_START)
    assert "QKRecord (2, 4, 2048, 2048)" in page.locator(".jp-OutputArea-output").first.inner_text()
    view = page.locator(".attnwidgets-explorer .attnwidgets-attention").first
    tools.wait_for(lambda: view.get_attribute("data-state") == "ready", REDRAW, "the first tile")
    assert "every" in page.locator(".attnwidgets-axis-title-query").first.inner_text()
    tools.nudge_slider(page, "attnwidgets-head-slider")
    tools.wait_for(lambda: "head 1" in view.inner_text(), REDRAW, "the view to open head 1")
    tools.wait_for_new_pixels(page, before, REDRAW)
    tools.wait_for(lambda: view.get_attribute("data-state") == "ready", REDRAW, "head 1 drawn")

    page.locator(".lm-TabBar-tab", has_text="Row").first.click()
    row = page.locator(".attnwidgets-row").first
    tools.wait_for(lambda: row.get_attribute("data-state") == "ready", REDRAW, "the row view")
    assert row.get_attribute("data-query") == "2047" and row.get_attribute("data-head") == "1"
    assert page.locator(".attnwidgets-row-top li").count() == 10
    drawn = page.evaluate(
        """() => {
          const c = document.querySelector(".attnwidgets-row-canvas");
          const d = c.getContext("2d").getImageData(0, 0, c.width, 140).data;
          let bar = 0;
          for (let i = 0; i < d.length; i += 4) if (d[i] === 31 && d[i + 2] === 180) bar++;
          return bar;
        }"""
    )
    assert drawn > 0  # bars drawn in the bar colour
    assert not errors_in_outputs(page)
