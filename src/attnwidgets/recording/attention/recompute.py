"""Attention recomputed from the tensors an attention kernel receives.

The kernels that users run by default (sdpa, flash) never materialise the ``[query, key]``
matrix. We recompute it beside them, following the rules of
``torch.nn.functional.scaled_dot_product_attention``, so outputs stay untouched. The steps that
people learn attention by are all on offer:

- ``"scores"``: ``Q K^T``
- ``"scaled"``: ``Q K^T * scale`` (``1/sqrt(d_k)`` unless the model says otherwise)
- ``"masked"``: the scaled scores, soft-capped where the model does so (Gemma 2), plus any
  position bias (T5) and the mask; masked keys are ``-inf``. This is what enters the softmax.
- ``"probability"``: ``softmax(masked)``
"""

from __future__ import annotations

import functools
from collections.abc import Collection

import torch

from .record_memory import record_memory

KINDS = ("probability", "scores", "scaled", "masked")
"""Every step of attention that a capture can keep."""


def repeat_kv(states: torch.Tensor, n_rep: int) -> torch.Tensor:
    """Grouped-query keys: ``[batch, kv_heads, seq, dim]`` -> ``[batch, kv_heads * n_rep, ...]``."""
    if n_rep == 1:
        return states
    batch, kv_heads, seq, dim = states.shape
    expanded = states[:, :, None].expand(batch, kv_heads, n_rep, seq, dim)
    return expanded.reshape(batch, kv_heads * n_rep, seq, dim)


