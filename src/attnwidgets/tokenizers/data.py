"""A tokenizer's own data, read once: its ``tokenizer.json`` model section (vocabulary, BPE
merges with ranks, WordPiece prefix, Unigram scores), special tokens and piece scheme.

Works for a ``tokenizers.Tokenizer``, a fast transformers tokenizer (``backend_tokenizer``), and,
with less (no merges, no steps), a slow Python tokenizer.

>>> from tokenizers import Tokenizer, models
>>> tok = Tokenizer(models.WordPiece({"[UNK]": 0, "play": 1, "##ing": 2}, unk_token="[UNK]"))
>>> data = read_tokenizer(tok)
>>> data.algorithm, data.scheme.subword_prefix, data.unk_id, data.vocab["##ing"]
('wordpiece', '##', 0, 2)
"""

from __future__ import annotations

import contextlib
import json
import weakref
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from .readable import PieceScheme, piece_bytes, readable_bytes

_CACHE: weakref.WeakKeyDictionary[Any, TokenizerData] = weakref.WeakKeyDictionary()


def backend_of(tokenizer: Any) -> Any | None:
    """The ``tokenizers.Tokenizer`` behind ``tokenizer`` (itself if it is one), else None."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        return backend
    if type(tokenizer).__module__.startswith("tokenizers") and hasattr(tokenizer, "to_str"):
        return tokenizer
    return None


def _find_types(node: Any, found: dict[str, dict[str, Any]]) -> None:
    """Collect every component ``{"type": ...}`` of a tokenizer.json subtree, by type."""
    if isinstance(node, dict):
        kind = node.get("type")
        if isinstance(kind, str):
            found.setdefault(kind, node)
        for value in node.values():
            _find_types(value, found)
    elif isinstance(node, list):
        for value in node:
            _find_types(value, found)


def _scheme_from_json(spec: dict[str, Any]) -> PieceScheme:
    model = spec.get("model") or {}
    parts: dict[str, dict[str, Any]] = {}
    for key in ("normalizer", "pre_tokenizer", "decoder"):
        _find_types(spec.get(key), parts)
    metaspace = parts.get("Metaspace", {}).get("replacement")
    if metaspace is None:
        for key in ("normalizer", "decoder"):
            text = json.dumps(spec.get(key))
            if "\u2581" in text or "\\u2581" in text:
                metaspace = "\u2581"
    prefix = model.get("continuing_subword_prefix") or None
    return PieceScheme(
        byte_level="ByteLevel" in parts,
        metaspace=metaspace,
        byte_fallback=bool(model.get("byte_fallback")) or "ByteFallback" in parts,
        subword_prefix=prefix,
        word_suffix=model.get("end_of_word_suffix") or None,
    )


def _scheme_of_slow(tokenizer: Any, vocab: dict[str, int]) -> PieceScheme:
    wordpiece = getattr(tokenizer, "wordpiece_tokenizer", None)
    return PieceScheme(
        byte_level=hasattr(tokenizer, "byte_decoder"),
        metaspace="\u2581" if hasattr(tokenizer, "sp_model") else None,
        byte_fallback="<0x00>" in vocab,
        subword_prefix="##" if wordpiece is not None else None,
    )


def _merges(model: dict[str, Any]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for merge in model.get("merges") or []:
        if isinstance(merge, str):
            left, right = merge.split(" ", 1)
        else:
            left, right = merge
        pairs.append((left, right))
    return pairs


@dataclass(eq=False)
class TokenizerData:
    """What a tokenizer is made of, parsed once. Build it with :func:`read_tokenizer`.

    ``algorithm``: ``"bpe"``, ``"wordpiece"``, ``"unigram"``, ``"wordlevel"`` or ``"slow"``
    (a Python tokenizer: no tokenizer.json). ``vocab``: piece -> id. ``merge_ranks``: BPE pair
    -> (rank, merged piece), later duplicates winning as in ``tokenizers``. ``scores``: Unigram
    log-probabilities by id (empty elsewhere). ``special_ids``: ids of special tokens.
    ``model_vocab``: the model's own vocabulary (without added tokens), what its algorithm uses.
    """

    tokenizer: Any
    backend: Any | None
    spec: dict[str, Any] | None
    algorithm: str
    vocab: dict[str, int]
    scheme: PieceScheme
    special_ids: frozenset[int]
    unk_id: int | None
    name: str
    merge_ranks: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    model_vocab: dict[str, int] = field(default_factory=dict)
    size_seen: int = -1

    @property
    def model(self) -> dict[str, Any]:
        """The ``model`` section of tokenizer.json (empty for a slow tokenizer)."""
        return (self.spec or {}).get("model") or {}

    @cached_property
    def pieces(self) -> list[str]:
        """Piece of every id, ``pieces[id]`` (ids missing from the vocabulary read ``""``)."""
        size = max(self.vocab.values(), default=-1) + 1
        out = [""] * size
        for piece, index in self.vocab.items():
            out[index] = piece
        return out

    @cached_property
    def max_piece_chars(self) -> int:
        """Length in characters of the longest piece of the model's vocabulary."""
        return max((len(p) for p in self.model_vocab), default=0)

    @cached_property
    def piece_rank(self) -> dict[str, int]:
        """BPE: rank of the merge that makes each piece (first such merge)."""
        ranks: dict[str, int] = {}
        for rank, merged in sorted(self.merge_ranks.values()):
            ranks.setdefault(merged, rank)
        return ranks

    @cached_property
    def score_rank(self) -> np.ndarray:
        """Unigram: rank of every id by score: how many pieces score higher (0 = most
        probable; equal scores share a rank)."""
        descending = np.sort(-self.scores)
        return np.searchsorted(descending, -self.scores, side="left").astype(np.int64)

    @cached_property
    def readable(self) -> list[str]:
        """Readable form of every piece on its own (``readable[id]``); bytes that are not
        UTF-8 on their own read ``\\xNN``."""
        out = []
        for index, piece in enumerate(self.pieces):
            if index in self.special_ids:
                out.append(piece)
            else:
                out.append(readable_bytes(piece_bytes(self.scheme, piece)))
        return out

    @property
    def rank_basis(self) -> str:
        """What :meth:`rank_of` means: ``"merge"``, ``"score"`` or ``"id"``."""
        if self.algorithm == "bpe" and self.merge_ranks:
            return "merge"
        if self.algorithm == "unigram" and len(self.scores):
            return "score"
        return "id"

    def rank_of(self, ids: np.ndarray, pieces: list[str]) -> np.ndarray:
        """Rank of each token: BPE merge rank (-1 for pieces no merge makes), Unigram rank
        by score, else the id (id order as a proxy for frequency)."""
        basis = self.rank_basis
        if basis == "merge":
            table = self.piece_rank
            return np.array([table.get(p, -1) for p in pieces], dtype=np.int64)
        if basis == "score":
            inside = (ids >= 0) & (ids < len(self.score_rank))
            ranks = np.full(len(ids), -1, dtype=np.int64)
            ranks[inside] = self.score_rank[ids[inside]]
            return ranks
        return ids.astype(np.int64, copy=True)


