"""The vocabulary panel's questions, answered in the kernel: search by substring or id, and
a token's nearest neighbours by cosine in a model's input embeddings. Replies are plain JSON
(the browser shows them as text).

JS -> Python ``{"type": "search", "id", "tokenizer": k, "query": "ing" | "#123"}`` and
``{"type": "nearest", "id", "tokenizer": k, "token": id, "k": 10}``; Python -> JS the same
``type`` with ``results`` and a sentence (``text``), or ``{"type": "error", "id", "message"}``.

>>> from tokenizers import Tokenizer, models
>>> tok = Tokenizer(models.WordPiece({"[UNK]": 0, "sing": 1, "##ing": 2}, unk_token="[UNK]"))
>>> reply = answer([tok], [None], {"type": "search", "id": 1, "tokenizer": 0, "query": "ing"})
>>> reply["text"], [r["piece"] for r in reply["results"]]
('2 entries contain «ing»', ['##ing', 'sing'])
>>> answer([tok], [None], {"type": "nearest", "id": 2, "tokenizer": 0, "token": 1})["message"]
'nearest: no embeddings for tokenizer 0; give the model: TokenizerView(tok, text, model=model)'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...tokenizers import nearest_tokens, read_tokenizer, search_vocab

LIMIT = 50
"""Search results sent at most."""
MAX_NEIGHBOURS = 100


def reply_id(content: dict[str, Any]) -> int | str | None:
    """The request's id, echoed when it is an int or a short string."""
    value = content.get("id")
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and len(value) <= 200):
        return value
    return None


def error(content: dict[str, Any], message: str) -> dict[str, Any]:
    return {"type": "error", "id": reply_id(content), "message": message}


def embedding_matrix(source: Any) -> Any:
    """The ``[vocab, dim]`` matrix of ``source``: a model (its input embeddings), a tensor or
    an array; returned as it is for :func:`nearest_tokens` to read (no torch import here)."""
    getter = getattr(source, "get_input_embeddings", None)
    if callable(getter):
        layer = getter()
        weight = getattr(layer, "weight", None)
        if weight is None:
            raise ValueError(
                f"model=: {type(source).__name__}.get_input_embeddings() has no weight matrix"
            )
        return weight
    return source


def _index(content: dict[str, Any], count: int) -> int:
    value = content.get("tokenizer", 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < count:
        raise ValueError(f"tokenizer: {value!r} is not one of 0..{count - 1}")
    return value


def _search(tokenizer: Any, k: int, content: dict[str, Any]) -> dict[str, Any]:
    query = content.get("query")
    if not isinstance(query, str) or not query or len(query) > 200:
        raise ValueError("query: give a substring (1 to 200 characters) or #id")
    by_id = re.fullmatch(r"#?(\d{1,9})", query.strip())
    found = search_vocab(tokenizer, int(by_id.group(1)) if by_id else query, LIMIT + 1)
    results = [
        {"id": e.id, "piece": e.piece, "readable": e.readable, "rank": e.rank,
         "special": e.special}
        for e in found[:LIMIT]
    ]  # fmt: skip
    if by_id:
        text = f"id {results[0]['id']}"
    else:
        more = "more than " if len(found) > LIMIT else ""
        noun = "entry contains" if len(results) == 1 else "entries contain"
        text = f"{more}{len(results)} {noun} «{query}»"
    return {"type": "search", "tokenizer": k, "query": query, "results": results, "text": text}


def _nearest(tokenizer: Any, k: int, source: Any, content: dict[str, Any]) -> dict[str, Any]:
    token = content.get("token")
    count = content.get("k", 10)
    if isinstance(token, bool) or not isinstance(token, int):
        raise ValueError(f"token: {token!r} is not a token id")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_NEIGHBOURS:
        raise ValueError(f"k: {count!r} is not in 1..{MAX_NEIGHBOURS}")
    near = nearest_tokens(embedding_matrix(source), token, count, tokenizer=tokenizer)
    data = read_tokenizer(tokenizer)
    piece = data.pieces[token] if token < len(data.pieces) else ""
    readable = data.readable[token] if token < len(data.readable) else ""
    results = [
        {"id": int(i), "piece": p, "readable": r, "similarity": round(float(s), 4)}
        for i, s, p, r in zip(near.ids, near.similarities, near.pieces, near.readable, strict=True)
        if np.isfinite(s)
    ]
    return {
        "type": "nearest",
        "tokenizer": k,
        "token": token,
        "piece": piece,
        "readable": readable,
        "results": results,
        "text": f"nearest to «{readable or piece}» (id {token}) by cosine in the input embeddings",
    }


def answer(tokenizers: Sequence[Any], embeddings: Sequence[Any], content: Any) -> dict[str, Any]:
    """The reply to one message from the vocabulary panel (never raises)."""
    if not isinstance(content, dict):
        return {"type": "error", "id": None, "message": "message: expected an object"}
    kind = content.get("type")
    try:
        k = _index(content, len(tokenizers))
        if kind == "search":
            reply = _search(tokenizers[k], k, content)
        elif kind == "nearest":
            if embeddings[k] is None:
                return error(
                    content,
                    f"nearest: no embeddings for tokenizer {k}; give the model: "
                    "TokenizerView(tok, text, model=model)",
                )
            reply = _nearest(tokenizers[k], k, embeddings[k], content)
        else:
            return error(content, f"type: {kind!r} is not 'search' or 'nearest'")
    except (ValueError, TypeError, IndexError) as problem:
        return error(content, str(problem))
    return {**reply, "id": reply_id(content)}
