"""``attention="qk"``: keep each call's Q, K, scale, soft-cap, mask rule, sinks and row
log-sum-exp instead of its ``[query, key]`` probabilities.

Where the model's sdpa call would run the CPU flash kernel (no mask, no bias, float inputs),
``flash_forward`` calls that kernel itself: the same output, bit for bit, plus the
log-sum-exp of every query row it computes anyway. Elsewhere (a padding or sliding-window mask,
soft-capping on the eager path, sinks, another device) the model's own kernel runs as it would
and the log-sum-exp is computed after the forward, block by block from the kept Q and K
(``QKCall.layer``). Nothing here builds a ``[query, key]`` tensor: a mask the model passes is
read back as a ``MaskRule`` (``mask_rules``) a block of rows at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ...qk_compute import ArrayOps
from ...qk_masks import MaskRule
from ...qk_records import QKLayer
from .qk_rules import QKUnsupported, mask_rules

FLASH = 1  # torch.nn.attention.SDPBackend.FLASH_ATTENTION, as torch._fused_sdp_choice gives it


@dataclass
class QKInputs:
    """What an attention call hands a Q/K capture: the live tensors (nothing copied yet), the
    call's keyword arguments and the kernel's log-sum-exp ``[batch, heads, query]`` (None when
    the kernel gave none)."""

    query: torch.Tensor
    key: torch.Tensor
    attention_mask: torch.Tensor | None
    kwargs: dict[str, Any]
    lse: torch.Tensor | None


def flash_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    kwargs: dict[str, Any],
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """``(output [batch, heads, query, d], lse [batch, heads, query])`` from the CPU flash
    kernel when ``sdpa_attention_forward`` would run exactly that kernel on these inputs, else
    None (the caller runs the model's own path)."""
    if (
        attention_mask is not None
        or query.device.type != "cpu"
        or query.dim() != 4
        or kwargs.get("dropout")
        or kwargs.get("position_bias") is not None
        or kwargs.get("softcap")
        or kwargs.get("s_aux") is not None
        or query.dtype not in (torch.float32, torch.bfloat16, torch.float16)
        or not query.dtype == key.dtype == value.dtype
    ):
        return None
    q_len, kv_len = query.shape[2], key.shape[2]
    causal_flag = kwargs.get("is_causal")
    if causal_flag is None:
        causal_flag = getattr(module, "is_causal", True)
    is_causal = bool(q_len > 1 and causal_flag)
    if is_causal and kv_len > q_len:
        key, value = key[:, :, :q_len], value[:, :, :q_len]
    gqa = query.shape[1] != key.shape[1]
    if gqa and (getattr(module, "num_key_value_groups", 1) <= 1 or key.shape[-1] > 256):
        return None  # sdpa_attention_forward would repeat the key heads: leave it to it
    scale = kwargs.get("scaling")
    choice = torch._fused_sdp_choice(
        query, key, value, None, 0.0, is_causal, scale=scale, enable_gqa=gqa
    )
    if choice != FLASH:
        return None
    kernel = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    output, lse = kernel(query, key, value, 0.0, is_causal, scale=scale)
    return output, lse


@dataclass
class QKCall:
    """One kept call (CPU tensors): ``q`` ``[batch, heads, T, d]``, ``k`` ``[batch, kv_heads,
    T, d]``, ``lse`` ``[batch, heads, T]`` from the kernel (None: computed when read),
    ``rules`` one ``MaskRule`` per batch item."""

    name: str
    step: int
    q: torch.Tensor
    k: torch.Tensor
    lse: torch.Tensor | None
    scale: float
    softcap: float | None
    sinks: torch.Tensor | None
    rules: list[MaskRule]

    def layer(self, item: int, ops: ArrayOps) -> QKLayer:
        """Batch item ``item`` as a numpy ``QKLayer`` (its log-sum-exp computed with ``ops``
        when the kernel gave none)."""
        pick = min(item, self.q.shape[0] - 1)
        q, k = self.q[pick].numpy(), self.k[min(item, self.k.shape[0] - 1)].numpy()
        rule = self.rules[min(item, len(self.rules) - 1)]
        sinks = None if self.sinks is None else self.sinks.numpy()
        if self.lse is None:
            return QKLayer.from_qk(
                self.name, q, k, scale=self.scale, softcap=self.softcap, sinks=sinks, rule=rule,
                ops=ops,
            )  # fmt: skip
        lse = self.lse[pick].clone()
        empty = torch.from_numpy(rule.empty_rows(q.shape[1], k.shape[1]))
        lse[:, empty] = 0.0  # rows that see no key: uniform, their lse unused
        return QKLayer(self.name, q, k, lse.numpy(), self.scale, self.softcap, sinks, rule)


def _cpu(tensor: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A contiguous CPU copy in ``dtype`` (one copy, whatever the layout of ``tensor``)."""
    out = torch.empty(tensor.shape, dtype=dtype)
    out.copy_(tensor.detach())
    return out


def sinks_of(module: torch.nn.Module, kwargs: dict[str, Any], heads: int) -> torch.Tensor | None:
    """The per-head sink logits of the call (``s_aux``, or gpt-oss's ``module.sinks``)."""
    sinks = kwargs.get("s_aux")
    if sinks is None:
        sinks = getattr(module, "sinks", None)
    if not isinstance(sinks, torch.Tensor) or sinks.numel() != heads:
        return None
    return _cpu(sinks.reshape(-1), torch.float32)


def qk_call(
    name: str,
    step: int,
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    attention_mask: torch.Tensor | None,
    kwargs: dict[str, Any],
    lse: torch.Tensor | None,
    *,
    dtype: torch.dtype,
    window: tuple[int, int] | None,
) -> QKCall:
    """The call as a ``QKCall``, or ``QKUnsupported`` saying why it has no Q/K form."""
    if query.dim() != 4 or key.dim() != 4:
        raise QKUnsupported(f"Q and K of {query.dim()} / {key.dim()} dimensions, not 4")
    if kwargs.get("position_bias") is not None:
        raise QKUnsupported(
            "a position bias (T5) is added to every query x key score: a Q/K record keeps no "
            "[query, key] tensor"
        )
    n_q, n_k = query.shape[2], key.shape[2]
    causal_flag = kwargs.get("is_causal")
    if causal_flag is None:
        causal_flag = getattr(module, "is_causal", True)
    causal = bool(causal_flag and n_q > 1)
    if causal and attention_mask is None and n_k > n_q:
        key, n_k = key[:, :, :n_q], n_q
    if n_k != n_q:
        raise QKUnsupported(
            f"{n_q} queries against {n_k} keys (a KV cache, or cross attention): a Q/K record "
            "holds one forward over the whole sequence; run the model once, without a cache"
        )
    rules = mask_rules(attention_mask, query.shape[0], n_q, n_k, causal, window)
    keep = dtype
    if lse is not None and (query.dtype != torch.float32 or keep != torch.float32):
        lse = None  # the kernel's normaliser would not match the kept values: recompute it
    scale = kwargs.get("scaling")
    return QKCall(
        name=name,
        step=step,
        q=_cpu(query, keep),
        k=_cpu(key, keep),
        lse=None if lse is None else _cpu(lse, torch.float32),
        scale=float(scale) if scale is not None else query.shape[-1] ** -0.5,
        softcap=float(kwargs["softcap"]) if kwargs.get("softcap") else None,
        sinks=sinks_of(module, kwargs, query.shape[1]),
        rules=rules,
    )


def qk_bytes(query: torch.Tensor, key: torch.Tensor, dtype: torch.dtype) -> int:
    """Bytes one call's Q/K record takes: Q and K in ``dtype`` and a float32 lse per row.

    Example:
        >>> qk_bytes(torch.zeros(1, 9, 100, 64), torch.zeros(1, 3, 100, 64), torch.float32)
        310800
    """
    batch, heads, tokens, dim = query.shape
    keys = key.shape[0] * key.shape[1] * key.shape[2] * key.shape[3]
    return int((batch * heads * tokens * dim + keys) * dtype.itemsize + batch * heads * tokens * 4)
