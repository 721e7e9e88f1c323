"""Unigram (SentencePiece) on one pre-token: Viterbi over every way to cut it into pieces.

Left to right, the best path to each character position is the best path to some earlier
position plus one vocabulary piece (its log-probability from tokenizer.json); a character no
piece covers takes the unknown token (score: lowest score - 10). The result is the best path
to the end; consecutive unknowns are fused, then turned into byte pieces if the model has byte
fallback. Ties go to the first candidate, shortest piece first, as in ``tokenizers``.

>>> from tokenizers import Tokenizer, models
>>> pieces = [("<unk>", 0.0), ("a", -2.0), ("b", -2.0), ("ab", -3.0), ("abb", -6.5)]
>>> data = read_tokenizer(Tokenizer(models.Unigram(pieces, unk_id=0)))
>>> result = unigram_steps(data, "abb")
>>> result.pieces, [s.symbols for s in result.steps]
(('ab', 'b'), [('a', 'bb'), ('ab', 'b'), ('ab', 'b')])
>>> [(a.pieces, a.score) for a in result.alternatives]
[(('ab', 'b'), -5.0), (('a', 'b', 'b'), -6.0), (('abb',), -6.5)]
"""

from __future__ import annotations

import heapq

from .data import TokenizerData, read_tokenizer
from .step_records import PreTokenSteps, Segmentation, ViterbiStep

UNK_PENALTY = 10.0


def _lattice(data: TokenizerData, text: str) -> list[list[tuple[int, str, float, bool]]]:
    """``ending[e]``: every ``(start, piece, score, unknown)`` that ends at character ``e``,
    in the order ``tokenizers`` visits them (by start, then shortest first)."""
    vocab = data.model_vocab
    scores = data.scores
    unk_id = data.model.get("unk_id")
    unk_score = float(scores.min()) - UNK_PENALTY if len(scores) else -UNK_PENALTY
    longest = data.max_piece_chars
    ending: list[list[tuple[int, str, float, bool]]] = [[] for _ in range(len(text) + 1)]
    for start in range(len(text)):
        single = False
        for length in range(1, min(longest, len(text) - start) + 1):
            piece = text[start : start + length]
            index = vocab.get(piece)
            if index is None:
                continue
            ending[start + length].append((start, piece, float(scores[index]), False))
            single = single or length == 1
        if not single:
            if unk_id is None:
                raise ValueError(
                    f"unigram_steps: {text[start]!r} is not in {data.name}'s vocabulary and the "
                    "model has no unk_id"
                )
            ending[start + 1].append((start, text[start], unk_score, True))
    return ending


def _k_best(
    text: str, ending: list[list[tuple[int, str, float, bool]]], k: int
) -> list[Segmentation]:
    empty: tuple[str, ...] = ()
    best: list[list[tuple[float, tuple[str, ...]]]] = [[(0.0, empty)]] + [[] for _ in text]
    for end in range(1, len(text) + 1):
        options = [
            (total + score, (*pieces, piece))
            for start, piece, score, _ in ending[end]
            for total, pieces in best[start]
        ]
        best[end] = heapq.nlargest(k, options, key=lambda item: item[0])
    return [Segmentation(pieces, score) for score, pieces in best[len(text)]]


def unigram_steps(data: TokenizerData, text: str, *, alternatives: int = 5) -> PreTokenSteps:
    """The Viterbi pass of a Unigram model over the pre-token ``text`` (already normalised and
    pre-tokenized, e.g. ``▁world``), one step per character position, and the
    ``alternatives`` best segmentations with their total log-probabilities."""
    data = read_tokenizer(data)
    if data.model.get("alpha") not in (None, 0, 0.0):
        raise ValueError(
            f"unigram_steps: {data.name} samples its segmentation (alpha={data.model['alpha']}): "
            "set the model's alpha to None to step through the best one"
        )
    ending = _lattice(data, text)
    n = len(text)
    total = [0.0] * (n + 1)
    back: list[tuple[int, str, float, bool] | None] = [None] * (n + 1)
    steps: list[ViterbiStep] = []
    for end in range(1, n + 1):
        for start, piece, score, unknown in ending[end]:
            candidate = total[start] + score
            if back[end] is None or candidate > total[end]:
                total[end], back[end] = candidate, (start, piece, score, unknown)
        chosen = back[end]
        assert chosen is not None  # every position has a single-character node or unk
        prefix = _path(back, end)
        candidates = sorted(
            ((piece, start, total[start] + score) for start, piece, score, _ in ending[end]),
            key=lambda item: -item[2],
        )
        rest = text[end:]
        steps.append(
            ViterbiStep(
                end=end,
                piece=chosen[1],
                score=chosen[2],
                total=total[end],
                unknown=chosen[3],
                candidates=tuple(candidates),
                remainder=rest,
                symbols=tuple(p for p, _ in prefix) + ((rest,) if rest else ()),
            )
        )
    path = _path(back, n)
    pieces, ids, note = _finish(data, path)
    found = _k_best(text, ending, max(alternatives, 1))
    chosen_path = tuple(p for p, _ in path)
    ranked = [Segmentation(chosen_path, total[n])] if n else []
    ranked += [s for s in found if s.pieces != chosen_path]
    return PreTokenSteps(
        text=text,
        algorithm="unigram",
        start_symbols=(text,) if text else (),
        steps=tuple(steps),
        pieces=pieces,
        ids=ids,
        note=note,
        alternatives=tuple(ranked[: max(alternatives, 1)]) if n else (),
    )


def _path(back: list[tuple[int, str, float, bool] | None], end: int) -> list[tuple[str, bool]]:
    """The best path to ``end`` as ``(piece, unknown)`` pairs."""
    out: list[tuple[str, bool]] = []
    while end > 0:
        node = back[end]
        assert node is not None
        out.append((node[1], node[3]))
        end = node[0]
    out.reverse()
    return out


def _finish(
    data: TokenizerData, path: list[tuple[str, bool]]
) -> tuple[tuple[str, ...], tuple[int, ...], str]:
    """Fuse consecutive unknowns, then map strings to ids (byte pieces for byte fallback)."""
    fused: list[tuple[str, bool]] = []
    for piece, unknown in path:
        if unknown and fused and fused[-1][1]:
            fused[-1] = (fused[-1][0] + piece, True)
        else:
            fused.append((piece, unknown))
    vocab = data.model_vocab
    byte_fallback = bool(data.model.get("byte_fallback"))
    unk_id = data.model.get("unk_id")
    pieces: list[str] = []
    ids: list[int] = []
    notes: list[str] = []
    for piece, _ in fused:
        index = vocab.get(piece)
        if index is not None:
            pieces.append(piece)
            ids.append(index)
            continue
        if byte_fallback:
            codes = [f"<0x{b:02X}>" for b in piece.encode("utf-8", "surrogatepass")]
            if all(code in vocab for code in codes):
                pieces.extend(codes)
                ids.extend(vocab[code] for code in codes)
                notes.append(f"{piece!r} is not in the vocabulary: byte fallback pieces")
                continue
        pieces.append(piece)
        ids.append(int(unk_id) if unk_id is not None else -1)
        notes.append(f"{piece!r} is not in the vocabulary: unknown token")
    return tuple(pieces), tuple(ids), "; ".join(notes)
