"""A mask the model passes to its attention kernel, read back as a ``MaskRule``.

Transformers builds a ``[batch, 1, query, key]`` mask (bool for sdpa, additive float for
eager) from a causal / sliding-window / padding / prefix pattern. A Q/K record keeps the
pattern, not the mask: the candidate rule (causal and window from the call, padding keys from
the mask's columns, a prefix from its first row) is checked against every row of the mask, a
block of rows at a time: each row must see exactly the valid keys of one interval, the rule's
(first key, last key and count agree). A mask that no rule reproduces, or an additive mask
carrying a bias (ALiBi), raises ``QKUnsupported``.

Example:
    >>> mask = torch.ones(5, 5, dtype=torch.bool).tril()[None, None].clone()
    >>> mask[..., 0] = False  # the first token is padding
    >>> mask_rules(mask, 1, 5, 5, causal=False, window=None)[0].describe()
    'causal, 1 padding key'
"""

from __future__ import annotations

import numpy as np
import torch

from ...qk_masks import MaskRule

ROWS = 256  # rows of the mask checked at a time ([ROWS, keys] uint8 of scratch)


class QKUnsupported(ValueError):
    """A call whose attention has no Q/K form (the message says why)."""


def mask_rules(
    mask: torch.Tensor | None,
    batch: int,
    n_queries: int,
    n_keys: int,
    causal: bool,
    window: tuple[int, int] | None,
) -> list[MaskRule]:
    """One ``MaskRule`` per batch item for ``mask`` (None: the call's own causal flag and
    window), or ``QKUnsupported``."""
    if mask is None:
        return [MaskRule(causal=causal, window=window)]
    seen = _allowed(mask)
    while seen.dim() < 4:
        seen = seen.unsqueeze(0)
    if seen.shape[-2:] != (n_queries, n_keys):
        seen = seen[..., :n_queries, :n_keys]
    if seen.shape[1] != 1 and not all(
        torch.equal(seen[:, 0], seen[:, h]) for h in range(1, seen.shape[1])
    ):
        raise QKUnsupported("its mask differs between heads")
    rules = []
    for item in range(batch):
        rows = seen[min(item, seen.shape[0] - 1), 0]
        rules.append(rule_of(rows, causal, window))
    return rules


def _allowed(mask: torch.Tensor) -> torch.Tensor:
    """A bool mask (True: seen) from sdpa's bool or eager's additive float mask."""
    if mask.dtype == torch.bool:
        return mask
    low = torch.finfo(mask.dtype).min / 2
    seen = mask > low
    rest = mask.masked_fill(~seen, 0)
    if bool(rest.any()):
        raise QKUnsupported(
            "its additive mask carries a bias besides the mask (ALiBi or a relative bias): a "
            "Q/K record keeps no [query, key] tensor"
        )
    return seen


def rule_of(seen: torch.Tensor, causal: bool, window: tuple[int, int] | None) -> MaskRule:
    """The rule that reproduces ``seen`` ``[query, key]`` exactly, or ``QKUnsupported``."""
    valid = seen.any(dim=0).cpu().numpy()
    candidates = [MaskRule(causal=causal, window=window, key_valid=valid)]
    prefix = _prefix(seen)
    if prefix:
        candidates.append(MaskRule(causal=True, window=window, key_valid=valid, prefix=prefix))
    candidates.append(MaskRule(causal=not causal, window=window, key_valid=valid))
    candidates.append(MaskRule(causal=causal, key_valid=valid))
    for rule in candidates:
        if reproduces(rule, seen):
            return rule
    raise QKUnsupported(
        "its mask is not a causal / sliding-window / padding / prefix pattern (for instance "
        "blocks of image tokens seeing each other): a Q/K record keeps only such rules"
    )


def _prefix(seen: torch.Tensor) -> int:
    """For a prefix LM: the tokens the first row that sees anything sees beyond itself."""
    counts = seen.sum(dim=1)
    rows = torch.nonzero(counts).flatten()
    if len(rows) == 0:
        return 0
    first = int(rows[0])
    keys = torch.nonzero(seen[first]).flatten()
    last = int(keys[-1])
    return last + 1 if last > first else 0


def reproduces(rule: MaskRule, seen: torch.Tensor) -> bool:
    """Whether ``rule`` gives every row of ``seen`` exactly (a block of rows at a time)."""
    n_q, n_k = seen.shape
    valid = np.ones(n_k, bool) if rule.key_valid is None else rule.key_valid
    if len(valid) != n_k:
        return False
    counts = np.concatenate([[0], np.cumsum(valid, dtype=np.int64)])
    index = np.arange(n_k)
    next_valid = np.minimum.accumulate(np.where(valid, index, n_k)[::-1])[::-1]
    prev_valid = np.maximum.accumulate(np.where(valid, index, -1))
    rows = np.arange(n_q, dtype=np.int64)
    low = np.clip(rows + max(rule.lo, -(1 << 40)), 0, n_k)
    high = np.clip(rows + min(rule.hi, 1 << 40), -1, n_k - 1)
    if rule.prefix:  # prefix rows: [0, max(high, prefix - 1)] when that is one interval
        inside = rows < rule.prefix
        joined = inside & (low <= rule.prefix)
        low = np.where(joined, 0, low)
        high = np.where(joined, np.maximum(high, min(rule.prefix, n_k) - 1), high)
        if (inside & ~joined).any():  # two intervals: compare those rows cell by cell
            for row in rows[inside & ~joined]:
                expected = torch.from_numpy(rule.row(int(row), n_k))
                if not torch.equal(seen[row].cpu(), expected):
                    return False
            low, high = np.where(inside & ~joined, 0, low), np.where(inside & ~joined, -1, high)
    count = np.where(high >= low, counts[np.maximum(high + 1, low)] - counts[low], 0)
    first = np.where(count > 0, next_valid[np.minimum(low, n_k - 1)], -1)
    last = np.where(count > 0, prev_valid[np.maximum(high, 0)], -1)
    skip = rule.prefix and (rows < rule.prefix) & (low == 0) & (high == -1)
    for a in range(0, n_q, ROWS):
        b = min(a + ROWS, n_q)
        block = seen[a:b].to(torch.uint8)
        got_count = block.sum(dim=1, dtype=torch.int64).cpu().numpy()
        got_first = block.argmax(dim=1).cpu().numpy()
        got_last = n_k - 1 - block.flip(1).argmax(dim=1).cpu().numpy()
        got_first = np.where(got_count > 0, got_first, -1)
        got_last = np.where(got_count > 0, got_last, -1)
        check = ~skip[a:b] if isinstance(skip, np.ndarray) else slice(None)
        pairs = ((got_count, count[a:b]), (got_first, first[a:b]), (got_last, last[a:b]))
        if not all(np.array_equal(g[check], e[check]) for g, e in pairs):
            return False
        padding = None if rule.key_valid is None else torch.from_numpy(~valid).to(block.device)
        if padding is not None and bool(block[:, padding].any()):  # no row sees a padding key
            return False
    return True
