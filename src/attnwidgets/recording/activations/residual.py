"""Residual stream and MLP / attention outputs per block, on request (``residual=True``).

Forward hooks on each block (``hook_resid_pre`` is its input hidden states,
``hook_resid_post`` its output) and on its attention and MLP modules (``hook_attn_out``,
``hook_mlp_out``). Tensors are copied to the CPU in the capture's dtype, keyed by
TransformerLens-style names; a later forward overwrites an earlier one. Only calls on the
thread that built the recorder (the capturing thread) are kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.utils.hooks import RemovableHandle

from ..aliases import find_blocks, resolve


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    return getattr(value, "last_hidden_state", None)


class ResidualRecorder:
    """``tensors["blocks.3.hook_resid_post"]``: ``[batch, seq, d_model]`` on the CPU.

    Example:
        >>> from transformers import GPT2Config, GPT2Model
        >>> m = GPT2Model(GPT2Config(n_layer=2, n_head=2, n_embd=8, vocab_size=10)).eval()
        >>> rec = ResidualRecorder(m, dtype=torch.float32, selected=lambda path: True)
        >>> with rec.hooked():
        ...     _ = m(torch.tensor([[1, 2, 3]]))
        >>> sorted(rec.tensors)[:2], rec.tensors["blocks.1.hook_resid_post"].shape
        (['blocks.0.hook_attn_out', 'blocks.0.hook_mlp_out'], torch.Size([1, 3, 8]))
    """

    def __init__(
        self, model: torch.nn.Module, *, dtype: torch.dtype, selected: Callable[[str], bool]
    ) -> None:
        self.model = model
        self.dtype = dtype
        self.thread = threading.get_ident()
        self.tensors: dict[str, torch.Tensor] = {}
        self.paths: dict[str, str] = {}  # alias -> module path
        self._targets: list[tuple[torch.nn.Module, int, str | None]] = []
        modules = dict(model.named_modules())
        blocks = find_blocks(model)
        if not blocks:
            raise ValueError(
                f"residual=True: {type(model).__name__} has no stack of attention blocks "
                "(an nn.ModuleList whose children hold attention modules)"
            )
        for index, (path, block) in enumerate(blocks):
            if not selected(path):
                continue
            self._targets.append((block, index, None))
            for hook in ("hook_attn_out", "hook_mlp_out"):
                try:
                    where = resolve(model, f"blocks.{index}.{hook}").path
                except KeyError:
                    continue  # e.g. BERT has no module called mlp: only the block hooks
                self._targets.append((modules[where], index, hook))
                self.paths[f"blocks.{index}.{hook}"] = where
            self.paths[f"blocks.{index}.hook_resid_pre"] = path
            self.paths[f"blocks.{index}.hook_resid_post"] = path

    @contextmanager
    def hooked(self) -> Iterator[ResidualRecorder]:
        handles: list[RemovableHandle] = []
        try:
            for module, index, hook in self._targets:
                handles.append(
                    module.register_forward_hook(self._hook(index, hook), with_kwargs=True)
                )
            yield self
        finally:
            for handle in handles:
                handle.remove()

    def _keep(self, name: str, value: Any) -> None:
        tensor = _first_tensor(value)
        if tensor is not None:
            self.tensors[name] = tensor.detach().to("cpu", self.dtype, copy=True)

    def _hook(self, index: int, hook: str | None) -> Callable[..., None]:
        def record(module: torch.nn.Module, args: Any, kwargs: Any, output: Any) -> None:
            if threading.get_ident() != self.thread:
                return
            if hook is not None:
                self._keep(f"blocks.{index}.{hook}", output)
                return
            source = args[0] if args else kwargs.get("hidden_states")
            self._keep(f"blocks.{index}.hook_resid_pre", source)
            self._keep(f"blocks.{index}.hook_resid_post", output)

        return record
