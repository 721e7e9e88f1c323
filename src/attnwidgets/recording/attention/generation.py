"""Generation: one record for the whole sequence, rows appended per step.

Each top-level forward of ``model.generate`` is one step. Step 0 (the prompt) gives every
attention module ``[batch, heads, P, P]``; with a KV cache each later step gives
``[batch, heads, 1, P + s]``. We stack the rows of each module into
``[batch, heads, P + S - 1, P + S - 1]`` (keys a row did not see yet are 0 for probabilities,
``-inf`` for scores) and keep each step as a view into it, so nothing is held twice.

Without a cache (``use_cache=False``) every step recomputes the whole sequence: step ``s`` gives
``[batch, heads, P + s, P + s]``. ``RecomputedRows`` keeps only the rows a step adds, once the
rows it shares with the module's previous call are checked to be the same (a causal model never
changes them), so such a step is kept exactly like a cached one and memory stays that of one
sequence, not one per step.
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


class RecomputedRows:
    """Keeps only the new rows of a call that recomputes its module's previous rows.

    Example (a causal module called on 2 tokens, then on 3: the first 2 rows come again):
        >>> import torch
        >>> future = torch.ones(3, 3, dtype=torch.bool).triu(1)
        >>> scores = torch.randn(1, 1, 3, 3).masked_fill(future, float("-inf"))
        >>> rows = RecomputedRows()
        >>> first = rows.new_rows("attn", {"probability": scores[..., :2, :2].softmax(-1)})
        >>> first["probability"].shape
        torch.Size([1, 1, 2, 2])
        >>> kept = rows.new_rows("attn", {"probability": scores.softmax(-1)})["probability"]
        >>> kept.shape, torch.equal(kept, scores.softmax(-1)[..., 2:, :])
        (torch.Size([1, 1, 1, 3]), True)
    """

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, dict[str, torch.Tensor]]] = {}  # name: (rows before, kept)

    def new_rows(self, name: str, kept: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``kept`` (one call of module ``name``), or only its new rows when it recomputes."""
        last = self._last.get(name)
        if last is not None:
            before, previous = last
            done = before + next(iter(previous.values())).shape[-2]  # rows recorded so far
            if _recomputes(previous, kept, before, done):
                # a copy, so the recomputed rows are freed
                trimmed = {kind: tensor[..., done:, :].clone() for kind, tensor in kept.items()}
                self._last[name] = (done, trimmed)
                return trimmed
        self._last[name] = (0, kept)
        return kept


def _recomputes(
    previous: dict[str, torch.Tensor], kept: dict[str, torch.Tensor], before: int, done: int
) -> bool:
    """True when ``kept`` holds rows ``[before, done)`` again, as ``previous`` held them (no new
    key gets probability), plus at least one new row."""
    if kept.keys() != previous.keys():
        return False
    for kind, tensor in kept.items():
        old = previous[kind]
        if tensor.shape[:-2] != old.shape[:-2] or tensor.shape[-2] <= done:
            return False
        if tensor.shape[-1] < old.shape[-1]:
            return False
        rows = tensor[..., before:done, :]
        again, future = rows[..., : old.shape[-1]], rows[..., old.shape[-1] :]
        if kind == "probability":
            # a fully masked row (padding) is uniform over every key, however many there are
            padding = (_uniform(old) & _uniform(rows)).unsqueeze(-1)
            again = torch.where(padding, old, again)
            future = future.masked_fill(padding, 0.0)
            if future.abs().gt(1e-6).any():
                return False  # an old row now attends to a new key: not a causal continuation
        # loose enough for bfloat16 models, whose recomputed rows move by a few ulp
        if not torch.allclose(again, old, rtol=1e-2, atol=1e-3, equal_nan=True):
            return False
    return True


def _uniform(rows: torch.Tensor) -> torch.Tensor:
    """True for each row that spreads its probability evenly over all its keys (to 1%, as a
    bfloat16 model rounds ``1 / keys``)."""
    lowest, highest = rows.amin(dim=-1), rows.amax(dim=-1)
    return (lowest > 0) & (highest - lowest <= 1e-2 * highest)
