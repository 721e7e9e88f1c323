"""A word through a tokenizer step by step, computed from the tokenizer's own data
(tokenizer.json), never by calling the tokenizer on intermediate results.

The pipeline is the tokenizer's: added tokens split off first, then its normalizer
(``normalize_str``) and pre-tokenizer (``pre_tokenize_str``, which also does the byte-level
mapping), then the model's algorithm on each pre-token: BPE merges in rank order
(:mod:`.bpe_steps`), WordPiece's greedy longest match (:mod:`.wordpiece_steps`) or Unigram's
Viterbi search (:mod:`.unigram_steps`).

>>> from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
>>> vocab = {"[UNK]": 0, "cafe": 1, "un": 2, "##able": 3, "!": 4}
>>> tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
>>> tok.normalizer = normalizers.BertNormalizer(lowercase=True)
>>> tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
>>> steps = word_steps(tok, "Café unable!")
>>> steps.normalized, [p.text for p in steps.pre_tokens], steps.pieces
('cafe unable!', ['cafe', 'unable', '!'], ('cafe', 'un', '##able', '!'))
>>> steps.pieces == tuple(tok.encode("Café unable!").tokens)
True
"""

from __future__ import annotations

import re
from typing import Any

from .bpe_steps import bpe_steps
from .data import TokenizerData, read_tokenizer
from .step_records import PreTokenSteps, WordSteps
from .unigram_steps import unigram_steps
from .wordpiece_steps import wordpiece_steps


def model_steps(tokenizer: Any, pre_token: str, *, alternatives: int = 5) -> PreTokenSteps:
    """The model's algorithm alone on one pre-token (already normalised and pre-tokenized, as
    ``pre_tokenize_str`` returns it: ``Ġworld``, ``▁world``, ``world``).

    ``alternatives``: how many best segmentations a Unigram model lists.

    >>> from tokenizers import Tokenizer, models
    >>> tok = Tokenizer(models.WordPiece({"[UNK]": 0, "go": 1, "##ne": 2}, unk_token="[UNK]"))
    >>> [step.piece for step in model_steps(tok, "gone").steps]
    ['go', '##ne']
    """
    data = read_tokenizer(tokenizer)
    if data.algorithm == "bpe":
        return bpe_steps(data, pre_token)
    if data.algorithm == "wordpiece":
        return wordpiece_steps(data, pre_token)
    if data.algorithm == "unigram":
        return unigram_steps(data, pre_token, alternatives=alternatives)
    if data.algorithm == "wordlevel":
        return _wordlevel(data, pre_token)
    if data.algorithm == "slow":
        raise ValueError(_slow_message(data))
    raise ValueError(
        f"word_steps: no step-by-step view for a {data.algorithm!r} model ({data.name})"
    )


def _slow_message(data: TokenizerData) -> str:
    return (
        f"word_steps: {data.name} is a slow (Python) tokenizer without tokenizer.json data; "
        "load its fast version (AutoTokenizer.from_pretrained(..., use_fast=True)) or pass a "
        "tokenizers.Tokenizer"
    )


def _wordlevel(data: TokenizerData, text: str) -> PreTokenSteps:
    vocab = data.model_vocab
    unk = data.model.get("unk_token")
    if text in vocab:
        return PreTokenSteps(text, "wordlevel", (text,), (), (text,), (vocab[text],))
    if unk is None or unk not in vocab:
        raise ValueError(
            f"word_steps: {text!r} is not in {data.name}'s vocabulary and it has no unk_token"
        )
    return PreTokenSteps(
        text, "wordlevel", (text,), (), (unk,), (vocab[unk],), note="not in the vocabulary"
    )


def _split_added(data: TokenizerData, text: str) -> list[tuple[str, bool]]:
    """``text`` cut around the added tokens it contains (longest first), as ``(part, added)``."""
    contents = sorted(
        {
            added["content"]
            for added in (data.spec or {}).get("added_tokens") or []
            if added["content"]
        },
        key=len,
        reverse=True,
    )
    if not contents:
        return [(text, False)] if text else []
    pattern = re.compile("|".join(re.escape(c) for c in contents))
    parts: list[tuple[str, bool]] = []
    position = 0
    for match in pattern.finditer(text):
        if match.start() > position:
            parts.append((text[position : match.start()], False))
        parts.append((match.group(), True))
        position = match.end()
    if position < len(text):
        parts.append((text[position:], False))
    return parts


def word_steps(tokenizer: Any, word: str, *, alternatives: int = 5) -> WordSteps:
    """How ``tokenizer`` turns ``word`` (any text; usually one word, with the space before it
    for byte-level BPE: ``" world"``) into tokens, step by step (:class:`WordSteps`).

    ``tokenizer``: a ``tokenizers.Tokenizer``, a fast transformers tokenizer, or its
    :class:`TokenizerData` (pass that when stepping many words: it is parsed once).
    Template tokens (BOS/[CLS]) are not part of the steps.

    >>> from tokenizers import Tokenizer, models, pre_tokenizers
    >>> tok = Tokenizer(models.BPE({"Ġ": 0, "h": 1, "i": 2, "hi": 3, "Ġhi": 4},
    ...                            [("h", "i"), ("Ġ", "hi")]))
    >>> tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    >>> steps = word_steps(tok, " hi")
    >>> [(step.pair, step.rank, step.symbols) for _, step in steps.steps]
    [(('h', 'i'), 0, ('Ġ', 'hi')), (('Ġ', 'hi'), 1, ('Ġhi',))]
    """
    if not isinstance(word, str):
        raise TypeError(f"word_steps: word must be a str, got {type(word).__name__}")
    data = read_tokenizer(tokenizer)
    backend = data.backend
    if backend is None:
        raise ValueError(_slow_message(data))
    pre_tokens: list[PreTokenSteps] = []
    normalized_parts: list[str] = []
    for part, added in _split_added(data, word):
        if added:
            normalized_parts.append(part)
            pre_tokens.append(
                PreTokenSteps(
                    part,
                    "added",
                    (part,),
                    (),
                    (part,),
                    (data.vocab[part],),
                    note="added token: never split",
                )
            )
            continue
        normalized = backend.normalizer.normalize_str(part) if backend.normalizer else part
        normalized_parts.append(normalized)
        if backend.pre_tokenizer is not None:
            splits = [piece for piece, _ in backend.pre_tokenizer.pre_tokenize_str(normalized)]
        else:
            splits = [normalized] if normalized else []
        pre_tokens.extend(model_steps(data, s, alternatives=alternatives) for s in splits if s)
    return WordSteps(
        word=word,
        algorithm=data.algorithm,
        normalized="".join(normalized_parts),
        pre_tokens=tuple(pre_tokens),
    )
