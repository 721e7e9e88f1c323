"""Recording through Hugging Face transformers' AttentionInterface.

We register two attention functions, ``attnwidgets_sdpa`` and ``attnwidgets_eager``, each with
the mask function of the implementation it wraps, and switch a model's configs to them only for
the duration of a capture. Each function runs the original kernel for the output (so outputs stay
identical) and hands the attention probabilities to whichever captures watch the module.
"""

from __future__ import annotations

import contextvars
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol
from weakref import WeakKeyDictionary

import torch

from .weights import attention_probabilities

SDPA_NAME = "attnwidgets_sdpa"
EAGER_NAME = "attnwidgets_eager"
OUR_NAMES = (SDPA_NAME, EAGER_NAME)

# True while one of our functions runs the wrapped kernel, so the sdpa fallback does not
# record the same attention twice.
inside_interface: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "attnwidgets_inside_interface", default=False
)


class AttentionSink(Protocol):
    def record_attention(self, module: torch.nn.Module, weights: torch.Tensor) -> None: ...


# attention module -> captures watching it (a model can be captured by nested captures).
_watchers: WeakKeyDictionary[torch.nn.Module, list[AttentionSink]] = WeakKeyDictionary()
_registered = False


def _register() -> None:
    global _registered
    if _registered:
        return
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask, sdpa_mask

    AttentionInterface.register(SDPA_NAME, _recording_sdpa)
    AttentionInterface.register(EAGER_NAME, _recording_eager)
    AttentionMaskInterface.register(SDPA_NAME, sdpa_mask)
    AttentionMaskInterface.register(EAGER_NAME, eager_mask)
    _registered = True


def _notify(module: torch.nn.Module, weights: torch.Tensor) -> None:
    for sink in _watchers.get(module, ()):
        sink.record_attention(module, weights)


def _run_kernel(kernel: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    token = inside_interface.set(True)
    try:
        return kernel(*args, **kwargs)
    finally:
        inside_interface.reset(token)


def _recording_sdpa(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    output, weights = _run_kernel(
        sdpa_attention_forward, module, query, key, value, attention_mask, **kwargs
    )
    if module in _watchers:
        _notify(module, _sdpa_weights(module, query, key, attention_mask, kwargs))
    return output, weights


def _sdpa_weights(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    attention_mask: torch.Tensor | None,
    kwargs: dict[str, Any],
) -> torch.Tensor:
    """The probabilities ``sdpa_attention_forward`` computes implicitly, following its rules."""
    q_len, kv_len = query.shape[2], key.shape[2]
    causal_flag = kwargs.get("is_causal")
    if causal_flag is None:
        causal_flag = getattr(module, "is_causal", True)
    is_causal = bool(q_len > 1 and attention_mask is None and causal_flag)
    bias = kwargs.get("position_bias")
    if is_causal and kv_len > q_len:
        key = key[:, :, :q_len]
        bias = None if bias is None else bias[..., :q_len]
    return attention_probabilities(
        query,
        key,
        attn_mask=attention_mask,
        is_causal=is_causal,
        scale=kwargs.get("scaling"),
        bias=bias,
    )


def _recording_eager(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    kernel = getattr(sys.modules[type(module).__module__], "eager_attention_forward", None)
    if kernel is None:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        kernel = sdpa_attention_forward
    output, weights = _run_kernel(kernel, module, query, key, value, attention_mask, **kwargs)
    if module in _watchers:
        if weights is None:
            weights = _sdpa_weights(module, query, key, attention_mask, kwargs)
        _notify(module, weights.detach())
    return output, weights


def _configs(model: torch.nn.Module) -> list[Any]:
    """Every distinct config object reachable from the model's modules (model and sub-models)."""
    seen: dict[int, Any] = {}
    for module in model.modules():
        config = getattr(module, "config", None)
        if config is not None and hasattr(config, "_attn_implementation_internal"):
            seen.setdefault(id(config), config)
            for key in getattr(config, "sub_configs", {}):
                sub = getattr(config, key, None)
                if sub is not None and hasattr(sub, "_attn_implementation_internal"):
                    seen.setdefault(id(sub), sub)
    return list(seen.values())


def supports_interface(model: torch.nn.Module) -> bool:
    """True when the model dispatches attention through transformers' AttentionInterface."""
    can_set = getattr(type(model), "_can_set_attn_implementation", None)
    if can_set is None:
        return False
    try:
        return bool(can_set())
    except Exception:  # a heuristic that reads source code; never let it break a capture
        return False


@contextmanager
def recording(model: torch.nn.Module, sink: AttentionSink) -> Iterator[bool]:
    """Route the model's attention through our recording functions; restore on exit.

    Yields whether the interface is in use (False for models that do not dispatch through it).
    """
    if "transformers" not in sys.modules or not supports_interface(model):
        yield False
        return
    _register()
    originals = [(config, config._attn_implementation_internal) for config in _configs(model)]
    modules = list(model.modules())
    try:
        for config, implementation in originals:
            if implementation in OUR_NAMES:
                continue
            wrapped = EAGER_NAME if implementation == "eager" else SDPA_NAME
            config._attn_implementation_internal = wrapped
        for module in modules:
            _watchers.setdefault(module, []).append(sink)
        yield True
    finally:
        for module in modules:
            sinks = _watchers.get(module)
            if sinks is not None:
                if sink in sinks:
                    sinks.remove(sink)
                if not sinks:
                    del _watchers[module]
        for config, implementation in originals:
            config._attn_implementation_internal = implementation
