"""aw.extract on text: pooled features equal an independent computation from hidden states."""

# ruff: noqa: F811  (pytest fixtures imported from a module, then used as arguments)

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from feature_fixtures import minilm, snippets  # noqa: F401
from references import masked_mean
from transformers import LlamaConfig, LlamaModel

import attnwidgets as aw

LAYERS = "encoder.layer.?"  # MiniLM's six blocks (a glob: '?' is one character)


def reference(model: Any, tokenizer: Any, texts: list[str], layer: int) -> np.ndarray:
    enc = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc, output_hidden_states=True).hidden_states[layer + 1]
    return masked_mean(hidden, enc["attention_mask"])


@pytest.mark.parametrize("suffix", [".sqlite", ".parquet"])
def test_mean_pooled_minilm_matches_hidden_states(
    minilm: Any, snippets: Any, tmp_path: Path, suffix: str
) -> None:
    model, tokenizer = minilm
    texts, labels = snippets
    texts, labels = texts[:40], labels[:40]
    store = aw.extract(
        model,
        texts,
        LAYERS,
        processor=tokenizer,
        labels=labels,
        store=tmp_path / f"f{suffix}",
        batch_size=16,
        dtype="float32",
        progress=False,
    )
    assert store.modules == ["encoder.layer.*"]
    assert store.layers("encoder.layer.*") == [0, 1, 2, 3, 4, 5]
    for layer in (0, 5):
        X, meta = store.load("encoder.layer.*", layer)
        np.testing.assert_allclose(X, reference(model, tokenizer, texts, layer), atol=2e-5)
        assert meta["input_id"].tolist() == list(range(40))
        assert meta["text"].tolist() == texts
        assert meta["label"].tolist() == labels.tolist()
        assert not meta["nonfinite"].any()


def test_float16_storage_is_the_rounded_float32(minilm: Any, tmp_path: Path) -> None:
    model, tokenizer = minilm
    texts = ["def f(x):\n    return (x + 1)", "import os"]
    X16, _ = aw.extract(
        model,
        texts,
        "encoder.layer.5",
        processor=tokenizer,
        store=tmp_path / "a.sqlite",
        progress=False,
    ).load("encoder.layer.*", 5)
    assert X16.dtype == np.float16
    expected = reference(model, tokenizer, texts, 5).astype(np.float16)
    np.testing.assert_array_equal(X16, expected)


def tiny_llama() -> torch.nn.Module:
    torch.manual_seed(0)
    config = LlamaConfig(
        num_hidden_layers=3,
        num_attention_heads=2,
        num_key_value_heads=2,
        hidden_size=16,
        intermediate_size=32,
        vocab_size=40,
    )
    return LlamaModel(config).eval()


class LeftPadded:
    """A tokenizer without a pad token that pads on the left (as decoder LMs do)."""

    padding_side = "left"
    pad_token_id = None

    def __call__(self, texts: list[str], **_: Any) -> dict[str, list[list[int]]]:
        return {"input_ids": [[3 + ord(c) % 30 for c in text] for text in texts]}

    def decode(self, ids: list[int], **_: Any) -> str:
        return "".join(chr(i) for i in ids)


@pytest.mark.parametrize("pool", ["first", "last", "none"])
def test_first_last_none_on_left_padding(pool: str, tmp_path: Path) -> None:
    model = tiny_llama()
    texts = ["abcdef", "xy", "hello"]
    store = aw.extract(
        model,
        texts,
        "layers.1",
        processor=LeftPadded(),
        pool=pool,
        store=tmp_path / "p.sqlite",
        dtype="float32",
        progress=False,
    )
    X, meta = store.load("layers.*", 1)
    for i, text in enumerate(texts):  # each text alone: no padding at all
        ids = torch.tensor([LeftPadded()([text])["input_ids"][0]])
        with torch.no_grad():  # hidden_states[2]: after block 1 (the last one is normed)
            alone = model(input_ids=ids, output_hidden_states=True).hidden_states[2][0]
        rows = X[meta["input_id"] == i]
        expected = {"first": alone[:1], "last": alone[-1:], "none": alone}[pool].numpy()
        np.testing.assert_allclose(rows, expected, atol=1e-5)
    if pool == "none":
        assert meta["position"][meta["input_id"] == 0].tolist() == [0, 1, 2, 3, 4, 5]


