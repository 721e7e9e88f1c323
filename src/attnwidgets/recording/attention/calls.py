"""What an attention function was called with: Q, K, V, its output, scale, mask and window.

Every recording path (transformers' AttentionInterface, ``scaled_dot_product_attention``,
``nn.MultiheadAttention``) describes each call it sees as a ``CallInfo`` holding references to
the live tensors (nothing is copied). The capture always reads the call's sliding window from it
(cheap); with ``qkv=True`` it also keeps a ``QKVCall``: the tensors copied to the CPU and the
mask as a bool "hidden" tensor. ``qkv_record`` turns the kept calls of one batch item into the
numpy ``QKVRecord`` that widgets read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ...qkv_records import QKVLayer, QKVRecord


@dataclass
class CallInfo:
    """One attention call, by sdpa's conventions: ``query`` ``[batch, heads, Q, d]``, ``key``
    and ``value`` ``[batch, kv_heads, K, d]``, ``output`` ``[batch, heads, Q, d_v]`` (or None
    when the caller cannot give it), ``attn_mask`` bool (True: may attend) or float (added),
    ``is_causal`` (upper-left aligned), ``bias`` added to the scaled scores (T5)."""

    query: torch.Tensor
    key: torch.Tensor
    value: torch.Tensor
    output: torch.Tensor | None
    attn_mask: torch.Tensor | None = None
    is_causal: bool = False
    scale: float | None = None
    softcap: float | None = None
    bias: torch.Tensor | None = None
    window: tuple[int, int] | None = None

    def kept(self, name: str, step: int, dtype: torch.dtype) -> QKVCall:
        """The call's tensors copied to the CPU in ``dtype``, and its mask as ``hidden``."""
        query, key = self.query, self.key
        n_queries, n_keys = query.shape[-2], key.shape[-2]
        hidden: torch.Tensor | None = None
        bias = self.bias
        mask = self.attn_mask
        if mask is not None:
            mask = mask[..., :n_keys]
            if mask.dtype == torch.bool:
                hidden = mask.logical_not()
            else:
                hidden = mask <= torch.finfo(mask.dtype).min / 2
                rest = mask.float().masked_fill(hidden, 0.0)
                if bool(rest.any()):  # an additive mask that also carries a bias (ALiBi)
                    bias = rest if bias is None else bias.float() + rest
        elif self.is_causal:
            hidden = torch.ones(n_queries, n_keys, dtype=torch.bool).triu(1)

        def cpu(tensor: torch.Tensor) -> torch.Tensor:
            return tensor.detach().to("cpu", dtype, copy=True)

        if self.output is None:
            raise ValueError(f"{name}: the attention call gave no output to keep")
        output = self.output
        if output.shape[1:3] != (query.shape[1], n_queries) and output.shape[1:3] == (
            n_queries,
            query.shape[1],
        ):  # a kernel that returned [batch, Q, heads, d]
            output = output.transpose(1, 2)
        return QKVCall(
            name=name,
            step=step,
            q=cpu(query),
            k=cpu(key),
            v=cpu(self.value[..., :n_keys, :]),
            z=cpu(output),
            hidden=None if hidden is None else _four_d(hidden.detach().to("cpu")),
            bias=None if bias is None else _four_d(cpu(bias)),
            scale=float(self.scale) if self.scale is not None else query.shape[-1] ** -0.5,
            softcap=float(self.softcap) if self.softcap else None,
            window=self.window,
            causal=self.is_causal or _looks_causal(hidden),
        )


def _four_d(tensor: torch.Tensor) -> torch.Tensor:
    while tensor.dim() < 4:
        tensor = tensor.unsqueeze(0)
    return tensor


def _looks_causal(hidden: torch.Tensor | None) -> bool:
    """True when every key after its query is hidden (a causal mask, perhaps with more)."""
    if hidden is None or hidden.shape[-2] != hidden.shape[-1] or hidden.shape[-1] < 2:
        return False
    future = torch.ones(hidden.shape[-2:], dtype=torch.bool, device=hidden.device).triu(1)
    return bool(hidden[..., future].all())


@dataclass
class QKVCall:
    """One kept call: tensors ``[batch, heads, tokens, d]`` on the CPU (see ``CallInfo``)."""

    name: str
    step: int
    q: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor
    z: torch.Tensor
    hidden: torch.Tensor | None
    bias: torch.Tensor | None
    scale: float
    softcap: float | None
    window: tuple[int, int] | None
    causal: bool

    def layer(self, item: int) -> QKVLayer:
        """Batch item ``item`` as a numpy ``QKVLayer``."""

        def pick(tensor: torch.Tensor | None) -> Any:
            if tensor is None:
                return None
            return tensor[min(item, tensor.shape[0] - 1)].numpy()

        return QKVLayer(
            self.name, pick(self.q), pick(self.k), pick(self.v), pick(self.z),
            hidden=pick(self.hidden), bias=pick(self.bias), scale=self.scale,
            softcap=self.softcap, window=self.window, causal=self.causal,
        )  # fmt: skip


