"""Binary values as ipywidgets itself delivers them: one Dict trait per payload
(``widgets/arrays.py``), whose memoryview ipywidgets lifts out as a buffer and puts back in
place, as a DataView, in one state update. Checked with ipywidgets' own JavaScript (the
html-manager of an offline page, built by attnwidgets.export), not with the fake model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest
from ipywidgets.embed import embed_data
from page_server import wire

from attnwidgets import AttentionView, NormView
from attnwidgets.export.notebook import notebook_page
from attnwidgets.norm_records import NormLayer, NormRecord, TensorSummary

REPO = Path(__file__).resolve().parents[2]
STATE = "application/vnd.jupyter.widget-state+json"
VIEW = "application/vnd.jupyter.widget-view+json"


def offline_page(folder: Path, views: list[Any]) -> Path:
    """A page whose widgets are rendered by the html-manager from the embedded state."""
    data = embed_data(views=views, drop_defaults=False)
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {STATE: data["manager_state"]}
    outputs = [
        nbformat.v4.new_output("display_data", data={VIEW: spec}) for spec in data["view_specs"]
    ]
    nb.cells = [nbformat.v4.new_code_cell(outputs=outputs)]
    html = notebook_page(nb)
    path = folder / "wire.html"
    path.write_text(html, encoding="utf-8")
    return path


def norm_record() -> NormRecord:
    x = np.random.default_rng(0).normal(size=(1, 4, 8))
    summary = TensorSummary.from_numpy(x)
    return NormRecord([NormLayer("ln_f", "layernorm", "LayerNorm", x.shape, summary, summary)])


# put_buffers of @jupyter-widgets/base, as the manager calls it on every state it receives.
PUT_BUFFERS = """async (wire) => {
  const base = await new Promise((ok, fail) => window.require(["@jupyter-widgets/base"], ok, fail));
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const state = structuredClone(wire.state);
  const buffers = wire.buffers.map(([, b64]) => new DataView(bytes(b64).buffer));
  base.put_buffers(state, wire.buffers.map(([path]) => path), buffers);
  const out = {};
  for (const [path] of wire.buffers) {
    const value = path.reduce((node, key) => node[key], state);
    const owner = path.slice(0, -1).reduce((node, key) => node[key], state);
    out[path.join(".")] = [value instanceof DataView, value.byteLength, owner.dtype ?? null];
  }
  return out;
}"""


@pytest.mark.slow
def test_ipywidgets_puts_each_buffer_back_in_its_value(browser: Any, tmp_path: Path) -> None:
    n = 6
    data = np.zeros((2, 1, n, n), np.float32)
    data[:, 0, np.arange(n), np.arange(n)] = 1.0  # the diagonal
    view = AttentionView(data, [f"t{i}" for i in range(n)], show_overview=True, show_metrics=True)
    long = np.zeros((1, 2, 1100, 1100), np.float32)
    long[0, 0, :, 0] = 1.0  # first-token head: tiles mode, the first view in tile0
    tiled = AttentionView(long, head=0)
    norms = NormView(norm_record())
    page = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(offline_page(tmp_path, [view, tiled, norms]).as_uri())
    ready = ".attnwidgets-attention[data-state=ready]"
    page.wait_for_function(f"document.querySelectorAll('{ready}').length === 2", timeout=30000)
    page.wait_for_selector(".attnwidgets-norms", timeout=30000)

    delivered = page.evaluate(PUT_BUFFERS, wire(view))
    assert delivered == {
        "chunk.value": [True, 2 * n * n, "uint8"],
        "thumbnails.value": [True, 2 * n * n, "uint8"],
        "metrics.value": [True, 2 * 6 * 4, "float32"],
    }
    assert page.evaluate(PUT_BUFFERS, wire(tiled)) == {
        "chunk.value": [True, 0, "uint8"],
        "tile0.value": [True, 367 * 367, "uint8"],
    }
    assert list(page.evaluate(PUT_BUFFERS, wire(norms))) == ["data.value"]

    # drawn from those values: the diagonal bright, the first-token column bright
    pixel = """([i, fx, fy]) => {
      const c = document.querySelectorAll(".attnwidgets-heatmap")[i];
      const x = Math.floor(fx * c.width), y = Math.floor(fy * c.height);
      return Array.from(c.getContext("2d").getImageData(x, y, 1, 1).data);
    }"""
    bright = lambda rgba: rgba[0] > 200 and rgba[1] > 200  # noqa: E731 (viridis top)
    assert bright(page.evaluate(pixel, [0, 0.5 / n, 0.5 / n]))
    assert not bright(page.evaluate(pixel, [0, 1.5 / n, 0.5 / n]))
    assert bright(page.evaluate(pixel, [1, 0.0005, 0.5])) and not bright(
        page.evaluate(pixel, [1, 0.5, 0.5])
    )
    assert page.locator(".attnwidgets-metrics-table tbody tr").count() == 2
    assert page.locator(".attnwidgets-norms").get_attribute("data-state") == "ready"
    assert errors == []
    page.close()
