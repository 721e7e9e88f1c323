"""Cost of the tokenizer records against the tokenizer's own call, on the pydoc text.

For 25k, 50k and 100k characters (scaling should be linear), CPU seconds (median of
``--repeats``) of: the tokenizer's own ``tokenizer(text, return_offsets_mapping=True)``;
``tokenize_with_spans`` (the record: readable forms, byte runs, ranks, flags); the slow-tokenizer
path (spans found by decoding and aligning) for MiniLM's vocabulary; ``align_tokenizations`` of
the two fast records. Then ``word_steps`` per word over a paragraph, and ``search_vocab``.
Tokenizers: MiniLM (WordPiece) and SmolLM2 (byte-level BPE from its GGUF).
Run: ``python benchmarks/tokenizer_spans.py [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "python"))

import tokenizer_cases as cases

from attnwidgets.tokenizers import (
    align_tokenizations,
    read_tokenizer,
    search_vocab,
    tokenize_with_spans,
    word_steps,
)


def cpu_median(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return statistics.median(times)


def report(name: str, length: int, tokens: str, own: str, seconds: float, note: str) -> None:
    print(f"{length:>7} {name:>9} {tokens:>7} {own:>10} {seconds:>9.3f}   {note}")


def time_length(tokenizers: dict[str, object], text: str, repeats: int) -> None:
    records = []
    for name, tokenizer in tokenizers.items():
        own = cpu_median(
            partial(tokenizer, text, return_offsets_mapping=True, verbose=False), repeats
        )
        spans = tokenize_with_spans(tokenizer, text)
        records.append(spans)
        mine = cpu_median(partial(tokenize_with_spans, tokenizer, text), repeats)
        report(name, len(text), str(len(spans)), f"{own:.3f}", mine, f"ratio {mine / own:.1f}")
    slow = cpu_median(partial(tokenize_with_spans, cases.minilm_slow(), text), repeats)
    report("slow", len(text), "", "", slow, "MiniLM vocab, spans aligned by decoding")
    aligned = cpu_median(partial(align_tokenizations, records), repeats)
    report("align", len(text), "", "", aligned, "MiniLM + SmolLM2 records")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    tokenizers = {"MiniLM": cases.minilm(), "SmolLM2": cases.smollm2()}
    for tokenizer in tokenizers.values():
        read_tokenizer(tokenizer)  # parsed once, as a session would
    print(f"{'chars':>7} {'tokenizer':>9} {'tokens':>7} {'own call s':>10} {'record s':>9}")
    for length in (25_000, 50_000, 100_000):
        time_length(tokenizers, cases.pydoc_text(length), args.repeats)
    words = cases.pydoc_paragraphs(4000).split()
    for name, tokenizer in tokenizers.items():
        data = read_tokenizer(tokenizer)
        seconds = cpu_median(lambda d=data: [word_steps(d, " " + w) for w in words], args.repeats)
        search = cpu_median(partial(search_vocab, data, "ing"), args.repeats)
        per_word = 1e3 * seconds / len(words)
        print(f"{name}: word_steps {per_word:.3f} ms per word ({len(words)} words)")
        print(f"{name}: search_vocab('ing') {1e3 * search:.1f} ms over {len(data.vocab)} pieces")


if __name__ == "__main__":
    main()
