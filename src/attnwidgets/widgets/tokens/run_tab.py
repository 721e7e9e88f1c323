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
    "the tokens here are not the attention view's (the run's ids did not come from this text "
    "through this tokenizer): hovering is not linked"
)


def _run_ids(run: Any) -> list[int] | None:
    """The ids the attention view's tokens were made from: ``input_ids``, or after a
    generation the sequence fed so far."""
    inputs = getattr(run, "inputs", None)
    ids = inputs.get("input_ids") if isinstance(inputs, dict) else None
    if getattr(run, "generated", None) and hasattr(getattr(run, "outputs", None), "tolist"):
        ids = run.outputs
    if ids is None or not hasattr(ids, "tolist"):
        return None
    rows = ids.tolist()
    if rows and isinstance(rows[0], list):
        if len(rows) != 1:
            return None
        rows = rows[0]
    fed = len(getattr(run, "tokens", None) or [])
    return [int(i) for i in rows[:fed]]


def link_note(spans: Any, run: Any) -> str:
    """Why hovering cannot be linked, or "" when ``spans`` (a TokenizerView's records) start
    with exactly the run's tokens (after a generation the text also holds the last new token,
    which was never fed)."""
    ids = _run_ids(run)
    tokens = getattr(run, "tokens", None) or []
    if ids is None or spans[0].ids[: len(ids)].tolist() != ids or len(tokens) != len(ids):
        return NOT_LINKED
    return ""


def tokens_tab(run: Any, attention_view: Any = None) -> Any:
    """A TokenizerView of ``run.text`` through ``run.lens.tokenizer`` (with ``run.model`` for
    nearest neighbours), hover linked to ``attention_view``; None when the run has no text or
    no tokenizer (an image run); a Label saying why when the tokenizer fails on the text.

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
    try:
        view = TokenizerView(tokenizer, text, model=model)
    except Exception as error:  # the tab must never cost the user the attention explorer
        import ipywidgets

        return ipywidgets.Label(f"the tokens of this run cannot be shown: {error}")
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
