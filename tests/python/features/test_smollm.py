"""SmolLM2-135M (the model issue 17 names): extraction matches its hidden states."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import attnwidgets as aw
from attnwidgets.features.python_source import python_source_snippets

pytestmark = pytest.mark.slow


def test_smollm2_last_token_features_on_stdlib_source(tmp_path: Path) -> None:
    pytest.importorskip("gguf")
    from attnwidgets.features.smollm import load_smollm2

    torch.set_num_threads(1)
    model, tokenizer = load_smollm2()
    texts, depth = python_source_snippets(24, seed=2, max_chars=160)
    store = aw.extract(
        model,
        texts,
        ["model.layers.5", "model.layers.20"],
        processor=tokenizer,
        labels=depth,
        pool="last",
        dtype="float32",
        batch_size=8,
        store=tmp_path / "smol.parquet",
        progress=False,
    )
    X, meta = store.load("model.layers.*", 20)
    for i in (0, 7, 23):  # each text alone: no padding, its last token
        enc = tokenizer([texts[i]], return_tensors="pt")
        with torch.no_grad():
            hidden = model(**enc, output_hidden_states=True).hidden_states[21][0, -1]
        np.testing.assert_allclose(X[i], hidden.numpy(), rtol=1e-4, atol=1e-3)
    assert meta["label"].tolist() == depth.tolist()
