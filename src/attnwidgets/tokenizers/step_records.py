"""Records of a word tokenized step by step (see :func:`attnwidgets.tokenizers.word_steps`).

Every step carries ``symbols``: the pre-token as it stands after the step, so a slider can show
any step on its own. BPE: the symbols after the merge. WordPiece and Unigram: the pieces fixed
so far, then the text still to match (``remainder``) as the last symbol when there is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union


@dataclass(frozen=True)
class MergeStep:
    """BPE: the adjacent pair with the lowest merge rank, merged.

    ``pair``: the two symbols merged; ``rank``: the merge's index in tokenizer.json's merges
    (0 = learned first); ``position``: index of the pair's left symbol before the merge;
    ``merged``: the new symbol; ``symbols``: all symbols after the merge.
    """

    pair: tuple[str, str]
    rank: int
    position: int
    merged: str
    symbols: tuple[str, ...]


@dataclass(frozen=True)
class MatchStep:
    """WordPiece: the longest vocabulary entry at ``start``, found after trying ``tried``
    (longest first; continuations carry the prefix, ``##``); ``piece`` None when nothing
    matched (the whole word then becomes the unknown token); ``start``/``end``: characters of
    the pre-token the piece covers; ``remainder``: what is left after ``end``."""

    start: int
    end: int
    piece: str | None
    tried: tuple[str, ...]
    remainder: str
    symbols: tuple[str, ...]


@dataclass(frozen=True)
class ViterbiStep:
    """Unigram: the best segmentation of the first ``end`` characters.

    ``piece`` (ending at ``end``, its log-probability ``score``, ``unknown`` when no piece
    covers the character and the unknown token stands in) continues the best path, whose total
    log-probability is ``total``. ``candidates``: every piece ending at ``end`` as
    ``(piece, start, total through it)``, best first. ``symbols``: the best segmentation of
    the prefix, then the remainder.
    """

    end: int
    piece: str
    score: float
    total: float
    unknown: bool
    candidates: tuple[tuple[str, int, float], ...]
    remainder: str
    symbols: tuple[str, ...]


Step = Union[MergeStep, MatchStep, ViterbiStep]  # noqa: UP007 (a runtime alias on Python 3.10)


@dataclass(frozen=True)
class Segmentation:
    """One way to cut a pre-token into vocabulary pieces, with its total log-probability."""

    pieces: tuple[str, ...]
    score: float


@dataclass(frozen=True)
class PreTokenSteps:
    """The model's algorithm on one pre-token.

    ``text``: the pre-token as the model sees it (normalised, pre-tokenized, byte-level mapped:
    ``Ġworld``); ``start_symbols``: before the first step (BPE: one symbol per character, or
    byte pieces / the unknown token); ``steps``; ``pieces``/``ids``: the result;
    ``alternatives``: Unigram's best segmentations, best first (the chosen one first);
    ``note``: anything that bypassed the steps (added token, whole word in the vocabulary,
    too long for WordPiece, byte fallback).
    """

    text: str
    algorithm: str
    start_symbols: tuple[str, ...]
    steps: tuple[Step, ...]
    pieces: tuple[str, ...]
    ids: tuple[int, ...]
    note: str = ""
    alternatives: tuple[Segmentation, ...] = ()


@dataclass(frozen=True)
class WordSteps:
    """A word through the whole pipeline: added tokens split off, normalised
    (``normalized``), pre-tokenized (one :class:`PreTokenSteps` per pre-token), then the
    model's algorithm step by step."""

    word: str
    algorithm: str
    normalized: str
    pre_tokens: tuple[PreTokenSteps, ...]

    @property
    def pieces(self) -> tuple[str, ...]:
        """The final pieces of every pre-token, in order."""
        return tuple(p for pre in self.pre_tokens for p in pre.pieces)

    @property
    def ids(self) -> tuple[int, ...]:
        """The final ids of every pre-token, in order."""
        return tuple(i for pre in self.pre_tokens for i in pre.ids)

    @property
    def steps(self) -> list[tuple[int, Step]]:
        """Every step of every pre-token, as ``(pre-token index, step)``, in order."""
        return [(k, step) for k, pre in enumerate(self.pre_tokens) for step in pre.steps]

    def frames(self) -> list[tuple[tuple[str, ...], ...]]:
        """The symbols of every pre-token before any step, then after each step (one frame per
        slider position), ending on the final pieces: a last frame is added when the pieces
        differ from the last step (Unigram's byte fallback, fused unknowns)."""
        current = [pre.start_symbols for pre in self.pre_tokens]
        out = [tuple(current)]
        for k, step in self.steps:
            current[k] = step.symbols
            out.append(tuple(current))
        final = tuple(pre.pieces for pre in self.pre_tokens)
        if out[-1] != final:
            out.append(final)
        return out
