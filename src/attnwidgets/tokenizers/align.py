"""The same text through several tokenizers, aligned by character (:class:`Alignment`).

A boundary is a character position where a token starts or ends (inside the text: 0 and the
text's length are not counted). With ``trim_whitespace`` (the default) spans lose their
leading and trailing whitespace first, so BPE's ``" world"`` and WordPiece's ``"world"`` share
their boundaries.

>>> from tokenizers import Tokenizer, models, pre_tokenizers
>>> from attnwidgets.tokenizers import tokenize_with_spans
>>> def wordpiece(words):
...     vocab = {w: i for i, w in enumerate(["[UNK]", *words])}
...     tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
...     tok.pre_tokenizer = pre_tokenizers.Whitespace()
...     return tok
>>> a = tokenize_with_spans(wordpiece(["sunny", "day"]), "sunny day")
>>> b = tokenize_with_spans(wordpiece(["sun", "##ny", "day"]), "sunny day")
>>> both = align_tokenizations([a, b], names=["words", "subwords"])
>>> both.boundaries.tolist(), both.present.tolist(), both.agreed.tolist()
([3, 5, 6], [[False, True, True], [True, True, True]], [False, True, True])
>>> both.token_counts, both.char_tokens[0].tolist()
((2, 3), [0, 0, 0, 0, 0, -1, 1, 1, 1])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .spans import TokenSpans


@dataclass(frozen=True)
class Alignment:
    """Tokenizations of one text side by side (``k`` tokenizers, ``b`` boundaries).

    ``names``: one per tokenizer; ``boundaries``: int64 ``[b]``, sorted union of every
    tokenizer's boundaries; ``present``: bool ``[k, b]``; ``agreed``: bool ``[b]``, a boundary
    of every tokenizer; ``token_counts``: tokens in the text (template tokens left out) per
    tokenizer; ``char_tokens``: int64 ``[k, characters]``, the first token covering each
    character (-1: none, e.g. whitespace a WordPiece tokenizer drops), for linked hovering.
    """

    text: str
    names: tuple[str, ...]
    boundaries: np.ndarray
    present: np.ndarray
    agreed: np.ndarray
    token_counts: tuple[int, ...]
    char_tokens: np.ndarray

    @property
    def agreement(self) -> float:
        """Share of boundaries that every tokenizer has (1.0 when there are none)."""
        return float(self.agreed.mean()) if len(self.agreed) else 1.0


def _trimmed(spans: TokenSpans, keep: np.ndarray, trim: bool) -> tuple[np.ndarray, np.ndarray]:
    starts = spans.starts[keep].copy()
    ends = spans.ends[keep].copy()
    if not trim:
        return starts, ends
    text = spans.text
    for i in range(len(starts)):
        piece = text[starts[i] : ends[i]]
        stripped = piece.strip()
        if stripped and stripped != piece:
            starts[i] += len(piece) - len(piece.lstrip())
            ends[i] -= len(piece) - len(piece.rstrip())
    return starts, ends


def align_tokenizations(
    tokenizations: Sequence[TokenSpans],
    names: Sequence[str] | None = None,
    *,
    trim_whitespace: bool = True,
) -> Alignment:
    """Align the :class:`TokenSpans` of one text from two or more tokenizers by character.

    ``names`` default to each record's ``tokenizer_name``.

    >>> from tokenizers import Tokenizer, models, pre_tokenizers
    >>> from attnwidgets.tokenizers import tokenize_with_spans
    >>> tok = Tokenizer(models.WordPiece({"[UNK]": 0, "to": 1, "##day": 2}, unk_token="[UNK]"))
    >>> spans = tokenize_with_spans(tok, "today")
    >>> align_tokenizations([spans, spans], ["a", "b"]).agreed.tolist()
    [True]
    """
    records = list(tokenizations)
    if not records:
        raise ValueError("align_tokenizations: give at least one TokenSpans record")
    text = records[0].text
    for index, record in enumerate(records):
        if not isinstance(record, TokenSpans):
            raise TypeError(
                f"align_tokenizations: item {index} is a {type(record).__name__}; pass the "
                "records of tokenize_with_spans(tokenizer, text)"
            )
        if record.text != text:
            raise ValueError(
                f"align_tokenizations: record {index} ({record.tokenizer_name}) holds another "
                "text; tokenize the same text with every tokenizer"
            )
    labels = tuple(names) if names is not None else tuple(r.tokenizer_name for r in records)
    if len(labels) != len(records):
        raise ValueError(f"align_tokenizations: {len(labels)} names for {len(records)} records")
    per_record: list[np.ndarray] = []
    char_tokens = np.full((len(records), len(text)), -1, dtype=np.int64)
    counts = []
    for row, record in enumerate(records):
        keep = ~record.template & (record.ends > record.starts)
        counts.append(int((~record.template).sum()))
        starts, ends = _trimmed(record, keep, trim_whitespace)
        edges = np.concatenate([starts, ends])
        per_record.append(np.unique(edges[(edges > 0) & (edges < len(text))]))
        token_index = np.flatnonzero(keep)
        for k in range(len(token_index) - 1, -1, -1):  # first token wins
            char_tokens[row, record.starts[token_index[k]] : record.ends[token_index[k]]] = (
                token_index[k]
            )
    union = np.unique(np.concatenate(per_record)) if per_record else np.zeros(0, dtype=np.int64)
    present = np.stack([np.isin(union, edges) for edges in per_record])
    return Alignment(
        text=text,
        names=labels,
        boundaries=union.astype(np.int64),
        present=present,
        agreed=np.asarray(present.all(axis=0), dtype=bool),
        token_counts=tuple(counts),
        char_tokens=char_tokens,
    )
