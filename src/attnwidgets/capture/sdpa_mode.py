"""Recording plain PyTorch code that calls ``scaled_dot_product_attention``.

A ``TorchFunctionMode`` sees the call whether the code wrote ``F.scaled_dot_product_attention``
or imported the function by name (nanoGPT style), which patching the attribute would miss.
Module paths come from forward hooks that keep a stack of the modules currently running.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils.hooks import RemovableHandle

from .hf_interface import AttentionSink, inside_interface
from .weights import attention_probabilities

_SDPA_PARAMETERS = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale")


class ModulePathStack:
    """The dotted paths of the modules running right now, innermost last."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self.paths: list[str] = []
        self.modules: list[torch.nn.Module] = []

    @contextmanager
    def hooked(self) -> Iterator[ModulePathStack]:
        handles: list[RemovableHandle] = []
        try:
            for path, module in self.model.named_modules():
                handles.append(module.register_forward_pre_hook(self._enter_hook(path)))
                handles.append(module.register_forward_hook(self._exit, always_call=True))
            yield self
        finally:
            for handle in handles:
                handle.remove()
            self.paths.clear()
            self.modules.clear()

    def _enter_hook(self, path: str) -> Any:
        def enter(module: torch.nn.Module, args: Any) -> None:
            self.paths.append(path)
            self.modules.append(module)

        return enter

    def _exit(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        if self.modules and self.modules[-1] is module:
            self.paths.pop()
            self.modules.pop()


class SdpaRecordingMode(TorchFunctionMode):
    """Records the probabilities of every sdpa call made inside the watched model."""

    def __init__(self, sink: AttentionSink, stack: ModulePathStack) -> None:
        super().__init__()
        self.sink = sink
        self.stack = stack
        self.calls_seen = 0

    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None
    ) -> Any:
        kwargs = kwargs or {}
        if (
            func is F.scaled_dot_product_attention
            and self.stack.modules
            and not inside_interface.get()
        ):
            self.calls_seen += 1
            self.sink.record_attention(self.stack.modules[-1], _sdpa_call_weights(args, kwargs))
        return func(*args, **kwargs)


def _sdpa_call_weights(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor:
    bound = dict(zip(_SDPA_PARAMETERS, args, strict=False))
    bound.update(kwargs)
    return attention_probabilities(
        bound["query"],
        bound["key"],
        attn_mask=bound.get("attn_mask"),
        is_causal=bool(bound.get("is_causal", False)),
        scale=bound.get("scale"),
    )
