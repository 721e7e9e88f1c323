"""Image-token layouts of the families that cut or merge: LLaVA-NeXT (tiles, base image,
unpadding, newlines), Idefics3 / SmolVLM (tiles, global image, pixel shuffle), Qwen2-VL /
Qwen2.5-VL (dynamic resolution, 2 x 2 merge, windows). Called by ``vlm_layout.describe``."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import torch

from ...vision_records import VisionInfo
from ...vlm_records import ImagePosition, ImageView, VLMImage, VLMInfo
from .images import ImageInputError, unnormalise
from .vlm_layout import VLMFamily, VLMInputError, mismatch_error, positions_of_runs, tower_specials


def _method(model: torch.nn.Module, name: str) -> Any:
    for owner in (getattr(model, "model", None), model):
        found = getattr(owner, name, None)
        if callable(found):
            return found
    raise ImageInputError(f"{type(model).__name__} has no {name}()")


def llava_next_layout(family, model, inputs, processor, labels, runs):  # type: ignore[no-untyped-def]
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
    specials, patch = tower_specials(model)
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
    positions = positions_of_runs(runs)
    needed = sum(int(p.shape[0]) for p in packed)
    if len(positions) != needed:
        raise mismatch_error(family, len(positions), len(packed), "their sizes", needed)
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


def idefics3_layout(family, model, inputs, processor, labels, runs):  # type: ignore[no-untyped-def]
    """Idefics3 / SmolVLM: images split into tiles (each run of image tokens follows its
    ``<row_i_col_j>`` token) and a global image (after ``<global-img>``); each tile's patches
    are pixel-shuffled, ``scale_factor`` x ``scale_factor`` patches per token."""
    pixels = inputs["pixel_values"][0]
    real = [t for t in range(pixels.shape[0]) if bool((pixels[t] != 0).any())]
    scale = int(family.config.scale_factor)
    _, patch = tower_specials(model)
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
            raise mismatch_error(
                family, length, 1, f"{side}x{side} patches / {scale}x{scale}", per_tile
            )
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


def qwen2_vl_layout(family, model, inputs, processor, labels, runs):  # type: ignore[no-untyped-def]
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
    positions = positions_of_runs(runs)
    needed = int(sum(int(t) * int(h) * int(w) for t, h, w in grids.tolist()) // merge**2)
    if len(positions) != needed:
        raise mismatch_error(
            family, len(positions), int(grids.shape[0]), "their image_grid_thw", needed
        )
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
