"""Readable forms of vocabulary pieces: byte-level (``Ġ``), Metaspace (``▁``), byte fallback
(``<0xE3>``) and WordPiece continuations (``##``).

A piece is turned into the bytes it stands for; runs of pieces whose bytes only make sense
together (an emoji split over three byte-level pieces, ``<0xE3><0x81><0xAE>``) are joined
into the characters they encode.

>>> scheme = PieceScheme(byte_level=True)
>>> piece_bytes(scheme, "Ġworld")
b' world'
>>> readable_pieces(scheme, ["Hi", "ĠðŁ", "ĳ", "į"])
(['Hi', ' 👍', ' 👍', ' 👍'], [0, 1, 1, 1])
>>> sentencepiece = PieceScheme(byte_fallback=True, metaspace="▁")
>>> readable_pieces(sentencepiece, ["▁a", "<0xE3>", "<0x81>", "<0xAE>"])
([' a', 'の', 'の', 'の'], [0, 1, 1, 1])
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")
MAX_JOINED = 8  # pieces joined at most to complete one UTF-8 sequence


@dataclass(frozen=True)
class PieceScheme:
    """How a tokenizer's pieces encode text.

    ``byte_level``: GPT-2 style byte-to-unicode alphabet (``Ġ`` is a space); ``metaspace``: the
    character standing for a space (``▁``) or None; ``byte_fallback``: ``<0xNN>`` pieces are raw
    bytes; ``subword_prefix``: WordPiece/BPE continuation prefix (``##``) or None;
    ``word_suffix``: BPE end-of-word suffix (``</w>``) or None.
    """

    byte_level: bool = False
    metaspace: str | None = None
    byte_fallback: bool = False
    subword_prefix: str | None = None
    word_suffix: str | None = None


@lru_cache(maxsize=1)
def byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from the 256 byte values to printable characters.

    >>> byte_to_unicode()[32], byte_to_unicode()[10]
    ('Ġ', 'Ċ')
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    mapping = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


@lru_cache(maxsize=1)
def unicode_to_byte() -> dict[str, int]:
    """The inverse of :func:`byte_to_unicode`."""
    return {c: b for b, c in byte_to_unicode().items()}


def piece_bytes(scheme: PieceScheme, piece: str) -> bytes:
    """The bytes a piece stands for (a space for ``Ġ``/``▁``; ``##`` dropped).

    >>> piece_bytes(PieceScheme(subword_prefix="##"), "##ing")
    b'ing'
    >>> piece_bytes(PieceScheme(byte_fallback=True), "<0xE3>")
    b'\\xe3'
    """
    if scheme.byte_fallback:
        match = BYTE_PIECE.fullmatch(piece)
        if match:
            return bytes([int(match.group(1), 16)])
    if scheme.byte_level:
        table = unicode_to_byte()
        if all(c in table for c in piece):
            return bytes(table[c] for c in piece)
    text = piece
    if (
        scheme.subword_prefix
        and text.startswith(scheme.subword_prefix)
        and text != scheme.subword_prefix
    ):
        text = text[len(scheme.subword_prefix) :]
    if scheme.word_suffix and text.endswith(scheme.word_suffix) and text != scheme.word_suffix:
        text = text[: -len(scheme.word_suffix)]
    if scheme.metaspace:
        text = text.replace(scheme.metaspace, " ")
    return text.encode("utf-8", "surrogatepass")


def readable_bytes(data: bytes) -> str:
    """Bytes as text; bytes that are not valid UTF-8 shown as ``\\xNN``.

    >>> readable_bytes(b"caf\\xc3")
    'caf\\\\xc3'
    """
    return data.decode("utf-8", "backslashreplace")


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def join_byte_runs(
    chunks: Sequence[bytes], joinable: Sequence[bool]
) -> tuple[list[str], list[int]]:
    """Readable text per chunk and the index of the first chunk of the run it was joined with.

    A chunk that is not valid UTF-8 on its own is joined with the following joinable chunks
    (at most ``MAX_JOINED``) until the run decodes; every chunk of the run then reads as the
    run's text. Chunks that never decode show their bytes as ``\\xNN``.

    >>> join_byte_runs([b"\\xe3\\x81", b"\\xae", b"!"], [True, True, True])
    (['の', 'の', '!'], [0, 0, 2])
    """
    n = len(chunks)
    texts = [""] * n
    groups = list(range(n))
    i = 0
    while i < n:
        data = chunks[i]
        if _decodes(data) or not joinable[i]:
            texts[i] = readable_bytes(data)
            i += 1
            continue
        end = i + 1
        joined = data
        found = False
        while end < n and end - i < MAX_JOINED and joinable[end]:
            joined += chunks[end]
            end += 1
            if _decodes(joined):
                found = True
                break
        if not found:
            texts[i] = readable_bytes(data)
            i += 1
            continue
        text = joined.decode("utf-8")
        for k in range(i, end):
            texts[k] = text
            groups[k] = i
        i = end
    return texts, groups


def piece_chunks(
    scheme: PieceScheme, pieces: Sequence[str], literal: Sequence[bool] | None = None
) -> list[bytes]:
    """The bytes of every piece; ``literal[i]`` pieces (special tokens) as their UTF-8."""
    literal = literal if literal is not None else [False] * len(pieces)
    cache: dict[str, bytes] = {}
    chunks: list[bytes] = []
    for piece, keep in zip(pieces, literal, strict=True):
        if keep:
            chunks.append(piece.encode("utf-8", "surrogatepass"))
            continue
        data = cache.get(piece)
        if data is None:
            data = cache[piece] = piece_bytes(scheme, piece)
        chunks.append(data)
    return chunks


def readable_pieces(
    scheme: PieceScheme, pieces: Sequence[str], literal: Sequence[bool] | None = None
) -> tuple[list[str], list[int]]:
    """Readable text of each piece and the first piece of the byte run it belongs to.

    ``literal[i]`` marks pieces shown as they are (special tokens): never decoded or joined.
    """
    literal = literal if literal is not None else [False] * len(pieces)
    chunks = piece_chunks(scheme, pieces, literal)
    return join_byte_runs(chunks, [not keep for keep in literal])
