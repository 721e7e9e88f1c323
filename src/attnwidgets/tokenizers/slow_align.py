"""Character spans for a tokenizer that gives no offset mapping: each piece (or run of byte
pieces) is decoded and found again in the text, compared in a loose form (case folded,
accents and whitespace dropped), left to right.

>>> starts, ends, found = align_pieces(
...     "Naïve  café!", ["naive", "cafe", "!"], [0, 1, 2], [False, False, False]
... )
>>> starts.tolist(), ends.tolist(), found.tolist()
([0, 7, 11], [5, 11, 12], [True, True, True])
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import numpy as np

WINDOW = 256  # loose characters a piece may skip over (text the tokenizer dropped)
NO_OFFSETS_NOTE = (
    "this tokenizer gives no offset mapping (a slow/Python tokenizer): spans were found by "
    "decoding each piece and aligning it to the text"
)


def _loose_char(char: str) -> str:
    if char.isspace() or unicodedata.category(char).startswith("C"):
        return ""
    decomposed = unicodedata.normalize("NFKD", char)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return kept.casefold()


def loose_form(text: str) -> tuple[str, np.ndarray]:
    """``text`` case folded, without accents, whitespace or control characters, and the
    index in ``text`` of every character of that form.

    >>> loose_form("Ça va")
    ('cava', array([0, 1, 3, 4]))
    """
    memo: dict[str, str] = {}
    parts: list[str] = []
    index: list[int] = []
    for position, char in enumerate(text):
        loose = memo.get(char)
        if loose is None:
            loose = memo[char] = _loose_char(char)
        if loose:
            parts.append(loose)
            index.extend([position] * len(loose))
    return "".join(parts), np.asarray(index, dtype=np.int64)


def _loose_piece(text: str) -> str:
    return "".join(_loose_char(c) for c in text)


def align_pieces(
    text: str, readable: Sequence[str], groups: Sequence[int], literal: Sequence[bool]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(starts, ends, found)`` per piece: character spans of decoded pieces in ``text``.

    ``readable[i]``: the decoded text of piece ``i`` (the same for every piece of a byte run);
    ``groups[i]``: first piece of its run; ``literal[i]``: a special token, looked for as it
    is and given the empty span ``(0, 0)`` when the text does not hold it (added by the
    template). Pieces that cannot be found (``[UNK]``) take the gap between their neighbours.
    """
    n = len(readable)
    starts = np.zeros(n, dtype=np.int64)
    ends = np.zeros(n, dtype=np.int64)
    found = np.zeros(n, dtype=bool)
    loose, index = loose_form(text)
    at_text = 0  # first character of text not yet covered
    at_loose = 0
    i = 0
    while i < n:
        stop = i + 1
        while stop < n and groups[stop] == i:
            stop += 1
        piece = readable[i]
        span: tuple[int, int] | None = None
        next_loose = -1  # where the loose cursor goes after a loose match
        if literal[i]:
            position = _skip_space(text, at_text)
            if piece and text.startswith(piece, position):
                span = (position, position + len(piece))
        else:
            key = _loose_piece(piece)
            if key:
                hit = loose.find(key, at_loose, at_loose + len(key) + WINDOW)
                if hit >= 0:
                    start, end = int(index[hit]), int(index[hit + len(key) - 1]) + 1
                    lead = len(piece) - len(piece.lstrip())
                    while lead and start > at_text and text[start - 1].isspace():
                        start -= 1
                        lead -= 1
                    span = (start, end)
                    next_loose = hit + len(key)
            elif piece and text.startswith(piece, at_text):
                span = (at_text, at_text + len(piece))
        if span is not None:
            starts[i:stop], ends[i:stop] = span
            found[i:stop] = True
            at_text = max(at_text, span[1])
            # a piece may end inside a character (Hangul jamo of a decomposed syllable)
            at_loose = next_loose if next_loose >= 0 else int(np.searchsorted(index, at_text))
        i = stop
    _fill_gaps(text, starts, ends, found, literal)
    return starts, ends, found


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _fill_gaps(
    text: str,
    starts: np.ndarray,
    ends: np.ndarray,
    found: np.ndarray,
    literal: Sequence[bool],
) -> None:
    """Unfound non-special pieces span the text between the found pieces around them."""
    previous_end = 0
    n = len(starts)
    i = 0
    while i < n:
        if found[i] or literal[i]:
            if found[i]:
                previous_end = int(ends[i])
            i += 1
            continue
        j = i
        while j < n and not found[j]:
            j += 1
        start = _skip_space(text, previous_end)
        end = int(starts[j]) if j < n else len(text)
        while end > start and text[end - 1].isspace():
            end -= 1
        for k in range(i, j):
            if not literal[k]:
                starts[k], ends[k] = start, max(start, end)
        i = j
