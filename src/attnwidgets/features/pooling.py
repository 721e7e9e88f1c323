"""Pool one module's output over its tokens, respecting the padding mask.

``hidden``: ``[batch, tokens, d]`` (or ``[batch, d]``, already one vector per input, kept as
it is); ``mask``: ``[batch, tokens]``, 1 for real tokens, 0 for padding (None: all real).
``"mean"`` averages the real tokens, ``"first"`` / ``"last"`` take the first / last real
token (left or right padding alike), ``"cls"`` takes position 0 (the [CLS] token of BERT and
ViT; refused when position 0 is padding), ``"none"`` keeps every real token (``[n_i, d]``).
"""

from __future__ import annotations

import torch

POOLS = ("mean", "first", "last", "cls", "none")


class PoolingError(ValueError):
    """A module output that cannot be pooled; the message names the module and its shape."""


def check_pool(pool: str) -> str:
    """``pool`` if it is one of ``POOLS``, else ``ValueError`` listing them.

    Example:
        >>> check_pool("avg")
        Traceback (most recent call last):
        ...
        ValueError: pool='avg': use one of ('mean', 'first', 'last', 'cls', 'none')
    """
    if pool not in POOLS:
        raise ValueError(f"pool={pool!r}: use one of {POOLS}")
    return pool


def token_mask(hidden: torch.Tensor, mask: torch.Tensor | None, module: str) -> torch.Tensor:
    """The ``[batch, tokens]`` boolean mask that fits ``hidden`` (all True if it has its own
    token count, as a vision tower inside a VLM does)."""
    batch, tokens = hidden.shape[0], hidden.shape[1]
    if mask is not None and mask.shape[0] == batch and mask.shape[1] == tokens:
        return mask.to(device=hidden.device, dtype=torch.bool)
    return torch.ones(batch, tokens, dtype=torch.bool, device=hidden.device)


def pool_output(
    hidden: torch.Tensor, mask: torch.Tensor | None, pool: str, module: str, batch: int
) -> list[torch.Tensor]:
    """One pooled tensor per input: ``[d]``, or ``[n_i, d]`` for ``pool="none"``.

    Example:
        >>> h = torch.tensor([[[1.0], [3.0], [100.0]], [[2.0], [4.0], [6.0]]])
        >>> m = torch.tensor([[1, 1, 0], [1, 1, 1]])
        >>> [t.tolist() for t in pool_output(h, m, "mean", "x", 2)]
        [[2.0], [4.0]]
        >>> [t.tolist() for t in pool_output(h, m, "last", "x", 2)]
        [[3.0], [6.0]]
        >>> [t.shape for t in pool_output(h, m, "none", "x", 2)]
        [torch.Size([2, 1]), torch.Size([3, 1])]
    """
    if hidden.shape[0] != batch:
        raise PoolingError(
            f"{module}: output of shape {list(hidden.shape)} does not start with the batch "
            f"size {batch}; pick a module whose output is [batch, tokens, d] or [batch, d]"
        )
    if hidden.ndim == 2:
        return list(hidden.unbind(0))
    if hidden.ndim != 3:
        raise PoolingError(
            f"{module}: output of shape {list(hidden.shape)} is not [batch, tokens, d] or "
            "[batch, d]; pick the module that produces hidden states (e.g. a layer or its mlp)"
        )
    real = token_mask(hidden, mask, module)
    if pool == "mean":
        weights = real.to(hidden.dtype).unsqueeze(-1)
        summed = (hidden * weights).sum(1)
        return list((summed / weights.sum(1).clamp(min=1)).unbind(0))
    if pool == "cls":
        if not bool(real[:, 0].all()):
            raise PoolingError(
                f"{module}: pool='cls' takes position 0, which is padding in some rows (left "
                "padding); use pool='first' for the first real token"
            )
        return list(hidden[:, 0].unbind(0))
    if pool in ("first", "last"):
        positions = torch.arange(hidden.shape[1], device=hidden.device).expand_as(real)
        if pool == "first":
            index = torch.where(real, positions, hidden.shape[1]).min(1).values
        else:
            index = torch.where(real, positions, -1).max(1).values
        index = index.clamp(0, hidden.shape[1] - 1)
        return list(hidden[torch.arange(batch, device=hidden.device), index].unbind(0))
    return [hidden[i][real[i]] for i in range(batch)]
