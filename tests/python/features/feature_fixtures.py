"""Real models and real data for the feature-store tests: MiniLM on Python source, the
shipped Fashion-MNIST ViT on Fashion-MNIST images."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import attnwidgets as aw
from attnwidgets.features.python_source import python_source_snippets


@pytest.fixture(scope="session")
def minilm() -> tuple[Any, Any]:
    torch.set_num_threads(1)
    return aw.demo.load_minilm()


@pytest.fixture(scope="session")
def fashion_vit() -> tuple[Any, Any, np.ndarray, np.ndarray]:
    return aw.demo.load_fashion_vit(limit=200)


@pytest.fixture(scope="session")
def snippets() -> tuple[list[str], np.ndarray]:
    """Prefixes of real standard-library source, labelled with their bracket depth."""
    return python_source_snippets(120, seed=0)
