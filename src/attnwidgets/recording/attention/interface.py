"""Recording through Hugging Face transformers' AttentionInterface.

We register two attention functions, ``attnwidgets_sdpa`` and ``attnwidgets_eager``, each with
the mask function of the implementation it wraps, and switch a model's configs to them only for
the duration of a capture. Each function runs the original kernel for the output (so outputs stay
identical) and hands the attention steps to the captures that watch the module.

Which captures are active lives in a context variable, not in module state: two captures on two
models, or nested captures on one model, each see only their own modules; another thread (the
live box's) sees none of them. The switch of a config is counted per config object: the first
capture switches it, the last one to leave restores it, in whatever order they leave.
"""

from __future__ import annotations

import contextvars
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import torch

from .admission import CallShape
from .calls import CallInfo, call_window
from .qk_capture import QKInputs, flash_forward
from .recompute import attention_steps

SDPA_NAME = "attnwidgets_sdpa"
EAGER_NAME = "attnwidgets_eager"
OUR_NAMES = (SDPA_NAME, EAGER_NAME)

# True while one of our functions runs the wrapped kernel, so the sdpa and softmax fallbacks do
# not record the same attention twice.
inside_interface: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "attnwidgets_inside_interface", default=False
)


class AttentionSink(Protocol):
    reuse_weights: bool  # compute outputs from the recorded weights instead of running sdpa

    def kinds_for(self, module: torch.nn.Module) -> frozenset[str]:
        """The attention steps wanted from this module; empty when it is not watched."""
        ...

    def admit(self, module: torch.nn.Module, query: torch.Tensor, shape: CallShape) -> None:
        """Raise before anything is computed when the call cannot be recorded (meta, complex,
        empty) or its records would exceed the capture's memory budget."""
        ...

    def record_attention(
        self, module: torch.nn.Module, steps: dict[str, torch.Tensor], source: str
    ) -> None: ...

    def wants_inputs(self, module: torch.nn.Module) -> bool:
        """True when Q, K, V and the head outputs of this module are wanted (``qkv=True``)."""
        ...

    def record_call(self, module: torch.nn.Module, info: CallInfo) -> None:
        """What the call was given (window, and with ``qkv`` the tensors)."""
        ...

    def wants_qk(self, module: torch.nn.Module) -> bool:
        """True when this module's Q, K and row log-sum-exp are wanted (``attention="qk"``)."""
        ...

    def record_qk(self, module: torch.nn.Module, inputs: QKInputs) -> None:
        """Keep the call's Q, K, mask rule and log-sum-exp (``attention="qk"``)."""
        ...

    def refuse_qk(self, module: torch.nn.Module, why: str) -> None:
        """This module's attention has no Q/K form (``why``): reading the capture says so."""
        ...


active_sinks: contextvars.ContextVar[tuple[AttentionSink, ...]] = contextvars.ContextVar(
    "attnwidgets_active_sinks", default=()
)


class _WatchedModules:
    """Read-only view: ``module in _watchers`` is True while an active capture watches it."""

    def __contains__(self, module: object) -> bool:
        if not isinstance(module, torch.nn.Module):
            return False
        return any(
            sink.kinds_for(module) or sink.wants_inputs(module) or sink.wants_qk(module)
            for sink in active_sinks.get()
        )


_watchers = _WatchedModules()


@contextmanager
def activated(sink: AttentionSink) -> Iterator[None]:
    """Make ``sink`` visible to the recording functions for the duration of the block."""
    active_sinks.set((*active_sinks.get(), sink))
    try:
        yield
    finally:  # not reset(token): captures may leave in any order
        active_sinks.set(tuple(s for s in active_sinks.get() if s is not sink))


def wanted(
    module: torch.nn.Module, query: torch.Tensor, keys: int
) -> list[tuple[AttentionSink, frozenset[str]]]:
    """The active captures that watch ``module``, with the steps each one wants (empty for a
    capture that wants only Q, K and V, or Q/K records); each that records weights has admitted
    the call (``query`` and ``keys`` give its shape)."""
    found = []
    for sink in active_sinks.get():
        kinds = sink.kinds_for(module)
        if kinds:
            sink.admit(module, query, CallShape.of(query, keys))
        if kinds or sink.wants_inputs(module) or sink.wants_qk(module):
            found.append((sink, kinds))
    return found


def _split_qk(
    module: torch.nn.Module, watchers: list[tuple[AttentionSink, frozenset[str]]]
) -> tuple[list[AttentionSink], list[tuple[AttentionSink, frozenset[str]]]]:
    """The captures that keep Q/K records of ``module``, and those that want the rest."""
    qk = [sink for sink, _ in watchers if sink.wants_qk(module)]
    rest = [(s, k) for s, k in watchers if k or s.wants_inputs(module)]
    return qk, rest