def test_cls_refuses_left_padding(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"layers\.1: pool='cls' takes position 0.*pool='first'"):
        aw.extract(
            tiny_llama(),
            ["abcdef", "xy"],
            "layers.1",
            processor=LeftPadded(),
            pool="cls",
            store=tmp_path / "c.sqlite",
            progress=False,
        )


def test_huggingface_dataset_columns(minilm: Any, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    model, tokenizer = minilm
    data = datasets.Dataset.from_dict(
        {"sentence": ["a cat", "the dog runs", "x = (1, 2)"], "kind": ["n", "n", "code"]}
    )
    store = aw.extract(
        model,
        data,
        "encoder.layer.0",
        processor=tokenizer,
        text="sentence",
        label="kind",
        store=tmp_path / "d.sqlite",
        progress=False,
    )
    X, meta = store.load("encoder.layer.0")
    assert meta["label"].tolist() == ["n", "n", "code"]
    assert meta["text"].tolist() == ["a cat", "the dog runs", "x = (1, 2)"]
    assert X.shape == (3, 384)
    with pytest.raises(ValueError, match=r"no column 'text' \(columns: \['sentence', 'kind'\]\)"):
        aw.extract(
            model,
            data,
            "encoder.layer.0",
            processor=tokenizer,
            text="text",
            store=tmp_path / "e.sqlite",
            progress=False,
        )
    with pytest.raises(ValueError, match=r"no column 'label'"):
        aw.extract(
            model,
            data,
            "encoder.layer.0",
            processor=tokenizer,
            label="label",
            store=tmp_path / "e.sqlite",
            progress=False,
        )
    assert not (tmp_path / "e.sqlite").exists()  # refused before anything was written


def test_dataloader_of_text_columns_and_of_model_inputs(minilm: Any, tmp_path: Path) -> None:
    model, tokenizer = minilm
    texts = ["one", "two words", "three little words", "four"]
    rows = [{"text": t, "label": i % 2} for i, t in enumerate(texts)]
    loader = torch.utils.data.DataLoader(rows, batch_size=3)
    a, meta_a = aw.extract(
        model,
        loader,
        "encoder.layer.2",
        processor=tokenizer,
        store=tmp_path / "a.sqlite",
        progress=False,
    ).load("encoder.layer.2")
    encoded = tokenizer(texts, padding=True, return_tensors="pt")
    batches = [
        {**{k: v[:2] for k, v in encoded.items()}, "label": [0, 1]},
        {**{k: v[2:] for k, v in encoded.items()}, "label": [0, 1]},
    ]
    b, meta_b = aw.extract(
        model,
        torch.utils.data.DataLoader(batches, batch_size=None),
        "encoder.layer.2",
        processor=tokenizer,
        store=tmp_path / "b.sqlite",
        progress=False,
    ).load("encoder.layer.2")
    np.testing.assert_allclose(a.astype(np.float32), b.astype(np.float32), atol=2e-3)
    assert meta_a["label"].tolist() == meta_b["label"].tolist() == [0, 1, 0, 1]
    assert meta_b["text"].tolist() == texts  # decoded back from the ids


def test_wildcard_that_matches_nothing_lists_close_names(minilm: Any, tmp_path: Path) -> None:
    model, tokenizer = minilm
    with pytest.raises(ValueError, match=r"'encoder\.layers\.\*' matches no module.*Closest"):
        aw.extract(
            model,
            ["x"],
            "encoder.layers.*",
            processor=tokenizer,
            store=tmp_path / "w.sqlite",
            progress=False,
        )
    assert not (tmp_path / "w.sqlite").exists()
