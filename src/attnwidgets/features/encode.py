"""A batch of texts and/or images -> the model's keyword inputs and its token mask.

Texts go through the tokenizer (padded; a tokenizer without a pad token is padded here, on
its own padding side, without touching it), images through the image processor, both at once
through a multimodal processor (a VLM: ``processor(images=..., text=...)``). Image files
(``pathlib.Path``) are opened with PIL. Also: small thumbnails of the images for the views.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .sources import Batch, DataError

THUMBNAIL = 64
"""Thumbnails are at most this many pixels on their longest side (smaller images are kept)."""


def encode(
    processor: Any, batch: Batch, device: torch.device, max_length: int | None
) -> tuple[dict[str, Any], torch.Tensor | None]:
    """``(model kwargs, mask [batch, tokens] or None)`` for one batch.

    Example:
        >>> from attnwidgets.features.sources import Batch
        >>> class Chars:  # a tokenizer without a pad token
        ...     padding_side, pad_token_id = "right", None
        ...     def __call__(self, texts, **kw):
        ...         return {"input_ids": [[ord(c) for c in t] for t in texts]}
        >>> batch = Batch([0, 1], texts=["ab", "c"])
        >>> inputs, mask = encode(Chars(), batch, torch.device("cpu"), None)
        >>> inputs["input_ids"].tolist(), mask.tolist()
        ([[97, 98], [99, 0]], [[1, 1], [1, 0]])
    """
    if batch.tensors is not None:
        inputs = {k: _to(v, device) for k, v in batch.tensors.items()}
        mask = inputs.get("attention_mask")
        return inputs, mask if isinstance(mask, torch.Tensor) else None
    if processor is None:
        raise DataError(
            "extract: give processor= (the tokenizer, image processor or processor that "
            "turns these inputs into model inputs)"
        )
    images = [open_image(image) for image in batch.images] if batch.images is not None else None
    if images is not None and batch.texts is not None:
        out = processor(images=images, text=batch.texts, padding=True, return_tensors="pt")
        inputs = {k: _to(v, device) for k, v in dict(out).items()}
        return inputs, inputs.get("attention_mask")
    if images is not None:
        image_processor = getattr(processor, "image_processor", processor)
        out = image_processor(images, return_tensors="pt")
        return {k: _to(v, device) for k, v in dict(out).items()}, None
    assert batch.texts is not None
    tokenizer = getattr(processor, "tokenizer", processor)
    return _tokenize(tokenizer, batch.texts, device, max_length)


def _tokenize(
    tokenizer: Any, texts: list[str], device: torch.device, max_length: int | None
) -> tuple[dict[str, Any], torch.Tensor]:
    options: dict[str, Any] = {"truncation": max_length is not None}
    if max_length is not None:
        options["max_length"] = max_length
    if getattr(tokenizer, "pad_token_id", None) is not None:
        out = dict(tokenizer(texts, padding=True, return_tensors="pt", **options))
        inputs = {k: _to(v, device) for k, v in out.items()}
        return inputs, inputs["attention_mask"]
    ids = tokenizer(texts, **options)["input_ids"]
    width = max(len(row) for row in ids)
    left = getattr(tokenizer, "padding_side", "right") == "left"
    padded = torch.zeros(len(ids), width, dtype=torch.long)
    mask = torch.zeros(len(ids), width, dtype=torch.long)
    for i, row in enumerate(ids):
        span = slice(width - len(row), width) if left else slice(0, len(row))
        padded[i, span] = torch.tensor(row, dtype=torch.long)
        mask[i, span] = 1
    return {"input_ids": padded.to(device), "attention_mask": mask.to(device)}, mask.to(device)


def _to(value: Any, device: torch.device) -> Any:
    return value.to(device) if isinstance(value, torch.Tensor) else value


def open_image(image: Any) -> Any:
    """A ``pathlib.Path`` opened as an RGB PIL image; anything else as it is."""
    if isinstance(image, Path):
        from PIL import Image

        if not image.is_file():
            raise DataError(f"image file {image} does not exist")
        with Image.open(image) as opened:
            return opened.convert("RGB")
    return image


def thumbnail(image: Any, size: int = THUMBNAIL) -> np.ndarray:
    """uint8 ``[h, w, 3]``, at most ``size`` px on its longest side (box-averaged).

    Example:
        >>> thumbnail(np.zeros((28, 28), np.uint8)).shape
        (28, 28, 3)
        >>> thumbnail(np.zeros((300, 150, 3), np.uint8)).shape
        (60, 30, 3)
    """
    opened = open_image(image)
    array = np.asarray(opened.convert("RGB") if hasattr(opened, "convert") else opened)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3:
        raise DataError(f"an image of shape {list(array.shape)} is not HxW or HxWxC")
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    array = array[..., :3]
    if array.dtype != np.uint8:
        scale = 255.0 if float(np.nanmax(array, initial=0)) <= 1.0 else 1.0
        array = np.clip(np.nan_to_num(array * scale), 0, 255).astype(np.uint8)
    step = int(np.ceil(max(array.shape[:2]) / size))
    if step > 1:
        h, w = (array.shape[0] // step) * step, (array.shape[1] // step) * step
        blocks = array[:h, :w].reshape(h // step, step, w // step, step, 3)
        array = blocks.mean(axis=(1, 3)).round().astype(np.uint8)
    return np.ascontiguousarray(array)
