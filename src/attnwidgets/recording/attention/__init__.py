"""Attention as the model computes it: transformers' AttentionInterface (``interface``),
plain PyTorch (``sdpa_mode``, ``mha``), the weights recomputed beside the kernel
(``recompute``), what each call was given (``calls``), generation (``generation``), the
memory records are written into (``record_memory``) and the guard before it (``admission``),
and the families whose softmax is no query x key matrix (``unsupported``)."""
