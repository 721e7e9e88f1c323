"""Attention probabilities recomputed from the tensors an attention kernel receives.

The kernels that users run by default (sdpa, flash) never materialise the ``[query, key]``
matrix. We recompute ``softmax(Q K^T * scale + bias + mask)`` beside them, following the same
rules as ``torch.nn.functional.scaled_dot_product_attention``, so outputs stay untouched.
"""

from __future__ import annotations

import functools

import torch


def repeat_kv(states: torch.Tensor, n_rep: int) -> torch.Tensor:
    """Grouped-query keys: ``[batch, kv_heads, seq, dim]`` -> ``[batch, kv_heads * n_rep, ...]``."""
    if n_rep == 1:
        return states
    batch, kv_heads, seq, dim = states.shape
    expanded = states[:, :, None].expand(batch, kv_heads, n_rep, seq, dim)
    return expanded.reshape(batch, kv_heads * n_rep, seq, dim)


def attention_probabilities(
    query: torch.Tensor,
    key: torch.Tensor,
    *,
    attn_mask: torch.Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """Softmax attention weights ``[batch, heads, query, key]`` as float32.

    ``attn_mask`` follows sdpa: a bool mask is True where attention is allowed, a float mask
    is added to the scores. ``is_causal`` uses sdpa's upper-left alignment. Rows with every
    key masked become uniform, as in eager attention (the mask is the dtype's minimum, not -inf).

    Example:
        >>> q = torch.zeros(1, 1, 3, 4)
        >>> attention_probabilities(q, q, is_causal=True)[0, 0, 2]
        tensor([0.3333, 0.3333, 0.3333])
    """
    heads = query.shape[-3] if query.dim() >= 3 else 1
    if key.dim() == 4 and key.shape[1] != heads and heads % key.shape[1] == 0:
        key = repeat_kv(key, heads // key.shape[1])
    if scale is None:
        scale = query.shape[-1] ** -0.5
    with torch.no_grad():
        # In-place steps: at 512 tokens each pass over [heads, q, k] costs as much as the matmul.
        scores = torch.matmul(query.float(), key.float().transpose(-1, -2)).mul_(scale)
        if bias is not None:
            scores.add_(bias.float())
        lowest = torch.finfo(scores.dtype).min
        if attn_mask is not None:
            if attn_mask.dtype == torch.bool:
                scores.masked_fill_(attn_mask.logical_not(), lowest)
            else:
                scores.add_(attn_mask.float())
        elif is_causal:
            scores.masked_fill_(
                _upper_triangle(scores.shape[-2], scores.shape[-1], scores.device), lowest
            )
        return torch.softmax(scores, dim=-1)


@functools.lru_cache(maxsize=8)
def _upper_triangle(queries: int, keys: int, device: torch.device) -> torch.Tensor:
    """True above the diagonal: the keys a causal (upper-left aligned) query may not see."""
    return torch.ones(queries, keys, dtype=torch.bool, device=device).triu(1)
