"""BPE on one pre-token, merge by merge, from tokenizer.json's vocabulary and ranked merges.

Follows ``tokenizers``' BPE: one symbol per character (continuation prefix / end-of-word suffix
added, byte-fallback pieces or the unknown token for characters outside the vocabulary), then
the adjacent pair with the lowest merge rank is merged, leftmost first, until no pair has one.

>>> from tokenizers import Tokenizer, models
>>> vocab = {"l": 0, "o": 1, "w": 2, "e": 3, "r": 4, "lo": 5, "low": 6, "er": 7, "lower": 8}
>>> merges = [("l", "o"), ("lo", "w"), ("e", "r"), ("low", "er")]
>>> data = read_tokenizer(Tokenizer(models.BPE(vocab, merges)))
>>> result = bpe_steps(data, "lower")
>>> result.start_symbols
('l', 'o', 'w', 'e', 'r')
>>> [(s.pair, s.rank, s.symbols) for s in result.steps]  # doctest: +NORMALIZE_WHITESPACE
[(('l', 'o'), 0, ('lo', 'w', 'e', 'r')), (('lo', 'w'), 1, ('low', 'e', 'r')),
 (('e', 'r'), 2, ('low', 'er')), (('low', 'er'), 3, ('lower',))]
"""

from __future__ import annotations

from .data import TokenizerData, read_tokenizer
from .step_records import MergeStep, PreTokenSteps


def _start_symbols(data: TokenizerData, text: str) -> tuple[list[str], str]:
    """Symbols before any merge, as ``tokenizers``' ``merge_word`` builds them, and a note."""
    model = data.model
    vocab = data.model_vocab
    prefix = model.get("continuing_subword_prefix") or ""
    suffix = model.get("end_of_word_suffix") or ""
    unk_token = model.get("unk_token")
    fuse_unk = bool(model.get("fuse_unk"))
    byte_fallback = bool(model.get("byte_fallback"))
    symbols: list[str] = []
    pending_unk = False
    notes: list[str] = []
    last = len(text) - 1
    for index, char in enumerate(text):
        symbol = char
        if index > 0 and prefix:
            symbol = prefix + symbol
        if index == last and suffix:
            symbol = symbol + suffix
        if symbol in vocab:
            if pending_unk:
                symbols.append(str(unk_token))
                pending_unk = False
            symbols.append(symbol)
            continue
        if byte_fallback:
            codes = [f"<0x{b:02X}>" for b in symbol.encode("utf-8", "surrogatepass")]
            if all(code in vocab for code in codes):
                symbols.extend(codes)  # a pending unknown stays pending, as in tokenizers
                notes.append(f"{char!r} is not in the vocabulary: byte fallback pieces")
                continue
        if unk_token is None:
            notes.append(
                f"{char!r} is not in the vocabulary and there is no unknown token: dropped"
            )
            continue
        if pending_unk and not fuse_unk:
            symbols.append(str(unk_token))
        pending_unk = True
        notes.append(f"{char!r} is not in the vocabulary: {unk_token}")
    if pending_unk:
        symbols.append(str(unk_token))
    return symbols, "; ".join(notes)


def bpe_steps(data: TokenizerData, text: str) -> PreTokenSteps:
    """The merges BPE applies to the pre-token ``text`` (already normalised and pre-tokenized,
    e.g. ``Ġworld``), in the order it applies them."""
    data = read_tokenizer(data)
    model = data.model
    if model.get("dropout") not in (None, 0, 0.0):
        raise ValueError(
            f"bpe_steps: {data.name} uses BPE dropout={model['dropout']}: its merges are random; "
            "set the model's dropout to None to step through them"
        )
    vocab = data.model_vocab
    if model.get("ignore_merges") and text in vocab:
        return PreTokenSteps(
            text=text,
            algorithm="bpe",
            start_symbols=(text,),
            steps=(),
            pieces=(text,),
            ids=(vocab[text],),
            note="in the vocabulary as a whole: ignore_merges skips the merges",
        )
    symbols, note = _start_symbols(data, text)
    start = tuple(symbols)
    ranks = data.merge_ranks
    steps: list[MergeStep] = []
    while len(symbols) > 1:
        best: tuple[int, int, str] | None = None
        for position in range(len(symbols) - 1):
            found = ranks.get((symbols[position], symbols[position + 1]))
            if found is not None and (best is None or found[0] < best[0]):
                best = (found[0], position, found[1])
        if best is None:
            break
        rank, position, merged = best
        pair = (symbols[position], symbols[position + 1])
        symbols[position : position + 2] = [merged]
        steps.append(MergeStep(pair, rank, position, merged, tuple(symbols)))
    return PreTokenSteps(
        text=text,
        algorithm="bpe",
        start_symbols=start,
        steps=tuple(steps),
        pieces=tuple(symbols),
        ids=tuple(vocab[s] for s in symbols),
        note=note,
    )
