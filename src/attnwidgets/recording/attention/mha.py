"""``nn.MultiheadAttention`` (and ``nn.TransformerEncoder``, which calls it) as PyTorch runs it.

While a capture's ``TorchFunctionMode`` is active, ``has_torch_function`` is true for every
tensor, so PyTorch leaves its native fast paths (``_native_multi_head_attention``, the fused
encoder layer, nested tensors) and calls ``F.multi_head_attention_forward``. We run that call
with ``need_weights=True, average_attn_weights=False`` to get per-head weights exactly as PyTorch
computes them, and hand the caller back what it asked for (nothing, or the head average).

Trade-off: with ``need_weights=True`` PyTorch computes the output with an explicit softmax and
matmul instead of its fused kernel, so outputs differ from an uncaptured run by float rounding
(about 1e-7), and an encoder given ``src_key_padding_mask`` returns its padded positions computed
instead of zeroed (the nested-tensor fast path is off).

The steps before the softmax (``scores`` = Q K^T, ``scaled``, ``masked``) are recomputed from the
same call's arguments by PyTorch's rules: the packed ``in_proj_weight`` or the separate
``q/k_proj_weight`` (``kdim``/``vdim``), ``bias_k`` and ``add_zero_attn`` key columns, and
``attn_mask`` / ``key_padding_mask`` (bool: True hides a key; float: added), merged.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from .admission import CallShape
from .calls import CallInfo
from .interface import unseen
from .recompute import attention_steps

_PARAMETERS = list(inspect.signature(F.multi_head_attention_forward).parameters)


def call_shape(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[torch.Tensor, CallShape]:
    """The query of one ``F.multi_head_attention_forward`` call and the shape of its weights
    (inputs are sequence-first: ``[query, batch, embed]``, or ``[query, embed]`` unbatched).

    Example:
        >>> x = torch.zeros(5, 2, 8)
        >>> call_shape((x, x, x), {"num_heads": 4})[1]
        CallShape(batch=2, heads=4, queries=5, keys=5)
    """
    bound = dict(zip(_PARAMETERS, args, strict=False))
    bound.update(kwargs)
    query, key = bound["query"], bound["key"]
    batch = query.shape[1] if query.dim() == 3 else 1
    return query, CallShape(batch, int(bound["num_heads"]), query.shape[0], key.shape[0])


def call_with_head_weights(
    func: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    kinds: frozenset[str] = frozenset({"probability"}),
    inputs: bool = False,
) -> tuple[Any, dict[str, torch.Tensor], CallInfo | None]:
    """Run ``F.multi_head_attention_forward`` keeping per-head weights.

    Returns what the caller asked for, the steps of ``kinds``: ``probability`` (PyTorch's
    own weights), ``scores``, ``scaled``, ``masked``; each ``[batch, heads, query, key]`` (the
    weights of unbatched input are ``[heads, query, key]``); and with ``inputs`` the call's
    projected Q, K, V and head outputs ``weights @ V`` (before ``out_proj``) as a ``CallInfo``.
    """
    bound = dict(zip(_PARAMETERS, args, strict=False))
    bound.update(kwargs)
    asked_weights = bool(bound.get("need_weights", True))
    asked_average = bool(bound.get("average_attn_weights", True))
    bound["need_weights"] = True
    bound["average_attn_weights"] = False
    output, weights = func(**bound)
    steps: dict[str, torch.Tensor] = {}
    if kinds - {"probability"}:
        steps = unseen(head_steps, bound, kinds - {"probability"})
    info = None
    if inputs and weights is not None:
        info = unseen(head_call, bound, weights)
    if weights is None:
        return (output, None), steps, info
    if "probability" in kinds:
        steps["probability"] = weights.detach()
    heads_dim = 1 if weights.dim() == 4 else 0
    given = None
    if asked_weights:
        given = weights.mean(dim=heads_dim) if asked_average else weights
    return (output, given), steps, info


def head_call(bound: dict[str, Any], weights: torch.Tensor) -> CallInfo:
    """Q, K, V per head ``[batch, heads, tokens, head_dim]`` as the call projected them, and
    the head outputs ``weights @ V`` (what ``out_proj`` receives, head by head)."""
    q, k, v, mask = head_tensors(bound)
    assert v is not None
    per_head = weights if weights.dim() == 4 else weights.unsqueeze(0)
    with torch.no_grad():
        output = torch.matmul(per_head.to(v.dtype), v)
    return CallInfo(q, k, v, output, attn_mask=mask, scale=q.shape[-1] ** -0.5)


def head_steps(bound: dict[str, Any], kinds: frozenset[str]) -> dict[str, torch.Tensor]:
    """Q K^T, scaled and masked scores ``[batch, heads, query, key]`` of one call of
    ``F.multi_head_attention_forward``, by its rules (sequence-first inputs, as it gets them).

    Example:
        >>> mha = torch.nn.MultiheadAttention(4, 2, bias=False)
        >>> x = torch.randn(3, 1, 4)  # [seq, batch, embed]
        >>> padding = torch.tensor([[False, False, True]])
        >>> bound = dict(query=x, key=x, value=x, num_heads=2, key_padding_mask=padding,
        ...              in_proj_weight=mha.in_proj_weight)
        >>> steps = head_steps(bound, frozenset({"scores", "masked"}))
        >>> q, k = (x[:, 0] @ w.T for w in mha.in_proj_weight[:8].chunk(2))
        >>> torch.allclose(steps["scores"][0, 0], q[:, :2] @ k[:, :2].T, atol=1e-6)
        True
        >>> steps["masked"][0, 0, :, 2].tolist()
        [-inf, -inf, -inf]
    """
    q, k, _, mask = head_tensors(bound, with_values=False)
    return attention_steps(q, k, kinds=kinds, attn_mask=mask)


def head_tensors(
    bound: dict[str, Any], with_values: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Q, K (and V) ``[batch, heads, tokens, head_dim]`` and the merged additive mask of one
    call, by its rules: in-projections, ``bias_k`` / ``bias_v``, ``static_k`` / ``static_v``,
    ``add_zero_attn``."""
    query, key, value = bound["query"], bound["key"], bound["value"]
    heads = int(bound["num_heads"])
    batched = query.dim() == 3
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
    targets, batch, embed = query.shape
    head_dim = embed // heads
    with torch.no_grad():
        q, k, v = _project(bound, query, key, value if with_values else None)
        q = q.reshape(targets, batch, heads, head_dim).permute(1, 2, 0, 3)
        k = _heads(k, bound.get("bias_k"), bound.get("static_k"), batch, heads, bound)
        if v is not None:
            v = _heads(v, bound.get("bias_v"), bound.get("static_v"), batch, heads, bound)
        mask = _merged_mask(bound, batched, batch, heads, targets, k.shape[2])
    return q, k, v, mask


