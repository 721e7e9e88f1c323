"""One word through each tokenizer step by step, as plain JSON for the step panel
(``js/tokens/steps_panel.js``): every slider position's symbols, a caption and the symbol the
step made, computed by :func:`attnwidgets.tokenizers.word_steps` from the tokenizer's data.

Per tokenizer: ``{"name", "algorithm", "word", "normalized", "error", "pre_tokens": [{"text",
"note", "alternatives": [{"pieces", "score"}]}], "frames": [{"symbols": [[raw...] per
pre-token], "caption", "focus": [pre-token, symbol] | null, "rest": bool}], "readable":
[[raw, readable], ...], "pieces", "ids", "tokenizer_pieces", "matches"}``. ``rest``: the last
symbol of the focused pre-token is text still to read (WordPiece, Unigram). Symbols are raw
(what the algorithm works on: ``Ġt``); ``readable`` pairs give what each reads as (spaces as
``␣``, bytes that are no character alone as ``⟨e3 81⟩``).

>>> from tokenizers import Tokenizer, models
>>> tok = Tokenizer(models.WordPiece({"[UNK]": 0, "go": 1, "##ne": 2}, unk_token="[UNK]"))
>>> out = word_payload(tok, "gone", "wp")
>>> [f["caption"] for f in out["frames"]]  # doctest: +NORMALIZE_WHITESPACE
['start: the whole word, «gone»',
 'at character 0: longest vocabulary entry «go» (tried «gone», «gon», «go»); left: «ne»',
 'at character 2: longest vocabulary entry «##ne» (tried «##ne»); = the tokenizer: «go» «##ne»']
>>> out["matches"], out["frames"][1]["focus"], out["frames"][1]["rest"]
(True, [0, 0], True)
"""

from __future__ import annotations

from typing import Any

from ...tokenizers import (
    MatchStep,
    MergeStep,
    PreTokenSteps,
    Step,
    ViterbiStep,
    read_tokenizer,
    tokenize_with_spans,
    word_steps,
)
from ...tokenizers.data import TokenizerData
from ...tokenizers.readable import piece_bytes

MAX_WORD = 200
"""Characters at most in a word to step through (a sentence is fine, a page is not)."""
MAX_TRIED = 6
"""WordPiece tries named in a caption (the rest are counted)."""


def readable_symbol(data: TokenizerData, symbol: str) -> str:
    """What a symbol reads as: spaces as ``␣``, a partial UTF-8 sequence as ``⟨e3 81⟩``;
    WordPiece symbols stay as they are (``##`` is part of what they mean).

    >>> from tokenizers import Tokenizer, models, pre_tokenizers
    >>> tok = Tokenizer(models.BPE({"Ġ": 0, "a": 1}, []))
    >>> tok.pre_tokenizer = pre_tokenizers.ByteLevel()
    >>> data = read_tokenizer(tok)
    >>> readable_symbol(data, "Ġa"), readable_symbol(data, "ãģ")
    ('␣a', '⟨e3 81⟩')
    """
    scheme = data.scheme
    if not (scheme.byte_level or scheme.metaspace or scheme.byte_fallback):
        return symbol
    if data.vocab.get(symbol, -1) in data.special_ids:
        return symbol
    raw = piece_bytes(scheme, symbol)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "⟨" + " ".join(f"{b:02x}" for b in raw) + "⟩"
    return text.replace(" ", "␣")


def _quote(items: tuple[str, ...] | list[str]) -> str:
    return " ".join(f"«{s}»" for s in items)


def _start_caption(pre: PreTokenSteps) -> str:
    if pre.algorithm == "bpe":
        return f"start: «{pre.text}» as {len(pre.start_symbols)} symbols (characters or bytes)"
    if pre.algorithm == "wordpiece":
        return f"start: the whole word, «{pre.text}»"
    if pre.algorithm == "unigram":
        return f"start: nothing of «{pre.text}» read yet"
    return f"«{pre.text}»: {pre.note}" if pre.note else f"«{pre.text}»"