def attention_steps(
    query: torch.Tensor,
    key: torch.Tensor,
    *,
    kinds: Collection[str] = ("probability",),
    attn_mask: torch.Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    bias: torch.Tensor | None = None,
    softcap: float | None = None,
    value: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """The steps of attention named in ``kinds``, each ``[batch, heads, query, key]`` float32.

    ``attn_mask`` follows sdpa: a bool mask is True where attention is allowed, a float mask
    is added to the scores. ``is_causal`` uses sdpa's upper-left alignment. Rows with every
    key masked become uniform probabilities, as in eager attention. With ``value`` (and
    ``"probability"`` in ``kinds``) the result also holds ``"output"``: ``probability @ value``
    ``[batch, heads, query, dim]``, when that stays within float32 rounding of sdpa's own
    output (float32 values, gradients off).

    Example:
        >>> q = torch.tensor([[[[1.0, 0.0], [0.0, 2.0]]]])
        >>> steps = attention_steps(q, q, kinds=KINDS, is_causal=True)
        >>> steps["scores"][0, 0].tolist(), steps["masked"][0, 0, 0, 1].item()
        ([[1.0, 0.0], [0.0, 4.0]], -inf)
        >>> round(steps["scaled"][0, 0, 1, 1].item(), 4), steps["probability"][0, 0, 0].tolist()
        (2.8284, [1.0, 0.0])
    """
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown attention kinds {sorted(unknown)}; choose from {KINDS}")
    heads = query.shape[-3] if query.dim() >= 3 else 1
    if key.dim() == 4 and key.shape[1] != heads and heads % key.shape[1] == 0:
        key = repeat_kv(key, heads // key.shape[1])
    if value is not None and not _may_weigh(value, kinds):
        value = None
    if scale is None:
        scale = query.shape[-1] ** -0.5
    kept: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        # Few passes over [heads, q, k]: at 512 tokens each costs about a third of the matmul.
        # Without "scores" the scale goes into the (small) query before the matmul.
        query = query.float()
        if "scores" not in kinds:
            query, scale = query * scale, 1.0
        square = query.shape[-2] == key.shape[-2] and query.shape[:-2] == key.shape[:-2]
        only_causal = is_causal and attn_mask is None and bias is None
        if set(kinds) == {"probability"} and only_causal and square and query.is_cpu:
            return _causal_probabilities(query, key.float(), softcap, value)
        key_t = key.float().transpose(-1, -2)
        lead = torch.broadcast_shapes(query.shape[:-2], key_t.shape[:-2])
        scores = record_memory.empty((*lead, query.shape[-2], key_t.shape[-1]), query.device)
        torch.matmul(query, key_t, out=scores)
        if "scores" in kinds:
            kept["scores"] = scores.clone()
        if scale != 1.0:
            scores.mul_(scale)
        if "scaled" in kinds:
            kept["scaled"] = scores.clone()
        if softcap:
            scores.div_(softcap).tanh_().mul_(softcap)
        if bias is not None:
            scores.add_(bias.float())
        hidden = _hidden_keys(scores, attn_mask, is_causal)
        if hidden is not None:
            scores.masked_fill_(hidden, torch.finfo(scores.dtype).min)
        elif attn_mask is not None:
            scores.add_(attn_mask.float())
        if "masked" in kinds:
            masked = scores if "probability" not in kinds else scores.clone()
            if attn_mask is not None and attn_mask.dtype != torch.bool:
                hidden = attn_mask <= torch.finfo(attn_mask.dtype).min / 2
            if hidden is not None:
                masked.masked_fill_(hidden, float("-inf"))
            kept["masked"] = masked
        if "probability" in kinds:
            probability = kept["probability"] = _softmax_in_place(scores)
            if value is not None:
                kept["output"] = torch.matmul(probability, _value_heads(value, probability))
    return kept


def _may_weigh(value: torch.Tensor, kinds: Collection[str]) -> bool:
    """Whether ``probability @ value`` stays within float32 rounding of sdpa's own output."""
    return "probability" in kinds and value.dtype == torch.float32 and not torch.is_grad_enabled()


def _value_heads(value: torch.Tensor, probability: torch.Tensor) -> torch.Tensor:
    """``value`` with grouped-query heads repeated and only the keys ``probability`` covers."""
    heads = probability.shape[-3] if probability.dim() >= 3 else 1
    if value.dim() == 4 and value.shape[1] != heads and heads % value.shape[1] == 0:
        value = repeat_kv(value, heads // value.shape[1])
    return value[..., : probability.shape[-1], :]


_CAUSAL_BLOCK = 64
"""Query rows per block: small enough for a block's scores to stay in the L2 cache."""


def _causal_probabilities(
    query: torch.Tensor, key: torch.Tensor, softcap: float | None, value: torch.Tensor | None
) -> dict[str, torch.Tensor]:
    """Causal softmax(Q K^T) by blocks of query rows, each against the keys it may see only.

    Each block's scores go to one reused scratch buffer (no allocation per block, in cache),
    softmax runs there in place and the rows are copied once into the result; the keys a block
    may not see are zeroed, never computed (about 45% less work than the full square at 512
    tokens). The same numbers as the full computation. ``query`` is already scaled. With
    ``value``, each block's weights also multiply the values they see while still in cache:
    ``"output"``, half the work of ``probability @ value`` on the full square.
    """
    *lead, tokens, dim = query.shape
    queries = query.reshape(-1, tokens, dim)
    keys_t = key.reshape(-1, tokens, dim).transpose(1, 2)
    heads = queries.shape[0]
    out = record_memory.empty((*lead, tokens, tokens), query.device)
    rows_out = out.view(heads, tokens, tokens)
    kept = {"probability": out}
    values = None
    if value is not None:
        values = _value_heads(value, out).reshape(heads, tokens, -1)
        kept["output"] = torch.empty(*lead, tokens, values.shape[-1], device=query.device)
        rows_weighted = kept["output"].view(heads, tokens, -1)
    block = min(_CAUSAL_BLOCK, tokens)
    scratch = torch.empty(heads * block * tokens, dtype=torch.float32, device=query.device)
    lowest = torch.finfo(torch.float32).min
    for start in range(0, tokens, block):
        stop = min(start + block, tokens)
        scores = scratch[: heads * (stop - start) * stop].view(heads, stop - start, stop)
        torch.bmm(queries[:, start:stop], keys_t[:, :, :stop], out=scores)
        if softcap:
            scores.div_(softcap).tanh_().mul_(softcap)
        diagonal = _upper_triangle(stop - start, stop - start, scores.device)
        scores[..., start:stop].masked_fill_(diagonal, lowest)  # NaN-safe, unlike adding -inf
        torch.softmax(scores, dim=-1, out=scores)
        rows_out[:, start:stop, :stop].copy_(scores)
        rows_out[:, start:stop, stop:].zero_()
        if values is not None:
            torch.bmm(scores, values[:, :stop], out=rows_weighted[:, start:stop])
    return kept


def _softmax_in_place(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over keys, reusing the scores' memory on the CPU (its kernel reads each row
    before writing it); elsewhere a new tensor."""
    if scores.device.type == "cpu":
        return torch.softmax(scores, dim=-1, out=scores)
    return torch.softmax(scores, dim=-1)


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

    Example:
        >>> q = torch.zeros(1, 1, 3, 4)
        >>> attention_probabilities(q, q, is_causal=True)[0, 0, 2]
        tensor([0.3333, 0.3333, 0.3333])
    """
    steps = attention_steps(
        query, key, attn_mask=attn_mask, is_causal=is_causal, scale=scale, bias=bias
    )
    return steps["probability"]


def _hidden_keys(
    scores: torch.Tensor, attn_mask: torch.Tensor | None, is_causal: bool
) -> torch.Tensor | None:
    """Bool mask, True where a query may not see a key (None when the mask is additive)."""
    if attn_mask is not None:
        return attn_mask.logical_not() if attn_mask.dtype == torch.bool else None
    if is_causal:
        return _upper_triangle(scores.shape[-2], scores.shape[-1], scores.device)
    return None


@functools.lru_cache(maxsize=8)
def _upper_triangle(queries: int, keys: int, device: torch.device) -> torch.Tensor:
    """True above the diagonal: the keys a causal (upper-left aligned) query may not see."""
    return torch.ones(queries, keys, dtype=torch.bool, device=device).triu(1)