def notify(
    module: torch.nn.Module,
    watchers: list[tuple[AttentionSink, frozenset[str]]],
    steps: dict[str, torch.Tensor],
    source: str,
) -> None:
    for sink, kinds in watchers:
        if kinds:
            sink.record_attention(module, {k: v for k, v in steps.items() if k in kinds}, source)


def notify_call(
    module: torch.nn.Module, watchers: list[tuple[AttentionSink, frozenset[str]]], info: CallInfo
) -> None:
    for sink, _ in watchers:
        sink.record_call(module, info)


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask, sdpa_mask

    if SDPA_NAME in AttentionInterface._global_mapping:
        return
    AttentionInterface.register(SDPA_NAME, _recording_sdpa)
    AttentionInterface.register(EAGER_NAME, _recording_eager)
    AttentionMaskInterface.register(SDPA_NAME, sdpa_mask)
    AttentionMaskInterface.register(EAGER_NAME, eager_mask)


def _run_kernel(kernel: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``kernel`` unseen by the capture's fallbacks (they would record it twice)."""
    token = inside_interface.set(True)
    try:
        return kernel(*args, **kwargs)
    finally:
        inside_interface.reset(token)


def unseen(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run the capture's own arithmetic with torch-function handling off: no mode (ours, whose
    fallbacks watch the model, or the user's) sees it, and none charges its few microseconds per
    operation to it (hundreds of operations per layer)."""
    with torch._C.DisableTorchFunction():
        return function(*args, **kwargs)


def _recording_sdpa(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    watchers = wanted(module, query, key.shape[-2])
    qk, rest = _split_qk(module, watchers)
    if qk:  # the CPU flash kernel gives each row's log-sum-exp beside the same output
        fast = _run_kernel(flash_forward, module, query, key, value, attention_mask, kwargs)
        if fast is None:
            output, weights = _run_kernel(
                sdpa_attention_forward, module, query, key, value, attention_mask, **kwargs
            )
        else:
            output, weights = fast[0].transpose(1, 2).contiguous(), None  # as sdpa's path
        inputs = QKInputs(query, key, attention_mask, kwargs, None if fast is None else fast[1])
        for sink in qk:
            unseen(sink.record_qk, module, inputs)
        if rest:
            _notify_all(module, rest, query, key, value, output, attention_mask, kwargs)
        return output, weights
    if watchers and all(sink.reuse_weights for sink, _ in watchers) and not kwargs.get("dropout"):
        kinds = frozenset({"probability"}).union(*(k for _, k in watchers))
        steps = unseen(_sdpa_steps, module, query, key, attention_mask, kwargs, kinds, value)
        output = steps.pop("output", None)
        if output is not None:  # sdpa skipped: the output comes from the recorded weights
            unseen(notify, module, watchers, steps, "interface")
            info = unseen(_call_info, module, query, key, value, output, attention_mask, kwargs)
            unseen(notify_call, module, watchers, info)
            return output.transpose(1, 2).contiguous(), None
    output, weights = _run_kernel(
        sdpa_attention_forward, module, query, key, value, attention_mask, **kwargs
    )
    if watchers:
        _notify_all(module, watchers, query, key, value, output, attention_mask, kwargs)
    return output, weights


def _notify_all(
    module: torch.nn.Module,
    watchers: list[tuple[AttentionSink, frozenset[str]]],
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    output: torch.Tensor,
    attention_mask: torch.Tensor | None,
    kwargs: dict[str, Any],
    weights: torch.Tensor | None = None,
) -> None:
    """Hand the steps (recomputed; eager ``weights`` as the probabilities when given) and the
    call itself to every capture watching ``module``. ``output`` is ``[batch, Q, heads, d]``."""
    kinds = frozenset().union(*(k for _, k in watchers))
    if kinds:
        steps: dict[str, torch.Tensor] = {}
        if kinds - {"probability"} or weights is None:
            steps = unseen(_sdpa_steps, module, query, key, attention_mask, kwargs, kinds)
        if weights is not None and "probability" in kinds:
            steps["probability"] = weights.detach()  # the model's own eager weights
        unseen(notify, module, watchers, steps, "interface")
    heads_output = output.transpose(1, 2) if output.dim() == 4 else None
    info = unseen(_call_info, module, query, key, value, heads_output, attention_mask, kwargs)
    unseen(notify_call, module, watchers, info)


def _normalised(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    attention_mask: torch.Tensor | None,
    kwargs: dict[str, Any],
) -> tuple[torch.Tensor, torch.Tensor | None, bool, torch.Tensor | None]:
    """``key``, mask, ``is_causal`` and position bias as ``sdpa_attention_forward`` uses them."""
    q_len, kv_len = query.shape[2], key.shape[2]
    causal_flag = kwargs.get("is_causal")
    if causal_flag is None:
        causal_flag = getattr(module, "is_causal", True)
    is_causal = bool(q_len > 1 and attention_mask is None and causal_flag)
    bias = kwargs.get("position_bias")
    if is_causal and kv_len > q_len:
        key = key[:, :, :q_len]
        bias = None if bias is None else bias[..., :q_len]
    if attention_mask is not None and attention_mask.shape[-1] != key.shape[-2]:
        attention_mask = attention_mask[..., : key.shape[-2]]
    return key, attention_mask, is_causal, bias


def _call_info(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    output: torch.Tensor | None,
    attention_mask: torch.Tensor | None,
    kwargs: dict[str, Any],
) -> CallInfo:
    """The call as a ``CallInfo`` (``output`` ``[batch, heads, Q, d]``), by sdpa's rules."""
    key, mask, is_causal, bias = _normalised(module, query, key, attention_mask, kwargs)
    return CallInfo(
        query, key, value, output, attn_mask=mask, is_causal=is_causal,
        scale=kwargs.get("scaling"), softcap=kwargs.get("softcap"), bias=bias,
        window=call_window(module, kwargs),
    )  # fmt: skip


def _sdpa_steps(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    attention_mask: torch.Tensor | None,
    kwargs: dict[str, Any],
    kinds: frozenset[str],
    value: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """The steps ``sdpa_attention_forward`` (or eager) computes, following its rules; with
    ``value``, also ``"output"`` where ``attention_steps`` can weigh the values."""
    key, attention_mask, is_causal, bias = _normalised(module, query, key, attention_mask, kwargs)
    return attention_steps(
        query,
        key,
        kinds=kinds,
        attn_mask=attention_mask,
        is_causal=is_causal,
        scale=kwargs.get("scaling"),
        bias=bias,
        softcap=kwargs.get("softcap"),
        value=value,
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
    watchers = wanted(module, query, key.shape[-2])
    output, weights = _run_kernel(kernel, module, query, key, value, attention_mask, **kwargs)
    qk, rest = _split_qk(module, watchers)
    for sink in qk:  # the eager kernel gives no log-sum-exp: computed when the record is read
        unseen(sink.record_qk, module, QKInputs(query, key, attention_mask, kwargs, None))
    if rest:
        _notify_all(module, rest, query, key, value, output, attention_mask, kwargs, weights)
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


# id(config) -> [config, its own implementation, captures using it]; entries live only while
# a capture holds the config, so nothing here outlives the captures.
_switched: dict[int, list[Any]] = {}
_switch_lock = threading.Lock()


def _switch(config: Any) -> None:
    with _switch_lock:
        entry = _switched.get(id(config))
        if entry is None:
            implementation = config._attn_implementation_internal
            entry = _switched[id(config)] = [config, implementation, 0]
            if implementation not in OUR_NAMES:
                wrapped = EAGER_NAME if implementation == "eager" else SDPA_NAME
                config._attn_implementation_internal = wrapped
        entry[2] += 1


def _restore(config: Any) -> None:
    with _switch_lock:
        entry = _switched.get(id(config))
        if entry is None:
            return
        entry[2] -= 1
        if entry[2] == 0:
            config._attn_implementation_internal = entry[1]
            del _switched[id(config)]


@contextmanager
def recording(model: torch.nn.Module) -> Iterator[bool]:
    """Route the model's attention through our recording functions; restore on exit.

    Yields whether the interface is in use (False for models that do not dispatch through it).
    Counted per config: the implementation comes back when the last capture of the model
    leaves, in any order, on any thread.

    Example:
        >>> from transformers import GPT2Config, GPT2Model
        >>> model = GPT2Model(GPT2Config(n_layer=1, n_head=2, n_embd=8, vocab_size=10))
        >>> first, second = recording(model), recording(model)
        >>> first.__enter__(), second.__enter__(), model.config._attn_implementation
        (True, True, 'attnwidgets_sdpa')
        >>> _ = first.__exit__(None, None, None); model.config._attn_implementation
        'attnwidgets_sdpa'
        >>> _ = second.__exit__(None, None, None); model.config._attn_implementation
        'sdpa'
    """
    if "transformers" not in sys.modules or not supports_interface(model):
        yield False
        return
    _register()
    switched: list[Any] = []
    try:
        for config in _configs(model):
            _switch(config)
            switched.append(config)
        yield True
    finally:
        for config in switched:
            _restore(config)
