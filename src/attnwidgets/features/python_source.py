"""Labelled text that ships with Python: prefixes of the standard library's own source,
labelled by their structure (a classic probing task, no download).

Each example is a few lines of a real ``.py`` file of the standard library, cut right after
a token; its labels come from ``tokenize``: ``depth`` = how many brackets ``( [ {`` are open
at the cut (0, 1, 2 or "3+"), ``kind`` = the kind of the last token (keyword, name, operator,
number, string). Sampling is seeded and balanced over the label's classes.
"""

from __future__ import annotations

import io
import keyword
import sysconfig
import tokenize
from pathlib import Path

import numpy as np

OPEN, CLOSE = "([{", ")]}"
DEPTHS = ("0", "1", "2", "3+")


def stdlib_files(limit: int = 400) -> list[Path]:
    """The standard library's ``.py`` files (tests and site-packages left out), sorted."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = [
        p
        for p in sorted(root.glob("*.py")) + sorted(root.glob("*/*.py"))
        if "test" not in p.parts[-2] and "site-packages" not in p.parts and p.stat().st_size
    ]
    return files[:limit]


def _kind(token: tokenize.TokenInfo) -> str | None:
    if token.type == tokenize.NAME:
        return "keyword" if keyword.iskeyword(token.string) else "name"
    if token.type == tokenize.OP:
        return "operator"
    if token.type == tokenize.NUMBER:
        return "number"
    if token.type == tokenize.STRING:
        return "string"
    return None


def _cuts(source: str) -> list[tuple[int, str, str]]:
    """``(offset, depth, kind)`` after every token of interest in ``source``."""
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    depth, found = 0, []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.OP and token.string in OPEN:
                depth += 1
            elif token.type == tokenize.OP and token.string in CLOSE:
                depth = max(0, depth - 1)
            kind = _kind(token)
            if kind is not None:
                row, col = token.end
                found.append((starts[row - 1] + col, DEPTHS[min(depth, 3)], kind))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return found


def python_source_snippets(
    n: int, *, seed: int = 0, label: str = "depth", max_chars: int = 240, files: int = 200
) -> tuple[list[str], np.ndarray]:
    """``(texts, labels)``: ``n`` balanced prefixes of standard-library source.

    Example:
        >>> texts, labels = python_source_snippets(8, seed=1)
        >>> len(texts), sorted(set(labels.tolist()))
        (8, ['0', '1', '2', '3+'])
        >>> all(len(t) <= 240 for t in texts)
        True
    """
    if label not in ("depth", "kind"):
        raise ValueError(f"label={label!r}: use 'depth' or 'kind'")
    rng = np.random.default_rng(seed)
    pools: dict[str, list[tuple[int, int]]] = {}
    sources: list[str] = []
    for path in stdlib_files(files):
        source = path.read_text(encoding="utf-8", errors="replace")
        sources.append(source)
        for offset, depth, kind in _cuts(source):
            pools.setdefault(depth if label == "depth" else kind, []).append(
                (len(sources) - 1, offset)
            )
    classes = sorted(pools)
    per_class = -(-n // len(classes))
    picked: list[tuple[str, int, int]] = []
    for name in classes:
        choice = rng.choice(len(pools[name]), size=min(per_class, len(pools[name])), replace=False)
        picked.extend((name, *pools[name][i]) for i in choice)
    order = rng.permutation(len(picked))[:n]
    texts, labels = [], []
    for index in order:
        name, source_index, offset = picked[index]
        source = sources[source_index]
        earliest = max(0, offset - max_chars)
        newline = source.find("\n", earliest, offset) if earliest > 0 else -1
        start = newline + 1 if newline >= 0 else earliest  # start on a line when one fits
        texts.append(source[start:offset])
        labels.append(name)
    return texts, np.array(labels)
