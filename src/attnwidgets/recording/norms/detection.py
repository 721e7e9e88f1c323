"""Which modules are token norms, and their affine parameters.

Found by class (``nn.LayerNorm``, ``nn.RMSNorm``) and by shape for the Hugging Face classes
that do not subclass them (``LlamaRMSNorm``, ``T5LayerNorm``, Gemma's, Qwen3's per-head
``q_norm``/``k_norm``): a class named ``*Norm`` with a 1-D ``weight`` and an ``eps`` or
``variance_epsilon``.
"""

from __future__ import annotations

import numpy as np
import torch

_NOT_NORMS = (torch.nn.modules.batchnorm._NormBase, torch.nn.GroupNorm)


class NoNormModulesError(ValueError):
    """The model has no LayerNorm / RMSNorm-like module to watch."""


def norm_kind(module: torch.nn.Module) -> str | None:
    """``"layernorm"``, ``"rmsnorm"``, or ``None`` when the module is not a token norm.

    Example:
        >>> norm_kind(torch.nn.LayerNorm(8)), norm_kind(torch.nn.RMSNorm(8))
        ('layernorm', 'rmsnorm')
        >>> norm_kind(torch.nn.BatchNorm1d(8)) is None
        True
    """
    if isinstance(module, torch.nn.LayerNorm):
        return "layernorm"
    if isinstance(module, torch.nn.RMSNorm):
        return "rmsnorm"
    if isinstance(module, _NOT_NORMS):
        return None
    name = type(module).__name__
    if not name.endswith("Norm"):  # first: the attribute lookups below are slow on modules
        return None
    weight = getattr(module, "weight", None)
    has_eps = hasattr(module, "eps") or hasattr(module, "variance_epsilon")
    if not (has_eps and isinstance(weight, torch.Tensor)):
        return None
    if weight.dim() != 1:
        return None
    if "RMS" in name.upper() or name == "T5LayerNorm" or getattr(module, "bias", None) is None:
        return "rmsnorm"
    return "layernorm"


def find_norm_modules(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module, str]]:
    """``(dotted path, module, kind)`` of every norm module, in registration order.

    Example:
        >>> block = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
        >>> [(path, kind) for path, _, kind in find_norm_modules(block)]
        [('1', 'layernorm')]
    """
    found = []
    for path, module in model.named_modules():
        kind = norm_kind(module)
        if kind is not None:
            found.append((path or type(module).__name__, module, kind))
    return found


def affine_parameters(module: torch.nn.Module) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The effective scale (gamma) and shift (beta) as flat float32 numpy, ``None`` when absent:
    copies, which later updates of the weights leave as they are.

    Gemma's norms multiply by ``1 + weight``; that sum is what is returned for them.

    Example:
        >>> norm = torch.nn.LayerNorm(3)
        >>> gamma, beta = affine_parameters(norm)
        >>> with torch.no_grad():
        ...     _ = norm.weight.mul_(2.0)
        >>> gamma.tolist(), beta.tolist()
        ([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])
        >>> affine_parameters(torch.nn.RMSNorm(2, elementwise_affine=False))
        (None, None)
    """
    weight = getattr(module, "weight", None)
    bias = getattr(module, "bias", None)
    gamma = _float32_copy(weight) if isinstance(weight, torch.Tensor) else None
    if gamma is not None and type(module).__name__.startswith("Gemma"):
        gamma += np.float32(1.0)
    beta = _float32_copy(bias) if isinstance(bias, torch.Tensor) else None
    return gamma, beta


def _float32_copy(tensor: torch.Tensor) -> np.ndarray:
    values = tensor.detach()
    if values.dtype != torch.float32 or values.device.type != "cpu":
        values = values.float().cpu()  # numpy has no bfloat16
    copy: np.ndarray = values.numpy().reshape(-1).copy()
    return copy
