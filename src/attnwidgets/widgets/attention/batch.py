"""The explorer of a batch: one example at a time, picked in a selector above the view."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets

from ..panels import Panel
from .view import find_attention_view

EXAMPLE_LABEL_CHARS = 40


def example_label(index: int, run: Any) -> str:
    """``"0: The cat sat (5 tokens)"``: what the selector shows for one example.

    Example:
        >>> class R: text, tokens = "a\\nb", ["a", "b"]
        >>> example_label(3, R())
        '3: a b (2 tokens)'
    """
    text = getattr(run, "text", None)
    tokens = getattr(run, "tokens", None) or []
    words = " ".join(str(text).split()) if text else ""
    if len(words) > EXAMPLE_LABEL_CHARS:
        words = words[: EXAMPLE_LABEL_CHARS - 1] + "…"
    count = f"({len(tokens)} tokens)" if tokens else ""
    return f"{index}: " + " ".join(part for part in (words, count) if part)


def batch_explorer(
    runs: Sequence[Any], *, example: int = 0, layer: int = 0, head: int = 0
) -> ipywidgets.VBox:
    """``[Dropdown(example), runs[example].widget()]``: picking an example shows its run in the
    same view (``AttentionView.set_data``: layer, head and stack kept where they fit)."""
    if not runs:
        raise ValueError("no examples to show: the batch is empty")
    if not -len(runs) <= example < len(runs):
        raise IndexError(f"example {example} out of range: this batch has 0..{len(runs) - 1}")
    example %= len(runs)
    picker = ipywidgets.Dropdown(
        options=[(example_label(i, run), i) for i, run in enumerate(runs)],
        value=example,
        description="example",
        style={"description_width": "56px"},
        layout=ipywidgets.Layout(width="auto"),
    )
    picker.add_class("attnwidgets-example")
    shown = runs[example].widget(layer=layer, head=head)
    view = find_attention_view(shown)

    def pick(change: dict[str, Any]) -> None:
        run = runs[change["new"]]
        view.set_data(run)
        text = getattr(run, "text", None)
        if view.live and isinstance(text, str):
            view.text = text  # the text box shows the example's own text

    picker.observe(pick, names="value")
    box = Panel([picker, shown])
    box.add_class("attnwidgets-batch")
    return box
