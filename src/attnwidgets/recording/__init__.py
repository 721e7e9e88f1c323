"""PyTorch side: record what a model computes (never imports widgets).

``capture(model)`` (``session``) records, for the duration of a ``with`` block, what the
options ask for: attention through the model's own kernels (``attention``: transformers'
AttentionInterface, ``scaled_dot_product_attention``, ``nn.MultiheadAttention``, the recompute
beside them, generation, record memory, families that cannot be read), norm statistics
(``norms``), module outputs and the residual stream (``activations``) and, for images in,
the vision layout (``vision``). ``positions`` reads a model's positional encoding;
``aliases`` names modules (TransformerLens names, ``layers=``); ``threads`` runs a shared
model in eval mode safely. ``aw.capture`` is the ``capture`` function.
"""

from .aliases import find_blocks, resolve
from .attention.generation import AttentionCall
from .attention.recompute import KINDS, attention_probabilities, attention_steps
from .attention.record_memory import RecordMemory, record_memory
from .norms import record_norms
from .session import Capture, CaptureError, capture

__all__ = [
    "KINDS",
    "AttentionCall",
    "Capture",
    "CaptureError",
    "RecordMemory",
    "attention_probabilities",
    "attention_steps",
    "capture",
    "find_blocks",
    "record_memory",
    "record_norms",
    "resolve",
]
