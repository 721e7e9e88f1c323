"""WordPiece on one pre-token: greedy longest-match-first, continuations with ``##``.

From the start of the word, the longest vocabulary entry is taken (a continuation carries the
prefix), then again from where it ended; if some position matches nothing, the whole word is
the unknown token. A word longer than ``max_input_chars_per_word`` is unknown at once.

>>> from tokenizers import Tokenizer, models
>>> vocab = {"[UNK]": 0, "un": 1, "##aff": 2, "##able": 3, "u": 4}
>>> data = read_tokenizer(Tokenizer(models.WordPiece(vocab, unk_token="[UNK]")))
>>> result = wordpiece_steps(data, "unaffable")
>>> [(s.piece, s.remainder, len(s.tried)) for s in result.steps]
[('un', 'affable', 8), ('##aff', 'able', 5), ('##able', '', 1)]
>>> result.steps[1].symbols
('un', '##aff', 'able')
>>> wordpiece_steps(data, "unx").pieces
('[UNK]',)
"""

from __future__ import annotations

from dataclasses import replace

from .data import TokenizerData, read_tokenizer
from .step_records import MatchStep, PreTokenSteps


def wordpiece_steps(data: TokenizerData, text: str) -> PreTokenSteps:
    """The greedy matches WordPiece makes on the pre-token ``text`` (already normalised and
    pre-tokenized), in order."""
    data = read_tokenizer(data)
    model = data.model
    vocab = data.model_vocab
    prefix = str(model.get("continuing_subword_prefix", "##"))
    unk = str(model.get("unk_token", "[UNK]"))
    limit = int(model.get("max_input_chars_per_word", 100))
    if unk not in vocab:
        raise ValueError(
            f"wordpiece_steps: the unknown token {unk!r} is not in {data.name}'s vocabulary"
        )
    unknown = PreTokenSteps(
        text=text,
        algorithm="wordpiece",
        start_symbols=(text,),
        steps=(),
        pieces=(unk,),
        ids=(vocab[unk],),
    )
    if len(text) > limit:
        step = MatchStep(0, 0, None, (), text, (unk,))
        note = f"{len(text)} characters > max_input_chars_per_word={limit}: the whole word is {unk}"
        return replace(unknown, steps=(step,), note=note)
    steps: list[MatchStep] = []
    found: list[str] = []
    start = 0
    while start < len(text):
        tried: list[str] = []
        end = len(text)
        piece: str | None = None
        while start < end:
            candidate = text[start:end] if start == 0 else prefix + text[start:end]
            tried.append(candidate)
            if candidate in vocab:
                piece = candidate
                break
            end -= 1
        if piece is None:
            steps.append(MatchStep(start, start, None, tuple(tried), text[start:], (unk,)))
            note = f"nothing in the vocabulary starts {text[start:]!r}: the whole word is {unk}"
            return replace(unknown, steps=tuple(steps), note=note)
        found.append(piece)
        rest = text[end:]
        steps.append(
            MatchStep(
                start, end, piece, tuple(tried), rest, (*found, rest) if rest else tuple(found)
            )
        )
        start = end
    return PreTokenSteps(
        text=text,
        algorithm="wordpiece",
        start_symbols=(text,),
        steps=tuple(steps),
        pieces=tuple(found),
        ids=tuple(vocab[p] for p in found),
    )
