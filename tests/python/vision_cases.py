"""Tiny vision transformers built from config, with an image processor each (issue 15).

Each ``VisionCase`` builds a model (optionally with ``attn_implementation="eager"``, same seed,
so the twin gets the same weights through ``load_state_dict``), a PIL-backend image processor
for an output size ``(height, width)``, and names the special tokens the model puts before its
patches. ``eager_attention`` is the independent reference: the eager twin's own
``output_attentions`` (or, for Swin, whose stages return only their last block, the weights
each eager ``SwinAttention`` / ``Swinv2SelfAttention`` returned).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import skimage.data
import torch
import transformers as tf

VISION = dict(
    num_hidden_layers=2,
    num_attention_heads=4,
    hidden_size=32,
    intermediate_size=64,
    image_size=32,
    patch_size=8,
    initializer_range=0.3,  # attention far from uniform, so comparisons prove something
)
SWIN = dict(
    image_size=32,
    patch_size=2,
    embed_dim=16,
    depths=[2, 2],
    num_heads=[2, 4],
    window_size=4,
    initializer_range=0.3,
)
LABELS = dict(num_labels=3, id2label={0: "cat", 1: "rocket", 2: "astronaut"})
PHOTOS = {"chelsea": skimage.data.chelsea, "astronaut": skimage.data.astronaut}


def _resize(size: tuple[int, int]) -> dict[str, int]:
    return {"height": size[0], "width": size[1]}


def _crop(processor: type, larger: int = 8) -> Callable[[tuple[int, int]], Any]:
    """Resize to a little more than the size, then centre-crop to it."""

    def make(size: tuple[int, int]) -> Any:
        bigger = {"height": size[0] + larger, "width": size[1] + larger}
        return processor(size=bigger, crop_size=_resize(size), do_center_crop=True)

    return make


def _shortest(processor: type) -> Callable[[tuple[int, int]], Any]:
    """Shortest edge to the larger side, then centre-crop (CLIP / DINOv2 processors)."""

    def make(size: tuple[int, int]) -> Any:
        return processor(size={"shortest_edge": max(size)}, crop_size=_resize(size))

    return make


def _plain(processor: type) -> Callable[[tuple[int, int]], Any]:
    def make(size: tuple[int, int]) -> Any:
        return processor(size=_resize(size), do_center_crop=False)

    return make


@dataclass
class VisionCase:
    model: str
    config: Any
    processor: Callable[[tuple[int, int]], Any]
    before: tuple[str, ...]
    hooks: tuple[str, ...] = ()

    def build(self, attn_implementation: str | None = None) -> torch.nn.Module:
        config = self.config() if callable(self.config) else self.config
        model_class = getattr(tf, self.model)
        torch.manual_seed(0)
        if attn_implementation is None:
            model = model_class(config)
        else:
            model = model_class._from_config(config, attn_implementation=attn_implementation)
        return model.eval()


CASES = {
    "vit": VisionCase(
        "ViTForImageClassification",
        lambda: tf.ViTConfig(**VISION, **LABELS),
        _plain(tf.ViTImageProcessorPil),
        ("[CLS]",),
    ),
    "deit": VisionCase(
        "DeiTForImageClassificationWithTeacher",
        lambda: tf.DeiTConfig(**VISION, **LABELS),
        _crop(tf.DeiTImageProcessorPil),
        ("[CLS]", "[DIST]"),
    ),
    "beit": VisionCase(
        "BeitForImageClassification",
        lambda: tf.BeitConfig(**VISION, **LABELS, use_relative_position_bias=True),
        _plain(tf.BeitImageProcessorPil),
        ("[CLS]",),
    ),
    "dinov2": VisionCase(
        "Dinov2Model",
        lambda: tf.Dinov2Config(**VISION),
        _shortest(tf.BitImageProcessorPil),
        ("[CLS]",),
    ),
    "dinov2-registers": VisionCase(
        "Dinov2WithRegistersModel",
        lambda: tf.Dinov2WithRegistersConfig(**VISION, num_register_tokens=4),
        _shortest(tf.BitImageProcessorPil),
        ("[CLS]", "[REG0]", "[REG1]", "[REG2]", "[REG3]"),
    ),
    "clip": VisionCase(
        "CLIPVisionModel",
        lambda: tf.CLIPVisionConfig(**{**VISION, "initializer_factor": 8.0}),
        _shortest(tf.CLIPImageProcessorPil),
        ("[CLS]",),
    ),
    "siglip": VisionCase(
        "SiglipVisionModel",
        lambda: tf.SiglipVisionConfig(**VISION),
        _plain(tf.SiglipImageProcessorPil),
        (),
    ),
    "swin": VisionCase(
        "SwinForImageClassification",
        lambda: tf.SwinConfig(**SWIN, **LABELS),
        _plain(tf.ViTImageProcessorPil),
        (),
        hooks=("SwinAttention",),
    ),
    "swinv2": VisionCase(
        "Swinv2Model",
        lambda: tf.Swinv2Config(**SWIN),
        _plain(tf.ViTImageProcessorPil),
        (),
        hooks=("Swinv2SelfAttention",),
    ),
}


def eager_attention(case: VisionCase, model: torch.nn.Module, inputs: dict) -> list[torch.Tensor]:
    """The eager twin's attention for ``inputs``: one tensor per layer."""
    twin = case.build("eager")
    twin.load_state_dict(model.state_dict())
    kept: list[torch.Tensor] = []
    handles = [
        module.register_forward_hook(lambda _m, _a, out: kept.append(out[1].detach()))
        for module in twin.modules()
        if type(module).__name__ in case.hooks
    ]
    try:
        with torch.no_grad():
            out = twin(**inputs, output_attentions=True)
    finally:
        for handle in handles:
            handle.remove()
    return kept if case.hooks else list(out.attentions)


def photo(name: str = "chelsea") -> np.ndarray:
    return PHOTOS[name]()
