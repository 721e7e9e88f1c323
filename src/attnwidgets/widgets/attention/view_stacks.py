"""The stacks an AttentionView can show, each as its own ``ViewData`` (numpy only).

A record whose layers differ in shape (T5, BART, Whisper: encoder, decoder, cross; CLIP and
LLaVA: vision and text towers) is split by ``attnwidgets.stacks``; the view shows one stack at
a time (``AttentionView.stack``, a select in the browser) and swaps the data in place when it
changes. A Run labels its stacks itself (``Run.stacks``); other data gets the tokens given where
they fit, else position labels with a note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...qk_records import QKRecord
from ...stacks import Stack, label_stacks, position_labels, split_stacks
from ..inputs import as_attention_record
from .view_data import ViewData, load_view_data, qk_view_data


@dataclass(frozen=True)
class StackedData:
    """Every stack of what a view was given, by name (the first is shown by default)."""

    stacks: dict[str, ViewData]

    @property
    def names(self) -> list[str]:
        return list(self.stacks)

    def pick(self, name: str | None) -> str:
        """``name`` when this data has that stack, else the first stack's name."""
        return name if name is not None and name in self.stacks else self.names[0]


def _stack_view(stack: Stack) -> ViewData:
    records = {stack.record.kind: stack.record, **stack.scores}
    return ViewData(
        records,
        stack.query_tokens,
        stack.key_tokens,
        note=stack.note,
        generated_from=stack.generated_from,
    )


def load_stacks(
    data: Any,
    tokens: Sequence[Any] | None = None,
    key_tokens: Sequence[Any] | None = None,
    scores: dict[str, Any] | None = None,
) -> StackedData:
    """Split what a user passes into stacks (see ``AttentionView``).

    Example:
        >>> import numpy as np
        >>> from attnwidgets.records import AttentionRecord
        >>> names = ["vision_model.layers.0.attn", "text_model.layers.0.attn"]
        >>> rec = AttentionRecord([np.ones((1, 4, 4)) / 4, np.ones((1, 2, 2)) / 2], names)
        >>> stacked = load_stacks(rec, ["a", "b"])
        >>> stacked.names, stacked.stacks["text"].queries, stacked.stacks["vision"].note
        (['vision', 'text'], ['a', 'b'], 'vision positions: no token text for image patches')
    """
    if isinstance(data, StackedData):
        return data
    qk = data if isinstance(data, QKRecord) else getattr(data, "attention", None)
    if isinstance(qk, QKRecord):  # Q and K (attention="qk"): one stack, tiles on demand
        if scores:
            raise ValueError("scores= are dense: a Q/K record (attention='qk') is shown alone")
        labels = tokens if tokens is not None else getattr(data, "tokens", None)
        return StackedData({"attention": qk_view_data(qk, labels, key_tokens)})
    if isinstance(data, ViewData) and tokens is None and key_tokens is None and scores is None:
        return StackedData({"attention": data})
    own = getattr(data, "stacks", None)
    plain = tokens is None and key_tokens is None and scores is None
    if plain and isinstance(own, dict) and own and all(isinstance(s, Stack) for s in own.values()):
        return StackedData({name: _stack_view(s) for name, s in own.items()})
    record = as_attention_record(data)
    if tokens is None:
        tokens = getattr(data, "tokens", None)
    split = split_stacks(record)
    if len(split) <= 1:
        return StackedData({"attention": _single(data, split, tokens, key_tokens, scores)})
    if scores is None:
        scores = getattr(data, "scores", None) or {}
    kinds = {name: as_attention_record(other) for name, other in scores.items()}
    labels = {"tokens": [str(t) for t in tokens]} if tokens else {}
    if key_tokens:
        labels["encoder"] = [str(t) for t in key_tokens]
    found = label_stacks(split_stacks(record, kinds), labels)
    return StackedData({name: _stack_view(s) for name, s in found.items()})


def _single(
    data: Any,
    split: dict[str, Stack],
    tokens: Sequence[Any] | None,
    key_tokens: Sequence[Any] | None,
    scores: dict[str, Any] | None,
) -> ViewData:
    """One stack: the labels given are checked as before (a wrong count is an error); without
    labels, positions (``position_labels`` of the stack's axes), with a note when the data had
    an empty token list (a run without input_ids)."""
    note = ""
    if tokens is not None and len(tokens) == 0 and split:
        tokens = None  # e.g. lens(pixel_values=...): no ids, so no token labels
        note = "positions: no input_ids; pass a tokenizer/ids for token labels"
    loaded = load_view_data(data, tokens, key_tokens, scores)
    stack = next(iter(split.values()), None)
    queries, keys = loaded.queries, loaded.keys
    if stack is not None and tokens is None:
        queries = position_labels(stack.query_axis, stack.n_queries)
        if not key_tokens:
            keys = position_labels(stack.key_axis, stack.n_keys)
    return ViewData(loaded.records, queries, keys, note=note)