def _step_caption(step: Step, merges: int) -> str:
    if isinstance(step, MergeStep):
        left, right = step.pair
        return (
            f"merge «{left}» + «{right}» → «{step.merged}» · rank {step.rank:,} "
            f"(merge {step.rank + 1:,} of {merges:,} learned)"
        )
    if isinstance(step, MatchStep):
        if step.piece is None:
            return (
                f"at character {step.start}: no vocabulary entry starts here "
                f"(tried {len(step.tried)}): the whole word is the unknown token"
            )
        tried = list(step.tried[:MAX_TRIED])
        more = f" and {len(step.tried) - MAX_TRIED} more" if len(step.tried) > MAX_TRIED else ""
        left = f"; left: «{step.remainder}»" if step.remainder else ""
        return (
            f"at character {step.start}: longest vocabulary entry «{step.piece}» "
            f"(tried {', '.join(f'«{t}»' for t in tried)}{more}){left}"
        )
    assert isinstance(step, ViterbiStep)
    piece = "the unknown token" if step.unknown else f"«{step.piece}»"
    others = [c for c in step.candidates if not (c[0] == step.piece and c[2] == step.total)]
    rivals = ", ".join(f"«{p}» from {start} ({total:.2f})" for p, start, total in others[:4])
    competing = f"; competing: {rivals}" if rivals else "; no other piece ends here"
    return (
        f"best reading of the first {step.end} characters ends with {piece} "
        f"(log p {step.score:.2f}), total {step.total:.2f}{competing}"
    )


def _focus(k: int, step: Step) -> tuple[list[int] | None, bool]:
    if isinstance(step, MergeStep):
        return [k, step.position], False
    rest = bool(step.remainder)
    index = len(step.symbols) - (2 if rest else 1)
    return ([k, index] if index >= 0 else None), rest


def word_payload(tokenizer: Any, word: str, name: str, alternatives: int = 5) -> dict[str, Any]:
    """The step panel's data for ``word`` through one tokenizer (see the module)."""
    out: dict[str, Any] = {"name": name, "word": word, "error": "", "frames": []}
    try:
        data = read_tokenizer(tokenizer)
        out["algorithm"] = data.algorithm
        if len(word) > MAX_WORD:
            raise ValueError(
                f"word: {len(word)} characters; step through at most {MAX_WORD} at a time"
            )
        steps = word_steps(data, word, alternatives=alternatives)
    except (ValueError, TypeError) as error:
        out["error"] = str(error)
        return out
    merges = len(data.merge_ranks)
    frames: list[dict[str, Any]] = []
    states = steps.frames()
    first = next((p for p in steps.pre_tokens if p.steps or p.note), None)
    frames.append(
        {
            "symbols": [list(s) for s in states[0]],
            "caption": _start_caption(first) if first else "start",
            "focus": None,
            "rest": False,
        }
    )
    for index, (k, step) in enumerate(steps.steps, start=1):
        focus, rest = _focus(k, step)
        frames.append(
            {
                "symbols": [list(s) for s in states[index]],
                "caption": _step_caption(step, merges),
                "focus": focus,
                "rest": rest,
            }
        )
    if len(states) > len(frames):  # byte fallback or fused unknowns: the final pieces
        notes = "; ".join(p.note for p in steps.pre_tokens if p.note)
        frames.append(
            {
                "symbols": [list(s) for s in states[-1]],
                "caption": f"final pieces{': ' + notes if notes else ''}",
                "focus": None,
                "rest": False,
            }
        )
    own = tokenize_with_spans(data, word, add_special_tokens=False)
    own_pieces = [p for p, t in zip(own.pieces, own.template.tolist(), strict=True) if not t]
    matches = list(steps.pieces) == own_pieces
    verdict = (
        f"= the tokenizer: {_quote(own_pieces)}"
        if matches
        else f"≠ the tokenizer's own output {_quote(own_pieces)} (the word in context differs)"
    )
    frames[-1]["caption"] = f"{frames[-1]['caption']}; {verdict}"
    symbols = {s for frame in states for pre in frame for s in pre}
    out.update(
        algorithm=steps.algorithm,
        normalized=steps.normalized,
        pre_tokens=[
            {
                "text": pre.text,
                "note": pre.note,
                "alternatives": [
                    {"pieces": list(a.pieces), "score": round(a.score, 4)} for a in pre.alternatives
                ],
            }
            for pre in steps.pre_tokens
        ],
        frames=frames,
        readable=[[s, readable_symbol(data, s)] for s in sorted(symbols)],
        pieces=list(steps.pieces),
        ids=list(steps.ids),
        tokenizer_pieces=own_pieces,
        matches=matches,
    )
    return out
