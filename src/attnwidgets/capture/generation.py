"""Generation with a KV cache: one record for the whole sequence, rows appended per step.

Each top-level forward of ``model.generate`` is one step. Step 0 (the prompt) gives every
attention module ``[batch, heads, P, P]``; each later step gives ``[batch, heads, 1, P + s]``.
We stack the rows of each module into ``[batch, heads, P + S - 1, P + S - 1]`` (keys a row did
not see yet are 0 for probabilities, ``-inf`` for scores) and keep each step as a view into it,
so nothing is held twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class AttentionCall:
    """One call of one attention module: the kept steps, each ``[batch, heads, query, key]``."""

    name: str
    step: int
    kept: dict[str, torch.Tensor]
    source: str
    queries: int = field(init=False)
    keys: int = field(init=False)

    def __post_init__(self) -> None:
        first = next(iter(self.kept.values()))
        self.queries, self.keys = first.shape[-2], first.shape[-1]


def is_generation(calls: list[AttentionCall]) -> bool:
    """True when each module's later calls continue its first through a cache.

    A module's first call may have any shape (the prompt, or an encoder run once); every later
    call must come from a later step and see more keys than it has queries.
    """
    if len({call.step for call in calls}) < 2:
        return False
    repeated = False
    for parts in _by_name(calls).values():
        steps = [part.step for part in parts]
        if len(set(steps)) != len(steps) or any(p.queries >= p.keys for p in parts[1:]):
            return False
        repeated = repeated or len(parts) > 1
    return repeated


def _by_name(calls: list[AttentionCall]) -> dict[str, list[AttentionCall]]:
    grouped: dict[str, list[AttentionCall]] = {}
    for call in calls:
        grouped.setdefault(call.name, []).append(call)
    return grouped


def merge_steps(calls: list[AttentionCall]) -> list[AttentionCall]:
    """One call per module with the rows of every step; ``calls`` become views into it."""
    merged = []
    for name, parts in _by_name(calls).items():
        rows = sum(part.queries for part in parts)
        keys = max(part.keys for part in parts)
        kept: dict[str, torch.Tensor] = {}
        for kind in parts[0].kept:
            first = parts[0].kept[kind]
            fill = 0.0 if kind == "probability" else float("-inf")
            whole = torch.full((*first.shape[:-2], rows, keys), fill, dtype=first.dtype)
            row = 0
            for part in parts:
                block = part.kept[kind]
                whole[..., row : row + part.queries, : part.keys] = block
                part.kept[kind] = whole[..., row : row + part.queries, : part.keys]
                row += part.queries
            kept[kind] = whole
        merged.append(AttentionCall(name, parts[0].step, kept, parts[0].source))
    return merged
