"""Attention modules whose softmax is not a ``[query, key]`` matrix, so nothing is recorded.

The softmax fallback records any ``[batch, heads, query, key]`` softmax. A few families compute
attention another way: a band of window offsets (Longformer, LED's encoder), blocks (BigBird's
block-sparse mode) or a low-rank approximation (Nystromformer). Their softmax has the right
rank but not that meaning, so recording it would draw a wrong picture. These modules record
nothing, and reading the capture raises a ``CaptureError`` that names each of them and why;
``layers=`` can leave them out. (Reformer's hashed and chunked attention calls no softmax at
all: the capture sees nothing there and says so.)
"""

from __future__ import annotations

import torch

_BANDED = (
    "sliding-window attention: its softmax runs over [batch, query, heads, window offsets] "
    "(a band around each token plus global tokens), not over a query x key matrix"
)
_BLOCK_SPARSE = (
    "block-sparse attention: softmax over gathered blocks of keys, never a full query x key "
    "matrix (attention_type='original_full' is recorded)"
)
_WHY: dict[str, str] = {
    "LongformerSelfAttention": _BANDED,
    "LEDEncoderSelfAttention": _BANDED,
    "BigBirdBlockSparseAttention": _BLOCK_SPARSE,
    "BigBirdPegasusBlockSparseAttention": _BLOCK_SPARSE,
    "NystromformerSelfAttention": (
        "Nystrom approximation: three softmax kernels through landmarks, no query x key matrix "
        "(recorded only when num_landmarks equals segment_means_seq_len)"
    ),
}


def why_unsupported(module: torch.nn.Module) -> str | None:
    """Why ``module``'s attention cannot be recorded as a matrix, or None when it can.

    Example:
        >>> from transformers import LongformerConfig, LongformerModel
        >>> model = LongformerModel(LongformerConfig(num_hidden_layers=1, hidden_size=16,
        ...     num_attention_heads=2, intermediate_size=32, vocab_size=30, attention_window=4))
        >>> why_unsupported(model.encoder.layer[0].attention.self).split(":")[0]
        'sliding-window attention'
        >>> why_unsupported(model.encoder.layer[0].attention.output) is None
        True
    """
    name = type(module).__name__
    reason = _WHY.get(name)
    if name == "NystromformerSelfAttention":
        exact = getattr(module, "num_landmarks", None) == getattr(module, "seq_len", 0)
        return None if exact else reason
    return reason