def merge_generation(calls: list[QKVCall]) -> list[QKVCall]:
    """One call per module for generation: with a KV cache each step adds query rows and the
    last step holds every key; without one (each step recomputes all rows) the last call holds
    everything. Calls of modules called once stay as they are."""
    by_name: dict[str, list[QKVCall]] = {}
    for call in calls:
        by_name.setdefault(call.name, []).append(call)
    steps = {call.step for call in calls}
    if len(steps) < 2 or all(len(parts) == 1 for parts in by_name.values()):
        return calls
    merged = []
    for parts in by_name.values():
        last = parts[-1]
        if len(parts) == 1 or last.q.shape[-2] == last.k.shape[-2]:
            merged.append(last)
            continue
        keys = last.k.shape[-2]
        hidden = None
        if any(part.hidden is not None for part in parts):
            rows = [_hidden_rows(part, keys) for part in parts]
            hidden = torch.cat(rows, dim=-2)
        bias = None
        if any(part.bias is not None for part in parts):
            bias = torch.cat([_padded_bias(part, keys) for part in parts], dim=-2)
        merged.append(
            QKVCall(
                name=last.name, step=parts[0].step,
                q=torch.cat([part.q for part in parts], dim=-2), k=last.k, v=last.v,
                z=torch.cat([part.z for part in parts], dim=-2), hidden=hidden, bias=bias,
                scale=last.scale, softcap=last.softcap, window=last.window,
                causal=parts[0].causal,
            )
        )  # fmt: skip
    return merged


def _hidden_rows(part: QKVCall, keys: int) -> torch.Tensor:
    """The part's hidden rows over ``keys`` keys: keys it did not see yet are hidden."""
    rows, seen = part.q.shape[-2], part.k.shape[-2]
    own = (
        part.hidden if part.hidden is not None else torch.zeros(1, 1, rows, seen, dtype=torch.bool)
    )
    later = torch.ones(*own.shape[:-1], keys - seen, dtype=torch.bool)
    return torch.cat([own, later], dim=-1)


def _padded_bias(part: QKVCall, keys: int) -> torch.Tensor:
    rows, seen = part.q.shape[-2], part.k.shape[-2]
    own = part.bias if part.bias is not None else torch.zeros(1, 1, rows, seen)
    return torch.nn.functional.pad(own, (0, keys - seen))


NOTHING_KEPT = (
    "qkv=True recorded nothing: no attention call handed over its queries, keys and values "
    "(hand-written softmax attention, e.g. BLOOM, shows only the softmax)."
)


def batch_records(calls: list[QKVCall]) -> list[QKVRecord]:
    """One ``QKVRecord`` per batch item, generation steps merged."""
    merged = merge_generation(calls)
    batch = max(call.q.shape[0] for call in merged)
    return [QKVRecord([call.layer(item) for call in merged]) for item in range(batch)]


def head_tensor(calls: list[QKVCall], name: str, path: str, what: str) -> torch.Tensor:
    """``q`` / ``k`` / ``v`` / ``z`` of the module at ``path`` as TransformerLens lays them
    out, ``[batch, pos, heads, d_head]``; ``name`` is what was asked for (for the error)."""
    for call in reversed(merge_generation(calls)):
        if call.name == path or call.name.startswith(f"{path}."):
            tensor: torch.Tensor = getattr(call, what)
            return tensor.transpose(1, 2)
    got = sorted({call.name for call in calls})
    raise KeyError(f"{name!r}: no queries/keys/values recorded for {path}; got {got}")


def call_window(module: torch.nn.Module, kwargs: dict[str, Any]) -> tuple[int, int] | None:
    """The band of ``key - query`` offsets a sliding-window layer lets through, or None.

    Read from the call's ``sliding_window`` argument, else from the module (``sliding_window``
    attribute, or the config's ``layer_types``). Transformers' masks: causal windows keep
    ``key > query - w`` (``w`` keys, itself included); bidirectional ones (``is_causal=False``,
    ModernBERT's local layers, given ``w = half + 1``) keep ``|key - query| < w``.

    Example:
        >>> call_window(torch.nn.Identity(), {"sliding_window": 4})
        (-3, 0)
    """
    window = kwargs.get("sliding_window")
    if window is None:
        window = getattr(module, "sliding_window", None)
    if window is None:
        config = getattr(module, "config", None)
        types = getattr(config, "layer_types", None)
        index = getattr(module, "layer_idx", None)
        types = list(types) if isinstance(types, (list, tuple)) else []
        if isinstance(index, int) and index < len(types) and types[index] == "sliding_attention":
            window = getattr(config, "sliding_window", None)
    if not isinstance(window, int) or isinstance(window, bool) or window <= 0:
        return None
    causal = kwargs.get("is_causal")
    if causal is None:
        causal = getattr(module, "is_causal", True)
    return (-(window - 1), 0) if causal else (-(window - 1), window - 1)
