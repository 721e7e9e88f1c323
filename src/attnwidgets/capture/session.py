"""``capture(model)``: a context manager that records what a model computes, then cleans up."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import torch

from ..records import AttentionRecord
from . import hf_interface
from .sdpa_mode import ModulePathStack, SdpaRecordingMode


class CaptureError(RuntimeError):
    """The capture could not see what was asked for; the message says what was tried."""


class Capture:
    """What one ``capture(model)`` block recorded.

    ``attention`` is the record of a single sequence; ``attentions`` has one record per batch
    item. Each layer is ``[heads, query, key]`` float32, in call order, named by module path.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self._names = {module: path for path, module in model.named_modules()}
        self._calls: list[tuple[str, torch.Tensor]] = []
        self.used_interface = False
        self.sdpa_calls_seen = 0

    def record_attention(self, module: torch.nn.Module, weights: torch.Tensor) -> None:
        name = self._names.get(module, type(module).__name__)
        kept = weights.detach().to("cpu", torch.float32)
        if kept.dim() == 3:
            kept = kept.unsqueeze(0)
        self._calls.append((name, kept))

    @property
    def layer_names(self) -> list[str]:
        """Module path of each recorded attention call, e.g. ``transformer.h.3.attn``."""
        return [name for name, _ in self._calls]

    @property
    def attentions(self) -> list[AttentionRecord]:
        """One record per batch item: ``[layers][heads, query, key]``."""
        self._require_attention()
        batch = self._calls[0][1].shape[0]
        return [
            AttentionRecord([w[i].numpy() for _, w in self._calls], self.layer_names)
            for i in range(batch)
        ]

    @property
    def attention(self) -> AttentionRecord:
        """The record of the only sequence in the batch (see ``attentions`` for batches)."""
        records = self.attentions
        if len(records) != 1:
            raise ValueError(
                f"the captured batch holds {len(records)} sequences; "
                "pick one with cap.attentions[i]"
            )
        return records[0]

    def _require_attention(self) -> None:
        if self._calls:
            return
        interface = (
            "used, but no attention module called it"
            if self.used_interface
            else "not available for this model"
        )
        raise CaptureError(
            f"no attention was captured from {type(self.model).__name__}. Tried: transformers' "
            f"AttentionInterface ({interface}); scaled_dot_product_attention calls inside the "
            f"model ({self.sdpa_calls_seen} seen). Run the model inside the `with` block, or, "
            "if its attention is hand-written (matmul + softmax), load it with "
            "attn_implementation='eager' or 'sdpa'."
        )


@contextmanager
def capture(model: torch.nn.Module) -> Iterator[Capture]:
    """Record the attention of every forward pass of ``model`` run inside the block.

    Works on any ``torch.nn.Module``: Hugging Face models (on sdpa or eager) through
    transformers' AttentionInterface, plain PyTorch through ``scaled_dot_product_attention``.
    The model is restored on exit, even when the forward raises: hooks removed, attention
    implementation restored, outputs unchanged.

    Example:
        >>> import torch, attnwidgets as aw
        >>> from transformers import GPT2Config, GPT2Model
        >>> model = GPT2Model(GPT2Config(n_layer=2, n_head=2, n_embd=16, vocab_size=50))
        >>> with aw.capture(model) as cap:
        ...     _ = model(torch.tensor([[1, 2, 3]]))
        >>> cap.attention.shape
        (2, 2, 3, 3)
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"capture() takes a torch.nn.Module, not {type(model).__name__}")
    cap = Capture(model)
    with ExitStack() as stack:
        cap.used_interface = stack.enter_context(hf_interface.recording(model, cap))
        paths = stack.enter_context(ModulePathStack(model).hooked())
        mode = SdpaRecordingMode(cap, paths)
        stack.enter_context(mode)
        try:
            yield cap
        finally:
            cap.sdpa_calls_seen = mode.calls_seen
