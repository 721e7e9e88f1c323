"""Every token of a text as a plain record: id, piece, readable form, character span, the bytes
it covers, rank and flags (:class:`TokenSpans`), built by :func:`tokenize_with_spans`.

>>> from tokenizers import Tokenizer, models, pre_tokenizers
>>> vocab = {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "play": 3, "##ing": 4, "cats": 5}
>>> tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
>>> tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
>>> spans = tokenize_with_spans(tok, "playing cats!")
>>> spans.pieces, spans.readable
(['play', '##ing', 'cats', '[UNK]'], ['play', 'ing', 'cats', '[UNK]'])
>>> spans.starts.tolist(), spans.ends.tolist(), spans.unknown.tolist()
([0, 4, 8, 12], [4, 7, 12, 13], [False, False, False, True])
>>> spans.counts.tokens, spans.counts.words, spans.counts.unknown
(4, 2, 1)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from .data import TokenizerData, read_tokenizer
from .readable import BYTE_PIECE, join_byte_runs, piece_chunks
from .slow_align import NO_OFFSETS_NOTE, align_pieces

MISMATCH_NOTE = (
    "this tokenizer's ids differ from its backend's encoding (the wrapper adds or changes "
    "tokens): spans were found by decoding each piece and aligning it to the text"
)


@dataclass(frozen=True)
class TokenCounts:
    """Counts over one tokenized text.

    ``tokens``: all tokens; ``text_tokens``: those not added by the template; ``characters``:
    code points; ``words``: whitespace-separated words; ``bytes``: UTF-8 bytes of the text;
    ``bytes_per_token``: ``bytes / text_tokens``; ``unknown``, ``byte_fallback``, ``special``
    (special tokens written in the text), ``template`` (added by the template).
    """

    tokens: int
    text_tokens: int
    characters: int
    words: int
    bytes: int
    bytes_per_token: float
    unknown: int
    byte_fallback: int
    special: int
    template: int


@dataclass(frozen=True, eq=False)
class TokenSpans:
    """One text through one tokenizer, token by token (``n`` tokens, arrays of length ``n``).

    ``ids`` int64; ``pieces``: raw vocabulary pieces (``Ġworld``, ``##ing``, ``<0xE3>``);
    ``readable``: what each piece reads as (a run of byte pieces that together form
    characters all read as those characters); ``groups``: index of the first token of that
    run (``i`` for a token on its own); ``starts``/``ends``: character (code point) span in
    ``text``, ``(0, 0)`` for template tokens; ``byte_starts``/``byte_ends``: the same span in
    UTF-8 bytes of ``text``; ``token_bytes``: the bytes the piece itself stands for (part of a
    character for a byte piece); ``rank`` and ``rank_basis`` (``"merge"``: index of the BPE
    merge making the piece, -1 for a piece no merge makes; ``"score"``: Unigram rank by
    log-probability, 0 = most probable; ``"id"``: the id, as a proxy for frequency); ``scores``:
    Unigram log-probabilities (NaN elsewhere); flags ``special`` (special token written in the
    text), ``template`` (added by the template: BOS/EOS/[CLS]/[SEP]), ``unknown`` (the model's
    unknown token), ``byte_fallback`` (a ``<0xNN>`` piece); ``word_ids``: the tokenizer's word
    index of each token (-1 for template tokens or when unknown); ``offsets_from``:
    ``"tokenizer"`` or ``"aligned"`` (see ``note``).
    """

    text: str
    tokenizer_name: str
    algorithm: str
    ids: np.ndarray
    pieces: list[str]
    readable: list[str]
    groups: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    byte_starts: np.ndarray
    byte_ends: np.ndarray
    token_bytes: list[bytes]
    rank: np.ndarray
    rank_basis: str
    scores: np.ndarray
    special: np.ndarray
    template: np.ndarray
    unknown: np.ndarray
    byte_fallback: np.ndarray
    word_ids: np.ndarray
    offsets_from: str
    note: str

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def counts(self) -> TokenCounts:
        """Counts of tokens, characters, words, bytes and flagged tokens."""
        text_tokens = int((~self.template).sum())
        size = len(self.text.encode("utf-8", "surrogatepass"))
        return TokenCounts(
            tokens=len(self.ids),
            text_tokens=text_tokens,
            characters=len(self.text),
            words=len(self.text.split()),
            bytes=size,
            bytes_per_token=size / text_tokens if text_tokens else 0.0,
            unknown=int(self.unknown.sum()),
            byte_fallback=int(self.byte_fallback.sum()),
            special=int(self.special.sum()),
            template=int(self.template.sum()),
        )

    def utf16_offsets(self) -> tuple[np.ndarray, np.ndarray]:
        """``(starts, ends)`` in UTF-16 code units: indices into the same text in JavaScript.

        >>> from tokenizers import Tokenizer, models, pre_tokenizers
        >>> tok = Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
        >>> tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        >>> [a.tolist() for a in tokenize_with_spans(tok, "😀 a").utf16_offsets()]
        [[0, 3], [2, 4]]
        """
        cumulative = _cumulative_widths(self.text)[1]
        return cumulative[self.starts], cumulative[self.ends]

    def token(self, index: int) -> dict[str, Any]:
        """Everything about one token as plain Python values (for a hover or a table)."""
        return {
            "index": index,
            "id": int(self.ids[index]),
            "piece": self.pieces[index],
            "readable": self.readable[index],
            "group": int(self.groups[index]),
            "span": (int(self.starts[index]), int(self.ends[index])),
            "text": self.text[self.starts[index] : self.ends[index]],
            "bytes": self.token_bytes[index],
            "rank": int(self.rank[index]),
            "rank_basis": self.rank_basis,
            "special": bool(self.special[index]),
            "template": bool(self.template[index]),
            "unknown": bool(self.unknown[index]),
            "byte_fallback": bool(self.byte_fallback[index]),
        }


def _cumulative_widths(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative UTF-8 and UTF-16 widths: ``c[k]`` = units before character ``k``."""
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    utf8 = 1 + (points >= 0x80).astype(np.int64) + (points >= 0x800) + (points >= 0x10000)
    utf16 = 1 + (points >= 0x10000).astype(np.int64)
    zero = np.zeros(1, dtype=np.int64)
    return np.concatenate([zero, np.cumsum(utf8)]), np.concatenate([zero, np.cumsum(utf16)])


def _settings_note(tokenizer: Any) -> str:
    """What a bare ``tokenizers.Tokenizer``'s own truncation and padding do to the record."""
    notes = []
    if tokenizer.truncation:
        notes.append(
            f"this tokenizer truncates to {tokenizer.truncation['max_length']} tokens: the rest "
            "of the text has none (tokenizer.no_truncation() to see them all)"
        )
    if tokenizer.padding:
        notes.append("this tokenizer pads: padding tokens are marked as template tokens")
    return "; ".join(notes)


def _encode_fast(
    data: TokenizerData, text: str, add_special_tokens: bool
) -> tuple[list[int], Any, str] | None:
    """Ids, the ``tokenizers.Encoding`` for ``text`` and a note, or None if they disagree."""
    tokenizer = data.tokenizer
    if data.backend is tokenizer and tokenizer is not None:
        encoding = tokenizer.encode(text, add_special_tokens=add_special_tokens)
        return list(encoding.ids), encoding, _settings_note(tokenizer)
    batch = tokenizer(
        text,
        add_special_tokens=add_special_tokens,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
        verbose=False,
    )
    encodings = getattr(batch, "encodings", None)
    ids = [int(i) for i in batch["input_ids"]]
    if not encodings or list(encodings[0].ids) != ids:
        return None
    return ids, encodings[0], ""


def tokenize_with_spans(
    tokenizer: Any, text: str, *, add_special_tokens: bool = True
) -> TokenSpans:
    """Tokenize ``text`` and describe every token (:class:`TokenSpans`).

    ``tokenizer``: a ``tokenizers.Tokenizer``, a transformers tokenizer, or the
    :class:`TokenizerData` of one. Offsets come from the tokenizer; a tokenizer without offset
    mapping (a slow/Python tokenizer) gets spans found by decoding each piece and aligning it to
    the text, and says so in ``note``.

    >>> from tokenizers import Tokenizer, models, pre_tokenizers
    >>> tok = Tokenizer(models.BPE({"a": 0, "b": 1, "Ġ": 2, "Ġa": 3}, [("Ġ", "a")]))
    >>> tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    >>> spans = tokenize_with_spans(tok, "b a")
    >>> spans.pieces, spans.readable, spans.starts.tolist(), spans.rank.tolist()
    (['b', 'Ġa'], ['b', ' a'], [0, 1], [-1, 0])
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize_with_spans: text must be a str, got {type(text).__name__}")
    data = read_tokenizer(tokenizer)
    encoded = _encode_fast(data, text, add_special_tokens) if data.backend is not None else None
    if encoded is not None:
        ids_list, encoding, note = encoded
        ids = np.asarray(ids_list, dtype=np.int64)
        pieces = list(encoding.tokens)
        offsets = np.asarray(encoding.offsets, dtype=np.int64).reshape(-1, 2)
        template = np.asarray(encoding.special_tokens_mask, dtype=bool)
        word_ids = np.asarray([-1 if w is None else w for w in encoding.word_ids], dtype=np.int64)
        offsets_from = "tokenizer"
    else:
        call = data.tokenizer(text, add_special_tokens=add_special_tokens, verbose=False)
        ids = np.asarray([int(i) for i in call["input_ids"]], dtype=np.int64)
        pieces = [str(p) for p in data.tokenizer.convert_ids_to_tokens(ids.tolist())]
        offsets = None
        word_ids = np.full(len(ids), -1, dtype=np.int64)
        offsets_from = "aligned"
        note = NO_OFFSETS_NOTE if data.backend is None else MISMATCH_NOTE
    unknown = ids == data.unk_id if data.unk_id is not None else np.zeros(len(ids), dtype=bool)
    special = np.isin(ids, np.fromiter(data.special_ids, dtype=np.int64)) & ~unknown
    literal = special.tolist()
    chunks = piece_chunks(data.scheme, pieces, literal)
    readable, groups = join_byte_runs(chunks, [not keep for keep in literal])
    if offsets is None:
        starts, ends, found = align_pieces(text, readable, groups, literal)
        template = special & ~found
    else:
        starts, ends = offsets[:, 0].copy(), offsets[:, 1].copy()
    special = special & ~template
    if data.scheme.byte_fallback:
        byte_fallback = np.array([bool(BYTE_PIECE.fullmatch(p)) for p in pieces], dtype=bool)
    else:
        byte_fallback = np.zeros(len(ids), dtype=bool)
    utf8 = _cumulative_widths(text)[0]
    scores = np.full(len(ids), np.nan)
    if len(data.scores):
        inside = (ids >= 0) & (ids < len(data.scores))
        scores[inside] = data.scores[ids[inside]]
    return TokenSpans(
        text=text,
        tokenizer_name=data.name,
        algorithm=data.algorithm,
        ids=ids,
        pieces=pieces,
        readable=readable,
        groups=np.asarray(groups, dtype=np.int64),
        starts=starts,
        ends=ends,
        byte_starts=utf8[starts],
        byte_ends=utf8[ends],
        token_bytes=chunks,
        rank=data.rank_of(ids, pieces),
        rank_basis=data.rank_basis,
        scores=scores,
        special=special,
        template=template,
        unknown=unknown,
        byte_fallback=byte_fallback,
        word_ids=word_ids,
        offsets_from=offsets_from,
        note=note,
    )
