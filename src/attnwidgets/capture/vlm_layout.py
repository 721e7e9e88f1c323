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
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..vision_records import VisionInfo
from ..vlm_records import ImagePosition, ImageView, VLMImage, VLMInfo
from .images import ImageInputError, unnormalise
from .vision_layout import find_vision_family

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
    builder = {
        "llava": _llava,
        "llava_next": _llava_next,
        "idefics3": _idefics3,
        "qwen2_vl": _qwen2_vl,
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


def _positions_of(runs: list[tuple[int, int]]) -> list[int]:
    return [start + k for start, length in runs for k in range(length)]


def _mismatch(family: VLMFamily, found: int, images: int, each: str, needed: int) -> VLMInputError:
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


def _tower_specials(model: torch.nn.Module) -> tuple[tuple[str, ...], tuple[int, int]]:
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
    specials, patch = _tower_specials(model)
    rows, cols = int(pixels.shape[-2]) // patch[0], int(pixels.shape[-1]) // patch[1]
    strategy = getattr(family.config, "vision_feature_select_strategy", "full")
    dropped = 1 if strategy == "default" else 0
    kept_specials = specials[dropped:] if dropped <= len(specials) else ()
    per_image = len(specials) + rows * cols - dropped
    positions = _positions_of(runs)
    count = int(pixels.shape[0])
    if len(positions) != count * per_image:
        raise _mismatch(family, len(positions), count, f"{rows}x{cols} patches", count * per_image)
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
    specials, patch = _tower_specials(model)
    rows, cols = int(pixels.shape[-2]) // patch[0], int(pixels.shape[-1]) // patch[1]
    queries = int(getattr(family.config, "num_query_tokens", 0))
    positions = _positions_of(runs)
    count = int(pixels.shape[0])
    if len(positions) != count * queries:
        raise _mismatch(family, len(positions), count, f"{queries} query tokens", count * queries)
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
    specials, patch = _tower_specials(model)
    rows, cols = int(pixels.shape[-2]) // patch[0], int(pixels.shape[-1]) // patch[1]
    return [
        VisionInfo.build(
            family.name, unnormalise(pixels[i], processor), (rows, cols), patch, specials
        )
        for i in range(int(pixels.shape[0]))
    ]


def _method(model: torch.nn.Module, name: str) -> Any:
    for owner in (getattr(model, "model", None), model):
        found = getattr(owner, name, None)
        if callable(found):
            return found
    raise ImageInputError(f"{type(model).__name__} has no {name}()")


def _llava_next(family, model, inputs, processor, labels, runs):  # type: ignore[no-untyped-def]
    """LLaVA-NeXT: a base image (the whole image squashed to one tile) and tiles of the best
    resolution, padded; the model unpads the tiles' grid and ends each row with a newline
    token. ``pack_image_features`` is run on coordinates to read the order it makes."""
    from transformers.models.llava_next.modeling_llava_next import (
        get_anyres_image_grid_shape,
        image_size_to_num_patches,
    )

    config = family.config
    pixels, sizes = inputs["pixel_values"], inputs.get("image_sizes")
    if sizes is None:
        raise VLMInputError(f"{family.name} needs image_sizes (the processor gives them)")
    if getattr(config, "vision_feature_select_strategy", "default") != "default":
        raise VLMInputError(f"{family.name}: only vision_feature_select_strategy='default' is read")
    tile = int(config.vision_config.image_size)
    specials, patch = _tower_specials(model)
    side = tile // patch[0]
    pack = _method(model, "pack_image_features")
    features, counts = [], []
    for image in range(int(sizes.shape[0])):
        count = image_size_to_num_patches(sizes[image], config.image_grid_pinpoints, tile)
        counts.append(count)
        coords = torch.stack(
            torch.meshgrid(torch.arange(count), torch.arange(side * side), indexing="ij"), -1
        )
        features.append(torch.cat([coords, torch.zeros(count, side * side, 1)], -1).float())
    packed, _ = pack(features, sizes, "default", image_newline=torch.tensor([-1.0, -1.0, 1.0]))
    positions = _positions_of(runs)
    needed = sum(int(p.shape[0]) for p in packed)
    if len(positions) != needed:
        raise _mismatch(family, len(positions), len(packed), "their sizes", needed)
    grid: dict[int, ImagePosition] = {}
    other: dict[int, tuple[int, str]] = {}
    images, vision, owners = [], [], []
    cursor, start = 0, 0
    for image, (order, count) in enumerate(zip(packed, counts, strict=True)):
        tiles = [unnormalise(pixels[image, t], processor) for t in range(count)]
        for t in range(count):
            vision.append(VisionInfo.build(family.name, tiles[t], (side, side), patch, specials))
            owners.append(image)
        nph, npw = get_anyres_image_grid_shape(sizes[image], config.image_grid_pinpoints, tile)
        cells = order[order[:, 2] == 0].long()
        tiled = cells[cells[:, 0] > 0]
        fine = [
            (((t - 1) // npw) * side + k // side, ((t - 1) % npw) * side + k % side)
            for t, k in tiled[:, :2].tolist()
        ]
        top = min((r for r, _ in fine), default=0)
        left = min((c for _, c in fine), default=0)
        height = max((r for r, _ in fine), default=-1) - top + 1
        width = max((c for _, c in fine), default=-1) - left + 1
        canvas = _assemble(tiles[1:], nph, npw) if count > 1 else tiles[0]
        seen = (
            canvas[
                top * patch[0] : (top + height) * patch[0],
                left * patch[1] : (left + width) * patch[1],
            ]
            if count > 1
            else canvas
        )
        views = [ImageView("tiles", (height, width), (1, 1), patch)] if count > 1 else []
        views.append(ImageView("base" if count > 1 else "image", (side, side), (1, 1), patch))
        images.append(
            VLMImage(
                image,
                seen,
                tuple(views),
                tuple(tiles),
                ("base", *(f"tile {t}" for t in range(1, count))),
            )
        )
        line = 0
        for entry in order.long().tolist():
            index = positions[cursor]
            cursor += 1
            t, k, newline = entry
            if newline:
                other[index] = (image, f"newline {line}")
                line += 1
            elif t == 0:
                grid[index] = ImagePosition(image, k // side, k % side, views[-1].name)
            else:
                r, c = ((t - 1) // npw) * side + k // side, ((t - 1) % npw) * side + k % side
                grid[index] = ImagePosition(image, r - top, c - left, "tiles")
        start += count
    return VLMInfo.build(family.name, labels, grid, images, other, vision, owners)


def _assemble(tiles: list[np.ndarray], rows: int, cols: int) -> np.ndarray:
    """Tiles in row-major order -> one image."""
    lines = [np.concatenate(tiles[r * cols : (r + 1) * cols], axis=1) for r in range(rows)]
    return np.ascontiguousarray(np.concatenate(lines, axis=0))


_ROW_COL = re.compile(r"<row_(\d+)_col_(\d+)>")


def _idefics3(family, model, inputs, processor, labels, runs):  # type: ignore[no-untyped-def]
    """Idefics3 / SmolVLM: images split into tiles (each run of image tokens follows its
    ``<row_i_col_j>`` token) and a global image (after ``<global-img>``); each tile's patches
    are pixel-shuffled, ``scale_factor`` x ``scale_factor`` patches per token."""
    pixels = inputs["pixel_values"][0]
    real = [t for t in range(pixels.shape[0]) if bool((pixels[t] != 0).any())]
    scale = int(family.config.scale_factor)
    _, patch = _tower_specials(model)
    tile = int(pixels.shape[-1])
    side = tile // patch[0]
    shuffle = _method(model, "connector").pixel_shuffle
    corner = shuffle(torch.arange(side * side, dtype=torch.float64).view(1, -1, 1), scale)
    corners = corner[0].min(-1).values.long().tolist()  # top-left patch of each token
    cells = [((k // side) // scale, (k % side) // scale) for k in corners]
    per_tile = len(cells)
    token_side = side // scale
    images: list[list[tuple[str, int, int]]] = []  # per image: (kind, row, col) per run
    pending: list[tuple[str, int, int]] = []
    for start, length in runs:
        if length != per_tile:
            raise _mismatch(family, length, 1, f"{side}x{side} patches / {scale}x{scale}", per_tile)
        before = labels[start - 1] if start > 0 else ""
        found = _ROW_COL.fullmatch(before)
        if found:
            pending.append(("tile", int(found.group(1)) - 1, int(found.group(2)) - 1))
        else:
            images.append([*pending, ("global", 0, 0)])
            pending = []
    if pending or sum(len(runs_of) for runs_of in images) != len(real):
        raise VLMInputError(
            f"{family.name}: {len(runs)} runs of image tokens do not match the {len(real)} "
            "image tiles given; build the inputs with the model's own processor"
        )
    grid: dict[int, ImagePosition] = {}
    infos, owners, built = [], [], []
    frame = 0
    run_index = 0
    for image, parts in enumerate(images):
        tiles = parts[:-1]
        n_rows = max((r for _, r, _ in tiles), default=-1) + 1
        n_cols = max((c for _, _, c in tiles), default=-1) + 1
        seen_tiles = []
        for kind, r, c in parts:
            seen = unnormalise(pixels[real[frame]], processor)
            seen_tiles.append(seen)
            infos.append(VisionInfo.build(family.name, seen, (side, side), patch))
            owners.append(image)
            start, _ = runs[run_index]
            name = "tiles" if kind == "tile" else ("global" if tiles else "image")
            for k, (tr, tc) in enumerate(cells):
                row, col = (
                    (r * token_side + tr, c * token_side + tc) if kind == "tile" else (tr, tc)
                )
                grid[start + k] = ImagePosition(image, row, col, name)
            frame += 1
            run_index += 1
        merge, grid_side = (scale, scale), (token_side, token_side)
        views: tuple[ImageView, ...]
        if tiles:
            views = (
                ImageView("tiles", (n_rows * token_side, n_cols * token_side), merge, patch),
                ImageView("global", grid_side, merge, patch),
            )
            whole = _assemble(seen_tiles[:-1], n_rows, n_cols)
            names = (*(f"tile ({r}, {c})" for _, r, c in tiles), "global")
        else:
            views = (ImageView("image", grid_side, merge, patch),)
            whole, names = seen_tiles[0], ("image",)
        built.append(VLMImage(image, whole, views, tuple(seen_tiles), names))
    return VLMInfo.build(family.name, labels, grid, built, None, infos, owners)


def _qwen2_vl(family, model, inputs, processor, labels, runs):  # type: ignore[no-untyped-def]
    """Qwen2-VL / Qwen2.5-VL: dynamic resolution (``image_grid_thw``: patches per image) and a
    ``spatial_merge_size`` merge (2 x 2 patches per token, in the processor's patch order);
    Qwen2.5-VL's tower attends in windows, over patches reordered window by window."""
    grids = inputs.get("image_grid_thw")
    if grids is None:
        raise VLMInputError(f"{family.name} needs image_grid_thw (the processor gives it)")
    vision_config = family.config.vision_config
    merge = int(vision_config.spatial_merge_size)
    patch = int(vision_config.patch_size)
    temporal = int(getattr(vision_config, "temporal_patch_size", 1))
    pixels = inputs["pixel_values"]
    positions = _positions_of(runs)
    needed = int(sum(int(t) * int(h) * int(w) for t, h, w in grids.tolist()) // merge**2)
    if len(positions) != needed:
        raise _mismatch(family, len(positions), int(grids.shape[0]), "their image_grid_thw", needed)
    orders = _tower_orders(family, grids, merge, patch)
    grid: dict[int, ImagePosition] = {}
    images, infos = [], []
    cursor = offset = 0
    for image, (t, h, w) in enumerate(grids.tolist()):
        if t != 1:
            raise VLMInputError(f"{family.name}: image {image} has {t} frames; videos are not read")
        count = h * w
        patches = pixels[offset : offset + count].reshape(
            h // merge, w // merge, merge, merge, -1, temporal, patch, patch
        )[..., 0, :, :]  # [h/m, w/m, m, m, C, p, p], the first of the repeated frames
        chw = patches.permute(4, 0, 2, 5, 1, 3, 6).reshape(-1, h * patch, w * patch)
        seen = unnormalise(chw, processor)
        view = ImageView("image", (h // merge, w // merge), (merge, merge), (patch, patch))
        images.append(VLMImage(image, seen, (view,), (seen,), ("image",)))
        infos.append(
            VisionInfo.build(family.name, seen, (h, w), (patch, patch), order=orders[image])
        )
        for k in range(count // merge**2):
            r, c = divmod(k, w // merge)
            grid[positions[cursor + k]] = ImagePosition(image, r, c)
        cursor += count // merge**2
        offset += count
    return VLMInfo.build(family.name, labels, grid, images, None, infos, list(range(len(images))))


def _tower_orders(
    family: VLMFamily, grids: torch.Tensor, merge: int, patch: int
) -> list[list[int]]:
    """Per image: the flat grid index (``r * w + c``) of each position of the tower's sequence
    (merge units in row-major order, each unit's patches row-major; Qwen2.5-VL: units window by
    window)."""
    orders = []
    units_before = 0
    window = getattr(family.config.vision_config, "window_size", None)
    reorder: list[int] | None = None
    if family.name == "qwen2_5_vl" and window:
        from transformers.vision_utils import get_vision_window_index

        index, _ = get_vision_window_index(grids, merge, int(window), patch)
        reorder = [int(u) for u in index.tolist()]
    for _, h, w in grids.tolist():
        units = (h // merge) * (w // merge)
        sequence = (
            range(units)
            if reorder is None
            else [u - units_before for u in reorder[units_before : units_before + units]]
        )
        order = []
        for unit in sequence:
            ur, uc = divmod(unit, w // merge)
            for k in range(merge * merge):
                dr, dc = divmod(k, merge)
                order.append((ur * merge + dr) * w + uc * merge + dc)
        orders.append(order)
        units_before += units
    return orders
