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
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

_PARAMETERS = list(inspect.signature(F.multi_head_attention_forward).parameters)


def call_with_head_weights(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, torch.Tensor | None]:
    """Run ``F.multi_head_attention_forward`` keeping per-head weights.

    Returns what the caller asked for, and the weights ``[batch, heads, query, key]`` (or
    ``[heads, query, key]`` for unbatched input).
    """
    bound = dict(zip(_PARAMETERS, args, strict=False))
    bound.update(kwargs)
    asked_weights = bool(bound.get("need_weights", True))
    asked_average = bool(bound.get("average_attn_weights", True))
    bound["need_weights"] = True
    bound["average_attn_weights"] = False
    output, weights = func(**bound)
    if weights is None:
        return (output, None), None
    heads_dim = 1 if weights.dim() == 4 else 0
    given = None
    if asked_weights:
        given = weights.mean(dim=heads_dim) if asked_average else weights
    return (output, given), weights.detach()
