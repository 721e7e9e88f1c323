"""The tokens of one text, through one or more tokenizers, as ONE binary value for the
browser (``arrays.packed_value``; ``js/tokens/data.js`` reads it with ``readPackedValue``).

Per tokenizer ``k`` (names end in ``.k``): ``starts``/``ends`` int32 UTF-16 offsets into the
text (JavaScript string indices; ``(0, 0)`` for template tokens), ``ids``, ``groups``,
``rank`` int32, ``flags`` uint8 (``SPECIAL | TEMPLATE | UNKNOWN | BYTE_FALLBACK``), ``scores``
float32 (Unigram log-probabilities; only when ranks are by score), and three string tables as
a uint8 UTF-8 blob plus int32 end offsets: ``pieces``/``pieces_ends`` (raw pieces),
``readable``/``readable_ends`` and
``bytes``/``bytes_ends`` (what each piece stands for). With two tokenizers or more:
``boundaries`` int32 ``[b]`` (UTF-16), ``present`` uint8 ``[k, b]``, ``agreed`` uint8 ``[b]``.
Meta: ``tokenizers`` (one summary per tokenizer) and ``text_length`` (UTF-16 units).

>>> from tokenizers import Tokenizer, models, pre_tokenizers
>>> from attnwidgets.tokenizers import tokenize_with_spans
>>> tok = Tokenizer(models.WordPiece({"[UNK]": 0, "hi": 1, "##s": 2}, unk_token="[UNK]"))
>>> tok.pre_tokenizer = pre_tokenizers.Whitespace()
>>> value = spans_value([tokenize_with_spans(tok, "his 😀")], ["wp"])
>>> value["arrays"]["starts.0"]["dtype"], value["text_length"], value["tokenizers"][0]["n"]
('int32', 6, 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...tokenizers import Alignment, TokenSpans
from ...tokenizers.spans import _cumulative_widths
from ..arrays import packed_value

SPECIAL, TEMPLATE, UNKNOWN, BYTE_FALLBACK = 1, 2, 4, 8
"""Bits of ``flags``."""


def string_table(items: Sequence[str | bytes]) -> tuple[np.ndarray, np.ndarray]:
    """``(blob uint8, ends int32)``: the UTF-8 of every item back to back and where each ends.

    >>> blob, ends = string_table(["a", "é", b"\\xff"])
    >>> bytes(blob), ends.tolist()
    (b'a\\xc3\\xa9\\xff', [1, 3, 4])
    """
    chunks = [s if isinstance(s, bytes) else s.encode("utf-8", "replace") for s in items]
    ends = np.cumsum([len(c) for c in chunks], dtype=np.int64) if chunks else np.zeros(0)
    blob = np.frombuffer(b"".join(chunks), dtype=np.uint8)
    return blob, np.asarray(ends, dtype=np.int32)


def _flags(spans: TokenSpans) -> np.ndarray:
    return (
        spans.special.astype(np.int32) * SPECIAL
        + spans.template.astype(np.int32) * TEMPLATE
        + spans.unknown.astype(np.int32) * UNKNOWN
        + spans.byte_fallback.astype(np.int32) * BYTE_FALLBACK
    )


def summary(spans: TokenSpans, name: str, *, embeddings: bool, vocab_size: int) -> dict[str, Any]:
    """What the view says about one tokenizer's result: name, algorithm, counts, notes."""
    counts = spans.counts
    return {
        "name": name,
        "algorithm": spans.algorithm,
        "rank_basis": spans.rank_basis,
        "offsets_from": spans.offsets_from,
        "note": spans.note,
        "n": len(spans),
        "vocab_size": vocab_size,
        "embeddings": embeddings,
        "counts": {
            "tokens": counts.tokens,
            "text_tokens": counts.text_tokens,
            "characters": counts.characters,
            "words": counts.words,
            "bytes": counts.bytes,
            "bytes_per_token": round(counts.bytes_per_token, 3),
            "unknown": counts.unknown,
            "byte_fallback": counts.byte_fallback,
            "special": counts.special,
            "template": counts.template,
        },
    }


def spans_value(
    records: Sequence[TokenSpans],
    names: Sequence[str],
    alignment: Alignment | None = None,
    summaries: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``data`` trait of a TokenizerView: every record and the alignment, one buffer."""
    text = records[0].text
    utf16 = _cumulative_widths(text)[1]
    arrays: dict[str, np.ndarray] = {}
    for k, spans in enumerate(records):
        starts, ends = spans.utf16_offsets()
        arrays[f"starts.{k}"] = starts.astype(np.int32)
        arrays[f"ends.{k}"] = ends.astype(np.int32)
        arrays[f"ids.{k}"] = spans.ids.astype(np.int32)
        arrays[f"groups.{k}"] = spans.groups.astype(np.int32)
        arrays[f"rank.{k}"] = np.clip(spans.rank, -1, 2**31 - 1).astype(np.int32)
        arrays[f"flags.{k}"] = _flags(spans).astype(np.uint8)
        if spans.rank_basis == "score":
            arrays[f"scores.{k}"] = spans.scores.astype(np.float32)
        for table, items in (
            ("pieces", spans.pieces),
            ("readable", spans.readable),
            ("bytes", spans.token_bytes),
        ):
            blob, ends_of = string_table(items)
            arrays[f"{table}.{k}"] = blob
            arrays[f"{table}_ends.{k}"] = ends_of
    agreement = None
    if alignment is not None and len(records) > 1:
        arrays["boundaries"] = utf16[alignment.boundaries].astype(np.int32)
        arrays["present"] = alignment.present.astype(np.uint8)
        arrays["agreed"] = alignment.agreed.astype(np.uint8)
        agreement = round(alignment.agreement, 4)
    if summaries is None:
        summaries = [
            summary(s, n, embeddings=False, vocab_size=0)
            for s, n in zip(records, names, strict=True)
        ]
    return packed_value(
        arrays,
        tokenizers=list(summaries),
        text_length=int(utf16[-1]),
        agreement=agreement,
    )
