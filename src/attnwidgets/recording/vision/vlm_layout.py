"""Which vision-language model this is, and where each of its image tokens comes from.

``find_vlm_family(model)`` reads the family from the model's config; ``describe(...)`` turns a
call's tensors (``input_ids``, ``pixel_values``, ``image_sizes``, ``image_grid_thw``) into a
``VLMInfo``: every image token of the language model's sequence mapped to its image and cell,
the images as the model saw them, and a ``VisionInfo`` per vision-tower input. Where a family
rearranges tokens (LLaVA-NeXT's unpadding and newlines, Idefics3's pixel shuffle) the model's
own function is run on coordinates instead of features, so the mapping is the model's.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch

from ...vision_records import VisionInfo
from ...vlm_records import ImagePosition, ImageView, VLMImage, VLMInfo
from .images import ImageInputError, unnormalise
from .layout import find_vision_family

KINDS = {
    "llava": "llava",
    "vipllava": "llava",
    "llava_next": "llava_next",
    "idefics3": "idefics3",
    "smolvlm": "idefics3",
    "qwen2_vl": "qwen2_vl",
    "qwen2_5_vl": "qwen2_vl",
    "paligemma": "llava",
    "blip-2": "blip-2",
    "clip": "dual",
    "siglip": "dual",
}
SUPPORTED = (
    "LLaVA, LLaVA-NeXT, Idefics3, SmolVLM, Qwen2-VL, Qwen2.5-VL, PaliGemma, BLIP-2, CLIP, SigLIP"
)


class VLMInputError(ImageInputError):
    """Text and images a vision-language model cannot take; the message says what it expects."""


@dataclass(frozen=True)
class VLMFamily:
    """``name`` (the config's ``model_type``), ``kind`` (the layout rule it follows),
    ``image_token_id`` (None for dual encoders), ``needs_image`` (the model cannot run on text
    alone)."""

    name: str
    kind: str
    image_token_id: int | None
    needs_image: bool
    config: Any

    @property
    def dual(self) -> bool:
        return self.kind == "dual"


def find_vlm_family(model: torch.nn.Module) -> VLMFamily | None:
    """The family of a Hugging Face vision-language model, or None for other models.

    Example:
        >>> from transformers import BertConfig, BertModel
        >>> find_vlm_family(BertModel(BertConfig(num_hidden_layers=1, hidden_size=8,
        ...     num_attention_heads=2, intermediate_size=8))) is None
        True
    """
    config = getattr(model, "config", None)
    name = str(getattr(config, "model_type", ""))
    kind = KINDS.get(name)
    if kind is None or not _takes(model, "pixel_values") or not _takes(model, "input_ids"):
        return None
    token = getattr(config, "image_token_id", None)
    if token is None:
        token = getattr(config, "image_token_index", None)
    needs = kind in ("blip-2", "dual") or name == "paligemma"
    return VLMFamily(name, kind, None if kind == "dual" else token, needs, config)


def _takes(model: torch.nn.Module, name: str) -> bool:
    try:
        return name in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def describe(
    family: VLMFamily,
    model: torch.nn.Module,
    inputs: dict[str, Any],
    processor: Any,
    labels: list[str],
) -> VLMInfo:
    """Where every position of ``inputs`` (one prompt) comes from; ``labels`` are the text
    labels of ``input_ids[0]``. Raises ``VLMInputError`` when the image tokens do not fit the
    images given."""
    ids = inputs["input_ids"][0]
    pixels = inputs.get("pixel_values")
    if family.dual or pixels is None:
        vision = _dual_vision(family, model, pixels, processor) if pixels is not None else []
        return VLMInfo.build(
            family.name, labels, {}, [], vision=vision, vision_images=list(range(len(vision)))
        )
    runs = _image_runs(ids, family)
    from .vlm_tiles import idefics3_layout, llava_next_layout, qwen2_vl_layout

    builder = {
        "llava": _llava,
        "llava_next": llava_next_layout,
        "idefics3": idefics3_layout,
        "qwen2_vl": qwen2_vl_layout,
        "blip-2": _blip2,
    }[family.kind]
    info: VLMInfo = builder(family, model, inputs, processor, labels, runs)
    return info


def _image_runs(ids: torch.Tensor, family: VLMFamily) -> list[tuple[int, int]]:
    """``(start, length)`` of each run of consecutive image tokens."""
    found = torch.nonzero(torch.as_tensor(ids == family.image_token_id)).flatten().tolist()
    runs: list[tuple[int, int]] = []
    for index in found:
        if runs and runs[-1][0] + runs[-1][1] == index:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((index, 1))
    return runs


def positions_of_runs(runs: list[tuple[int, int]]) -> list[int]:
    return [start + k for start, length in runs for k in range(length)]


def mismatch_error(
    family: VLMFamily, found: int, images: int, each: str, needed: int
) -> VLMInputError:
    return VLMInputError(
        f"{family.name}: input_ids hold {found} image tokens (id {family.image_token_id}) but "
        f"{images} image(s) of {each} need {needed}. Build the inputs with the model's own "
        "processor (it writes one image token per feature), one image per placeholder"
    )


def _tower(model: torch.nn.Module) -> torch.nn.Module:
    for name in ("vision_tower", "vision_model", "visual"):
        for owner in (model, getattr(model, "model", None)):
            tower = getattr(owner, name, None) if owner is not None else None
            if isinstance(tower, torch.nn.Module):
                return tower
    raise ImageInputError(f"{type(model).__name__}: no vision tower found")


def tower_specials(model: torch.nn.Module) -> tuple[tuple[str, ...], tuple[int, int]]:
    """The vision tower's special tokens before its patches, and its patch size."""
    tower = _tower(model)
    found = find_vision_family(tower)
    if found is None:
        patch = int(getattr(getattr(tower, "config", None), "patch_size", 1))
        return (), (patch, patch)
    return found.before, found.patch_size


def _llava(family, model, inputs, processor, labels, runs):  # type: ignore[no-untyped-def]
    """LLaVA, VipLLaVA, PaliGemma: each image is one tower input; ``default`` drops its first
    token (the class token), ``full`` keeps it."""
    pixels = inputs["pixel_values"]
    specials, patch = tower_specials(model)
    rows, cols = int(pixels.shape[-2]) // patch[0], int(pixels.shape[-1]) // patch[1]
    strategy = getattr(family.config, "vision_feature_select_strategy", "full")
    dropped = 1 if strategy == "default" else 0
    kept_specials = specials[dropped:] if dropped <= len(specials) else ()
    per_image = len(specials) + rows * cols - dropped
    positions = positions_of_runs(runs)
    count = int(pixels.shape[0])
    if len(positions) != count * per_image:
        raise mismatch_error(
            family, len(positions), count, f"{rows}x{cols} patches", count * per_image
        )
    grid: dict[int, ImagePosition] = {}
    other: dict[int, tuple[int, str]] = {}
    images, vision = [], []
    for image in range(count):
        seen = unnormalise(pixels[image], processor)
        images.append(VLMImage(image, seen, (ImageView("image", (rows, cols), (1, 1), patch),)))
        vision.append(VisionInfo.build(family.name, seen, (rows, cols), patch, specials))
        mine = positions[image * per_image : (image + 1) * per_image]
        for k, index in enumerate(mine):
            if k < len(kept_specials):
                other[index] = (image, kept_specials[k])
            else:
                r, c = divmod(k - len(kept_specials), cols)
                grid[index] = ImagePosition(image, r, c)
    return VLMInfo.build(family.name, labels, grid, images, other, vision, list(range(count)))


def _blip2(family, model, inputs, processor, labels, runs):  # type: ignore[no-untyped-def]
    """BLIP-2: the language model reads the Q-Former's query tokens, which have no place on the
    image (they gather from every patch through cross attention)."""
    pixels = inputs["pixel_values"]
    specials, patch = tower_specials(model)
    rows, cols = int(pixels.shape[-2]) // patch[0], int(pixels.shape[-1]) // patch[1]
    queries = int(getattr(family.config, "num_query_tokens", 0))
    positions = positions_of_runs(runs)
    count = int(pixels.shape[0])
    if len(positions) != count * queries:
        raise mismatch_error(
            family, len(positions), count, f"{queries} query tokens", count * queries
        )
    other = {index: (k // queries, f"query {k % queries}") for k, index in enumerate(positions)}
    images, vision = [], []
    for image in range(count):
        seen = unnormalise(pixels[image], processor)
        images.append(VLMImage(image, seen, (ImageView("image", (rows, cols), (1, 1), patch),)))
        vision.append(VisionInfo.build(family.name, seen, (rows, cols), patch, specials))
    return VLMInfo.build(family.name, labels, {}, images, other, vision, list(range(count)))


def _dual_vision(
    family: VLMFamily, model: torch.nn.Module, pixels: Any, processor: Any
) -> list[VisionInfo]:
    specials, patch = tower_specials(model)
    rows, cols = int(pixels.shape[-2]) // patch[0], int(pixels.shape[-1]) // patch[1]
    return [
        VisionInfo.build(
            family.name, unnormalise(pixels[i], processor), (rows, cols), patch, specials
        )
        for i in range(int(pixels.shape[0]))
    ]
