"""The vocabulary: search by substring or id (:func:`search_vocab`), and a token's nearest
neighbours by cosine similarity in an input-embedding matrix (:func:`nearest_tokens`).

>>> from tokenizers import Tokenizer, models
>>> vocab = {"[UNK]": 0, "sing": 1, "##ing": 2, "ring": 3, "in": 4}
>>> tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
>>> [(e.id, e.piece, e.readable) for e in search_vocab(tok, "ing")]
[(2, '##ing', 'ing'), (1, 'sing', 'sing'), (3, 'ring', 'ring')]
>>> search_vocab(tok, 3)[0].piece
'ring'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .data import TokenizerData, read_tokenizer


@dataclass(frozen=True)
class VocabEntry:
    """One vocabulary entry: ``id``, raw ``piece``, its ``readable`` form, ``rank`` (see
    ``TokenizerData.rank_basis``) and whether it is ``special``."""

    id: int
    piece: str
    readable: str
    rank: int
    special: bool


def _entry(data: TokenizerData, index: int) -> VocabEntry:
    piece = data.pieces[index]
    rank = int(data.rank_of(np.array([index]), [piece])[0])
    return VocabEntry(index, piece, data.readable[index], rank, index in data.special_ids)


def search_vocab(tokenizer: Any, query: str | int, limit: int = 50) -> list[VocabEntry]:
    """Vocabulary entries whose raw piece or readable form contains ``query`` (case
    sensitive), or the entry with id ``query`` when it is an int.

    Order: readable form equal to the query (spaces aside) first, then starting with it, then
    the rest; by id within each. At most ``limit`` entries.

    >>> from tokenizers import Tokenizer, models, pre_tokenizers
    >>> tok = Tokenizer(models.BPE({"Ġ": 0, "a": 1, "Ġa": 2, "ab": 3}, [("Ġ", "a")]))
    >>> tok.pre_tokenizer = pre_tokenizers.ByteLevel()
    >>> [(e.piece, e.readable) for e in search_vocab(tok, "a", limit=5)]
    [('a', 'a'), ('Ġa', ' a'), ('ab', 'ab')]
    """
    data = read_tokenizer(tokenizer)
    size = len(data.pieces)
    if isinstance(query, (int, np.integer)) and not isinstance(query, bool):
        index = int(query)
        if not 0 <= index < size or not data.pieces[index]:
            raise ValueError(
                f"search_vocab: id {index} is not in {data.name}'s vocabulary (0..{size - 1})"
            )
        return [_entry(data, index)]
    if not isinstance(query, str) or not query:
        raise ValueError(
            "search_vocab: query must be a non-empty str (a substring) or an int (an id)"
        )
    hits: list[tuple[int, int]] = []
    for index, (piece, readable) in enumerate(zip(data.pieces, data.readable, strict=True)):
        if query in piece or query in readable:
            bare = readable.strip()
            order = 0 if bare == query else 1 if bare.startswith(query) else 2
            hits.append((order, index))
    hits.sort()
    return [_entry(data, index) for _, index in hits[: max(limit, 0)]]


@dataclass(frozen=True)
class Neighbours:
    """The ``k`` nearest tokens of ``token_id``: ``ids`` int64 ``[k]`` and ``similarities``
    float32 ``[k]`` (cosine, highest first), ``pieces``/``readable`` when a tokenizer was
    given (else empty)."""

    token_id: int
    ids: np.ndarray
    similarities: np.ndarray
    pieces: tuple[str, ...] = ()
    readable: tuple[str, ...] = ()


def _as_matrix(embeddings: Any) -> np.ndarray:
    value = embeddings
    if hasattr(value, "detach"):  # a torch tensor or Parameter, without importing torch
        value = value.detach()
        if hasattr(value, "float"):
            value = value.float()
        value = value.cpu().numpy()
    matrix = np.asarray(value)
    if matrix.ndim != 2 or not np.issubdtype(matrix.dtype, np.floating):
        raise ValueError(
            f"nearest_tokens: embeddings must be a float [vocab, dim] matrix, got shape "
            f"{matrix.shape} dtype {matrix.dtype}; pass model.get_input_embeddings().weight"
        )
    return matrix


def nearest_tokens(
    embeddings: Any, token: int | str, k: int = 10, *, tokenizer: Any | None = None
) -> Neighbours:
    """The ``k`` tokens whose rows of ``embeddings`` ([vocab, dim], numpy or a torch tensor
    such as ``model.get_input_embeddings().weight``) are most cosine-similar to ``token``'s
    (an id, or a piece when ``tokenizer`` is given). The token itself is left out; rows of
    zeros have similarity 0.

    >>> table = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    >>> near = nearest_tokens(table, 0, k=2)
    >>> near.ids.tolist(), [round(float(s), 3) for s in near.similarities]
    ([1, 2], [0.994, 0.0])
    """
    matrix = _as_matrix(embeddings)
    data = read_tokenizer(tokenizer) if tokenizer is not None else None
    if isinstance(token, str):
        if data is None or token not in data.vocab:
            raise ValueError(
                f"nearest_tokens: piece {token!r} needs a tokenizer whose vocabulary holds it; "
                "pass tokenizer=... or an id"
            )
        token = data.vocab[token]
    index = int(token)
    if not 0 <= index < matrix.shape[0]:
        raise ValueError(
            f"nearest_tokens: id {index} is outside the embedding matrix's {matrix.shape[0]} rows"
        )
    rows = matrix.astype(np.float32, copy=False)
    norms = np.linalg.norm(rows, axis=1)
    query = rows[index]
    scale = norms * norms[index]
    with np.errstate(divide="ignore", invalid="ignore"):
        similarity = np.where(scale > 0, rows @ query / scale, 0.0).astype(np.float32)
    similarity[index] = -np.inf
    count = max(0, min(k, matrix.shape[0] - 1))
    top = np.argpartition(-similarity, count - 1)[:count] if count else np.zeros(0, dtype=np.int64)
    top = top[np.lexsort((top, -similarity[top]))]
    pieces: tuple[str, ...] = ()
    readable: tuple[str, ...] = ()
    if data is not None:
        size = len(data.pieces)
        pieces = tuple(data.pieces[i] if i < size else "" for i in top)
        readable = tuple(data.readable[i] if i < size else "" for i in top)
    return Neighbours(index, top.astype(np.int64), similarity[top], pieces, readable)
