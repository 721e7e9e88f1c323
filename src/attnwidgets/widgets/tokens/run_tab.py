"""The Tokens tab of ``run.show()``: the run's text through the lens's tokenizer, with the
token under the pointer linked to the attention view (``hover_token`` on both widgets, tied
by ``ipywidgets.jslink`` in the browser: it works without a round trip to the kernel).

The link holds when the tokenizer gives the run's own ids for its text; otherwise (a run made
from ids, a generation whose decoded text tokenizes differently) the tab says so and hovering
stays local. A new text in the attention view's live box re-tokenizes the tab.
"""

from __future__ import annotations

from typing import Any

from ...tokenizers import read_tokenizer
from .view import TokenizerView

NOT_LINKED = (
    "the tokens here differ from the attention view's (its ids were not made from this text "
    "by this tokenizer): hovering is not linked"
)


def _run_ids(run: Any) -> list[int] | None:
    inputs = getattr(run, "inputs", None)
    ids = inputs.get("input_ids") if isinstance(inputs, dict) else None
    if ids is None or not hasattr(ids, "tolist"):
        return None
    rows = ids.tolist()
    if rows and isinstance(rows[0], list):
        if len(rows) != 1:
            return None
        rows = rows[0]
    return [int(i) for i in rows]


def link_note(spans: Any, run: Any) -> str:
    """ "" when ``spans`` (the records of a TokenizerView) hold exactly the run's tokens,
    else why hovering cannot be linked."""
    ids = _run_ids(run)
    tokens = getattr(run, "tokens", None) or []
    if ids is None or spans[0].ids.tolist() != ids or len(tokens) != len(ids):
        return NOT_LINKED
    return ""


def tokens_tab(run: Any, attention_view: Any = None) -> TokenizerView | None:
    """A TokenizerView of ``run.text`` through ``run.lens.tokenizer`` (with ``run.model`` for
    nearest neighbours), hover linked to ``attention_view``; None when the run has no text or
    no tokenizer (an image run, ids given directly).

    Example:
        >>> tokens_tab(run, view)  # doctest: +SKIP
    """
    lens = getattr(run, "lens", None)
    tokenizer = getattr(lens, "tokenizer", None)
    text = getattr(run, "text", None)
    if tokenizer is None or not isinstance(text, str) or not text:
        return None
    try:
        read_tokenizer(tokenizer)
    except TypeError:  # an image processor, or a processor without a vocabulary
        return None
    model = getattr(run, "model", None)
    if not callable(getattr(model, "get_input_embeddings", None)):
        model = None
    view = TokenizerView(tokenizer, text, model=model)
    shown = [run]
    view.link_check = lambda spans: link_note(spans, shown[0])
    view.set_text(text)
    if attention_view is not None:
        import ipywidgets

        view._link = ipywidgets.jslink((view, "hover_token"), (attention_view, "hover_token"))

        def follow(_change: Any) -> None:  # a new text in the live box
            source = getattr(attention_view, "source_data", None)
            new_text = getattr(source, "text", None)
            if isinstance(new_text, str) and new_text:
                shown[0] = source
                view.set_text(new_text)

        attention_view.observe(follow, names="data_version")
    return view
