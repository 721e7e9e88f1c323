"""aw.extract on images: the shipped Fashion-MNIST ViT over real Fashion-MNIST images."""

# ruff: noqa: F811  (pytest fixtures imported from a module, then used as arguments)

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from feature_fixtures import fashion_vit  # noqa: F401
from PIL import Image

import attnwidgets as aw


def vit_reference(model: Any, processor: Any, images: np.ndarray, layer: int) -> np.ndarray:
    pixels = processor(list(images), return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        return model(pixel_values=pixels, output_hidden_states=True).hidden_states[layer + 1]


@pytest.mark.parametrize("pool", ["cls", "mean"])
def test_vit_features_match_hidden_states(fashion_vit: Any, tmp_path: Path, pool: str) -> None:
    model, processor, images, labels = fashion_vit
    images, labels = images[:24], labels[:24]
    store = aw.extract(
        model,
        images,
        "vit.layers.?",
        processor=processor,
        labels=labels,
        pool=pool,
        dtype="float32",
        store=tmp_path / "v.sqlite",
        batch_size=10,
        progress=False,
    )
    assert store.layers("vit.layers.*") == [0, 1, 2, 3]
    X, meta = store.load("vit.layers.*", 2)
    hidden = vit_reference(model, processor, images, 2)
    expected = hidden[:, 0] if pool == "cls" else hidden.mean(1)
    np.testing.assert_allclose(X, expected.numpy(), atol=1e-5)
    assert meta["label"].tolist() == labels.tolist()
    assert meta["text"].tolist() == [""] * 24
    np.testing.assert_array_equal(store.thumbnail(3), images[3])  # 28 px: kept as it is


def test_image_files_keep_their_path_and_a_small_thumbnail(
    fashion_vit: Any, tmp_path: Path
) -> None:
    model, processor, images, _ = fashion_vit
    files = []
    for i in range(3):
        big = Image.fromarray(images[i]).resize((280, 280), Image.NEAREST)  # 10 px a pixel
        files.append(tmp_path / f"img{i}.png")
        big.save(files[-1])
    store = aw.extract(
        model,
        files,
        "vit.layers.3",
        processor=processor,
        pool="cls",
        store=tmp_path / "files.parquet",
        progress=False,
    )
    inputs = store.inputs()
    assert [Path(p).name for p in inputs["image_path"]] == ["img0.png", "img1.png", "img2.png"]
    thumb = store.thumbnail(1)
    assert thumb is not None and thumb.shape == (56, 56, 3)  # 280 px / 5: boxes of 5 px
    np.testing.assert_array_equal(thumb[::2, ::2], images[1])


def test_grayscale_array_list_and_bad_items(fashion_vit: Any, tmp_path: Path) -> None:
    model, processor, images, _ = fashion_vit
    with pytest.raises(ValueError, match=r"data\[1\] is a int: give texts \(str\) or images"):
        aw.extract(
            model,
            [images[0], 3],
            "vit.layers.0",
            processor=processor,
            store=tmp_path / "bad.sqlite",
            progress=False,
        )
    with pytest.raises(ValueError, match=r"labels has 2 values for 3 inputs"):
        aw.extract(
            model,
            list(images[:3]),
            "vit.layers.0",
            processor=processor,
            labels=[1, 2],
            store=tmp_path / "bad.sqlite",
            progress=False,
        )
    with pytest.raises(ValueError, match=r"not one string"):
        aw.extract(
            model,
            "a text",
            "vit.layers.0",
            processor=processor,
            store=tmp_path / "bad.sqlite",
            progress=False,
        )


def test_vlm_text_and_vision_modules(tmp_path: Path) -> None:
    model, processor, images, labels = aw.demo.load_fashion_vlm(limit=6)
    prompt = "USER: <image>\nWhat is this? ASSISTANT:"
    vision = "model.vision_tower.encoder.layers.3"
    store = aw.extract(
        model,
        list(images),
        ["model.language_model.layers.?", vision],
        processor=processor,
        prompt=prompt,
        labels=labels,
        pool="last",
        dtype="float32",
        store=tmp_path / "vlm.sqlite",
        progress=False,
    )
    assert store.modules == ["model.vision_tower.encoder.layers.*", "model.language_model.layers.*"]
    X, meta = store.load(vision)
    text_X, _ = store.load("model.language_model.layers.*", 0)
    assert X.shape[0] == text_X.shape[0] == 6
    assert meta["text"][0] == prompt
    inputs = processor(images=list(images), text=[prompt] * 6, return_tensors="pt")
    with torch.no_grad():
        out = model(**inputs, output_hidden_states=True)
    # the LM's layer 0 at the last token (hidden_states[-1] would be after the final norm)
    np.testing.assert_allclose(text_X, out.hidden_states[1][:, -1].numpy(), atol=1e-5)