def _special_ids(tokenizer: Any, backend: Any | None) -> frozenset[int]:
    ids = set(getattr(tokenizer, "all_special_ids", None) or [])
    if backend is not None:
        for index, added in backend.get_added_tokens_decoder().items():
            if added.special:
                ids.add(int(index))
    return frozenset(int(i) for i in ids)


def _build(tokenizer: Any) -> TokenizerData:
    backend = backend_of(tokenizer)
    name = str(getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__)
    if backend is None:
        vocab = dict(tokenizer.get_vocab())
        unk = getattr(tokenizer, "unk_token_id", None)
        return TokenizerData(
            tokenizer=tokenizer,
            backend=None,
            spec=None,
            algorithm="slow",
            vocab=vocab,
            scheme=_scheme_of_slow(tokenizer, vocab),
            special_ids=_special_ids(tokenizer, None),
            unk_id=int(unk) if unk is not None else None,
            name=name,
        )
    spec = json.loads(backend.to_str())
    model = spec.get("model") or {}
    algorithm = str(model.get("type", "")).lower()
    scores = np.zeros(0)
    unk_id: int | None = None
    if algorithm == "unigram":
        entries = model.get("vocab") or []
        model_vocab = {piece: index for index, (piece, _score) in enumerate(entries)}
        scores = np.array([float(s) for _, s in entries], dtype=np.float64)
        unk_id = model.get("unk_id")
    else:
        model_vocab = {str(k): int(v) for k, v in (model.get("vocab") or {}).items()}
        unk = model.get("unk_token")
        unk_id = model_vocab.get(unk) if unk is not None else None
    vocab = dict(model_vocab)
    for added in spec.get("added_tokens") or []:
        vocab.setdefault(added["content"], int(added["id"]))
    merge_ranks: dict[tuple[str, str], tuple[int, str]] = {}
    if algorithm == "bpe":
        prefix = model.get("continuing_subword_prefix") or ""
        for rank, (left, right) in enumerate(_merges(model)):
            tail = right[len(prefix) :] if prefix and right.startswith(prefix) else right
            merge_ranks[(left, right)] = (rank, left + tail)
    return TokenizerData(
        tokenizer=tokenizer,
        backend=backend,
        spec=spec,
        algorithm=algorithm,
        vocab=vocab,
        scheme=_scheme_from_json(spec),
        special_ids=_special_ids(tokenizer, backend),
        unk_id=unk_id,
        name=name,
        merge_ranks=merge_ranks,
        scores=scores,
        model_vocab=model_vocab,
    )


def read_tokenizer(tokenizer: Any) -> TokenizerData:
    """Parse ``tokenizer``'s data once (cached while the tokenizer lives and its vocabulary
    size is unchanged). Passing a :class:`TokenizerData` returns it as is.

    ``tokenizer``: a ``tokenizers.Tokenizer``, a transformers tokenizer (fast or slow).

    >>> from tokenizers import Tokenizer, models
    >>> tok = Tokenizer(models.Unigram([("<unk>", 0.0), ("a", -1.0)], unk_id=0))
    >>> data = read_tokenizer(tok)
    >>> data is read_tokenizer(tok), data.algorithm, data.scores.tolist()
    (True, 'unigram', [0.0, -1.0])
    """
    if isinstance(tokenizer, TokenizerData):
        return tokenizer
    if not hasattr(tokenizer, "get_vocab"):
        raise TypeError(
            f"read_tokenizer: expected a tokenizers.Tokenizer or a transformers tokenizer, got "
            f"{type(tokenizer).__name__}; pass the tokenizer object itself"
        )
    size = _vocab_size(tokenizer)
    try:
        cached = _CACHE.get(tokenizer)
    except TypeError:
        cached = None
    if cached is not None and cached.size_seen == size:
        return cached
    data = _build(tokenizer)
    data.size_seen = size
    with contextlib.suppress(TypeError):  # not weak-referenceable: no cache
        _CACHE[tokenizer] = data
    return data


def _vocab_size(tokenizer: Any) -> int:
    backend = backend_of(tokenizer)
    if backend is not None:
        return int(backend.get_vocab_size(with_added_tokens=True))
    return len(tokenizer.get_vocab())
