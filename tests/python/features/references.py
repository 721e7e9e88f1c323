"""Independent references for the feature tests."""

from __future__ import annotations

import numpy as np
import torch


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """The reference for pool='mean': padding excluded, by hand."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return ((hidden * weights).sum(1) / weights.sum(1)).numpy()