def _heads(
    x: torch.Tensor,
    extra: torch.Tensor | None,
    static: torch.Tensor | None,
    batch: int,
    heads: int,
    bound: dict[str, Any],
) -> torch.Tensor:
    """Sequence-first projected keys or values -> ``[batch, heads, tokens, head_dim]``."""
    if extra is not None:
        x = torch.cat([x, extra.repeat(1, batch, 1)])
    head_dim = x.shape[-1] // heads
    if static is not None:
        x = static.reshape(batch, heads, -1, static.shape[-1])
    else:
        x = x.reshape(x.shape[0], batch, heads, head_dim).permute(1, 2, 0, 3)
    if bound.get("add_zero_attn"):
        x = torch.cat([x, x.new_zeros(batch, heads, 1, x.shape[-1])], dim=2)
    return x


def _project(
    bound: dict[str, Any], query: torch.Tensor, key: torch.Tensor, value: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The in-projections (packed ``in_proj_weight`` or separate weights)."""
    bias = bound.get("in_proj_bias")
    b_q, b_k, b_v = (None, None, None) if bias is None else bias.chunk(3)
    if bound.get("use_separate_proj_weight"):
        w_q, w_k, w_v = bound["q_proj_weight"], bound["k_proj_weight"], bound["v_proj_weight"]
    else:
        w_q, w_k, w_v = bound["in_proj_weight"].chunk(3)
    v = None if value is None else F.linear(value, w_v, b_v)
    return F.linear(query, w_q, b_q), F.linear(key, w_k, b_k), v


def _merged_mask(
    bound: dict[str, Any], batched: bool, batch: int, heads: int, targets: int, sources: int
) -> torch.Tensor | None:
    """``attn_mask`` and ``key_padding_mask`` as one additive float mask, 0 on added keys."""
    merged: torch.Tensor | None = None
    attn_mask = bound.get("attn_mask")
    if attn_mask is not None:
        additive = _additive(attn_mask)
        if additive.dim() == 3:  # [batch * heads, query, key]
            additive = additive.reshape(batch, heads, targets, -1)
        merged = additive
    padding = bound.get("key_padding_mask")
    if padding is not None:
        padding = _additive(padding if batched else padding.unsqueeze(0))
        padding = padding.reshape(batch, 1, 1, -1)
        merged = padding if merged is None else merged + padding
    if merged is not None and merged.shape[-1] < sources:  # bias_k / zero-attention columns
        merged = F.pad(merged, (0, sources - merged.shape[-1]))
    return merged


def _additive(mask: torch.Tensor) -> torch.Tensor:
    """PyTorch's mask convention: a bool mask is True where a key is hidden."""
    if mask.dtype == torch.bool:
        return torch.zeros_like(mask, dtype=torch.float32).masked_fill(mask, float("-inf"))
    return mask.float()
