"""Stores extracted from the shipped models, for the feature views in Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import attnwidgets as aw


@pytest.fixture(scope="session")
def fashion_store(tmp_path_factory: pytest.TempPathFactory) -> aw.FeatureStore:
    """The Fashion-MNIST ViT over 400 test images, [CLS] of every layer, class names."""
    torch.set_num_threads(1)
    model, processor, images, labels = aw.demo.load_fashion_vit(limit=400)
    names = [model.config.id2label[int(i)] for i in labels]
    path = tmp_path_factory.mktemp("stores") / "fashion.sqlite"
    return aw.extract(
        model,
        images,
        "vit.layers.?",
        processor=processor,
        labels=names,
        pool="cls",
        store=path,
        batch_size=50,
        progress=False,
    )


@pytest.fixture(scope="session")
def text_store(tmp_path_factory: pytest.TempPathFactory) -> aw.FeatureStore:
    """MiniLM over 120 standard-library snippets labelled by bracket depth."""
    from attnwidgets.features.python_source import python_source_snippets

    torch.set_num_threads(1)
    model, tokenizer = aw.demo.load_minilm()
    texts, labels = python_source_snippets(120, seed=0, files=60)
    path = tmp_path_factory.mktemp("stores") / "text.sqlite"
    return aw.extract(
        model,
        texts,
        "encoder.layer.?",
        processor=tokenizer,
        labels=labels,
        store=path,
        progress=False,
    )


@pytest.fixture
def screenshot_dir() -> Path:
    folder = Path(__file__).resolve().parents[3] / "artifacts"
    folder.mkdir(exist_ok=True)
    return folder
