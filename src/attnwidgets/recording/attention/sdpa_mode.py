"""Recording plain PyTorch attention: sdpa, ``nn.MultiheadAttention``, hand-written softmax.

A ``TorchFunctionMode`` sees ``scaled_dot_product_attention`` whether the code wrote
``F.scaled_dot_product_attention`` or imported the function by name (nanoGPT style), which
patching the attribute would miss. It also sees ``F.multi_head_attention_forward`` (see
``mha.py``) and, as the last fallback for hand-written attention (BLOOM's ALiBi, MPT, nanoGPT's
manual path), a softmax over the last dimension of a ``[batch, heads, query, key]`` tensor.
Module paths come from forward hooks that keep a stack of the modules currently running on the
capture's own thread (hooks are global to a module; other threads' calls are not ours, and the
mode itself is thread-local in torch).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils.hooks import RemovableHandle

from .admission import CallShape
from .calls import CallInfo
from .interface import AttentionSink, inside_interface, unseen
from .mha import call_shape, call_with_head_weights
from .qk_capture import QKInputs, flash_forward
from .recompute import attention_steps

_SDPA_PARAMETERS = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale")
_SOFTMAX_FUNCTIONS = (torch.softmax, F.softmax, torch.Tensor.softmax, torch.special.softmax)
_WATCHED = frozenset(
    (F.scaled_dot_product_attention, F.multi_head_attention_forward, *_SOFTMAX_FUNCTIONS)
)


_BUILDING_BLOCKS = ("torch.nn.modules.", "transformers.pytorch_utils", "transformers.activations")
_ATTENTION_LEAVES = (torch.nn.Softmax, torch.nn.Softmin, torch.nn.LogSoftmax, torch.nn.Softmax2d)


def may_run_attention(module: torch.nn.Module) -> bool:
    """False for a childless torch or transformers building block (Linear, Conv1D, Dropout,
    LayerNorm, Embedding, activations): they never run attention, and a hook on each of them
    costs a slower module call. Softmax modules and anything with children or from user code
    count.

    Example:
        >>> may_run_attention(torch.nn.Linear(2, 2)), may_run_attention(torch.nn.Softmax(-1))
        (False, True)
        >>> may_run_attention(torch.nn.MultiheadAttention(4, 2))
        True
    """
    if isinstance(module, _ATTENTION_LEAVES) or next(module.children(), None) is not None:
        return True
    return not type(module).__module__.startswith(_BUILDING_BLOCKS)


class ModulePathStack:
    """The modules running right now, innermost last, and how many top-level calls began.

    Only modules that may run attention (and the model itself) are hooked, and only the model
    when no attention is recorded (``every_module=False``: counting forwards and naming a
    failure need no more); when a forward raises, ``failed`` names the innermost module of the
    model on the traceback. Only calls on ``thread`` (the capturing thread) count; a new call of
    the model itself starts a new stack (what a KeyboardInterrupt left, no hook saw leave).
    """

    def __init__(self, model: torch.nn.Module, thread: int | None = None) -> None:
        self.model = model
        self.thread = threading.get_ident() if thread is None else thread
        self.modules: list[torch.nn.Module] = []
        self.forward_count = 0
        self.failed: str | None = None  # "path (Class)" of the innermost module that raised

    @contextmanager
    def hooked(self, every_module: bool = True) -> Iterator[ModulePathStack]:
        handles: list[RemovableHandle] = []
        modules = self.model.modules() if every_module else [self.model]
        try:
            for module in modules:
                if module is self.model or may_run_attention(module):
                    handles.append(module.register_forward_pre_hook(self._enter))
                    handles.append(module.register_forward_hook(self._exit, always_call=True))
            yield self
        finally:
            for handle in handles:
                handle.remove()
            self.modules.clear()

    def _enter(self, module: torch.nn.Module, args: Any) -> None:
        if threading.get_ident() != self.thread:
            return
        if module is self.model:
            self.modules.clear()
        if not self.modules:
            self.forward_count += 1
        self.modules.append(module)

    def _exit(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        if threading.get_ident() != self.thread:
            return
        if self.failed is None and sys.exc_info()[0] is not None:
            self.failed = self._innermost_failing(module)
        if self.modules and self.modules[-1] is module:
            self.modules.pop()

    def _innermost_failing(self, module: torch.nn.Module) -> str:
        """``"path (Class)"`` of the deepest module of the model on the raised traceback."""
        paths = {id(m): path for path, m in self.model.named_modules()}
        found, trace = module, sys.exc_info()[2]
        while trace is not None:
            candidate = trace.tb_frame.f_locals.get("self")
            if isinstance(candidate, torch.nn.Module) and id(candidate) in paths:
                found = candidate
            trace = trace.tb_next
        return f"{paths.get(id(found)) or '<model>'} ({type(found).__name__})"


class RecordingMode(TorchFunctionMode):
    """Records the attention of sdpa, multi-head attention and softmax calls inside the model."""

    def __init__(self, sink: AttentionSink, stack: ModulePathStack) -> None:
        super().__init__()
        self.sink = sink
        self.stack = stack
        self.calls_seen = 0

    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None
    ) -> Any:
        kwargs = kwargs or {}
        if func not in _WATCHED or not self.stack.modules or inside_interface.get():
            return func(*args, **kwargs)  # most calls: one set lookup, nothing else
        module = self.stack.modules[-1]
        if isinstance(module, torch.nn.Softmax) and len(self.stack.modules) > 1:
            module = self.stack.modules[-2]  # an nn.Softmax child: name the attention module
        if func is F.scaled_dot_product_attention:
            self.calls_seen += 1
            if self.sink.wants_qk(module):
                return self._sdpa_qk(module, func, args, kwargs)
            kinds = self.sink.kinds_for(module)
            if kinds or self.sink.wants_inputs(module):
                return self._sdpa(module, func, args, kwargs, kinds)
        elif func is F.multi_head_attention_forward:
            self.calls_seen += 1
            if self.sink.wants_qk(module):
                why = "nn.MultiheadAttention projects Q and K inside its own kernel"
                unseen(self.sink.refuse_qk, module, why)
            kinds = self.sink.kinds_for(module)
            inputs = self.sink.wants_inputs(module)
            if kinds:
                self.sink.admit(module, *call_shape(args, kwargs))
            if kinds or inputs:
                result, steps, info = call_with_head_weights(func, args, kwargs, kinds, inputs)
                if steps:
                    unseen(self.sink.record_attention, module, steps, "mha")
                if info is not None:
                    unseen(self.sink.record_call, module, info)
                return result
        elif func in _SOFTMAX_FUNCTIONS:
            return self._softmax(module, func, args, kwargs)
        return func(*args, **kwargs)

    def _sdpa(
        self,
        module: torch.nn.Module,
        func: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        kinds: frozenset[str],
    ) -> Any:
        bound = dict(zip(_SDPA_PARAMETERS, args, strict=False))
        bound.update(kwargs)
        query = bound["query"]
        self.sink.admit(module, query, CallShape.of(query, bound["key"].shape[-2]))
        reuse = self.sink.reuse_weights and not bound.get("dropout_p")
        steps: dict[str, torch.Tensor] = {}
        if kinds:
            steps = unseen(_sdpa_steps, bound, kinds | {"probability"} if reuse else kinds, reuse)
        output = steps.pop("output", None)
        if output is None:
            output = func(*args, **kwargs)
        if kinds:
            unseen(self.sink.record_attention, module, {k: steps[k] for k in kinds}, "sdpa")
        unseen(self.sink.record_call, module, _sdpa_info(bound, output))
        return output

    def _sdpa_qk(
        self, module: torch.nn.Module, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """A plain ``scaled_dot_product_attention`` call kept as Q and K: the CPU flash kernel
        gives the same output and each row's log-sum-exp where sdpa would run it."""
        bound = dict(zip(_SDPA_PARAMETERS, args, strict=False))
        bound.update(kwargs)
        query, key, value = bound["query"], bound["key"], bound["value"]
        call = {"scaling": bound.get("scale"), "is_causal": bool(bound.get("is_causal"))}
        if bound.get("dropout_p"):
            call["dropout"] = bound["dropout_p"]
        if bound.get("enable_gqa"):
            call["enable_gqa"] = True
        fast = None
        if query.dim() == 4 and (query.shape[1] == key.shape[1] or call.get("enable_gqa")):
            fast = flash_forward(_GROUPS, query, key, value, bound.get("attn_mask"), call)
        output = func(*args, **kwargs) if fast is None else fast[0]
        lse = None if fast is None else fast[1]
        inputs = QKInputs(query, key, bound.get("attn_mask"), call, lse)
        unseen(self.sink.record_qk, module, inputs)
        return output

    def _softmax(
        self, module: torch.nn.Module, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        output = func(*args, **kwargs)
        scores = args[0] if args else kwargs.get("input")
        dim = args[1] if len(args) > 1 else kwargs.get("dim")
        if not isinstance(output, torch.Tensor) or dim not in (-1, output.dim() - 1):
            return output
        shape = output.shape  # [batch, heads, query, key], or [batch * heads, query, key]
        if output.dim() == 3:  # the bmm style of BART-era code (XGLM, FSMT, MVP, TrOCR, LED)
            heads = _heads_of(module, output.shape[0])
            if heads is None:
                return output
            shape = torch.Size((output.shape[0] // heads, heads, *output.shape[1:]))
        elif output.dim() != 4:
            return output
        if self.sink.wants_qk(module):
            self.calls_seen += 1
            why = "its attention is a hand-written softmax: no Q and K reach a kernel"
            unseen(self.sink.refuse_qk, module, why)
        kinds = self.sink.kinds_for(module)
        if not kinds:
            return output
        self.calls_seen += 1
        self.sink.admit(module, output, CallShape(*shape))
        unseen(self._record_softmax, module, kinds, output, scores, shape)
        return output

    def _record_softmax(
        self,
        module: torch.nn.Module,
        kinds: frozenset[str],
        output: torch.Tensor,
        scores: Any,
        shape: torch.Size,
    ) -> None:
        steps = {"probability": output.detach().reshape(shape)}
        if "masked" in kinds and isinstance(scores, torch.Tensor):
            masked = scores.detach().float().reshape(shape)
            steps["masked"] = masked.masked_fill(
                masked <= torch.finfo(scores.dtype).min / 2, float("-inf")
            )
        self.sink.record_attention(module, steps, "softmax")


class _Groups(torch.nn.Module):
    """What ``flash_forward`` reads of a module: plain sdpa calls say ``enable_gqa``."""

    num_key_value_groups = 2


_GROUPS = _Groups()


def _heads_of(module: torch.nn.Module, rows: int) -> int | None:
    """The head count of an attention module whose 3-D softmax has ``rows`` = batch x heads."""
    name = type(module).__name__
    if "Attention" not in name and "Attn" not in name:
        return None
    for attribute in ("num_heads", "num_attention_heads", "n_heads", "n_head", "num_attn_heads"):
        heads = getattr(module, attribute, None)
        if isinstance(heads, int) and heads > 0 and rows % heads == 0:
            return heads
    return None


def _sdpa_info(bound: dict[str, Any], output: Any) -> CallInfo:
    """One ``scaled_dot_product_attention`` call as a ``CallInfo`` (unbatched calls get a
    batch of one)."""
    query, key, value = bound["query"], bound["key"], bound["value"]
    if query.dim() == 3:
        query, key, value = query[None], key[None], value[None]
        output = output[None] if isinstance(output, torch.Tensor) else output
    return CallInfo(
        query, key, value, output if isinstance(output, torch.Tensor) else None,
        attn_mask=bound.get("attn_mask"), is_causal=bool(bound.get("is_causal", False)),
        scale=bound.get("scale"),
    )  # fmt: skip


def _sdpa_steps(
    bound: dict[str, Any], kinds: frozenset[str], with_output: bool = False
) -> dict[str, torch.Tensor]:
    """The steps of one sdpa call; with ``with_output``, also its ``"output"`` where the
    recorded weights can give it."""
    return attention_steps(
        bound["query"],
        bound["key"],
        kinds=kinds,
        attn_mask=bound.get("attn_mask"),
        is_causal=bool(bound.get("is_causal", False)),
        scale=bound.get("scale"),
        value=bound["value"] if with_output else None,
    )
