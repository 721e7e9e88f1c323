"""What CrossModalView sends to the browser (numpy only; read by ``js/vlm/``).

The language model's attention, cut to what the view draws: the rows of the text positions
(the query candidates, generated tokens included) over the columns of the image positions.

- ``CrossModalLayout``: which positions are text rows and image keys, and each *surface* (one
  image x one view: ``image``, LLaVA-NeXT's ``tiles`` / ``base``, Idefics3's ``tiles`` /
  ``global``) with, for every image key, its cell on that surface's grid (-1: not on it).
- ``block_value``: one layer's ``[heads, text rows, image keys]`` block as uint8 with
  square-root coding (``value = byte² * scale``, one scale per row; see
  ``image_attention_data.quantize_rows``), and each row's exact share of its attention on the
  image tokens and on the text tokens (float32 ``[heads, rows]``).
- ``head_shares_value``: a layers x heads grid of the mean share of text rows on image tokens
  and on text tokens (rows that come after the first image token: those that can see it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...records import AttentionRecord
from ...vlm_records import IMAGE, TEXT, VLMInfo
from ..arrays import packed_value
from ..vision.image_attention_data import quantize_rows


@dataclass(frozen=True)
class CrossModalLayout:
    """``rows``: the text positions (queries shown), ``keys``: the image positions, in sequence
    order; ``surfaces``: one dict per image x view (``name``, ``image``, ``view``, ``grid``,
    ``cell`` [h, w] image px per cell, ``cells``: per key its flat cell or -1);
    ``first_image``: the first image position (text rows after it can see the image)."""

    rows: list[int]
    keys: list[int]
    surfaces: list[dict[str, Any]]
    first_image: int

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "keys": self.keys,
            "surfaces": self.surfaces,
            "first_image": self.first_image,
        }


def layout_of(info: VLMInfo, sequence: int) -> CrossModalLayout:
    """The layout of a run whose language model saw ``sequence`` positions (the prompt, and
    after a generation every token fed).

    Example:
        >>> from attnwidgets.vlm_records import ImagePosition, ImageView, VLMImage
        >>> views = (ImageView("image", (1, 2)),)
        >>> info = VLMInfo.build("llava", ["USER", "<image>", "<image>", "?"],
        ...                      {1: ImagePosition(0, 0, 0), 2: ImagePosition(0, 0, 1)},
        ...                      [VLMImage(0, np.zeros((4, 8, 3), np.uint8), views)])
        >>> layout = layout_of(info, 5)
        >>> layout.rows, layout.keys, layout.surfaces[0]["cells"], layout.surfaces[0]["cell"]
        ([0, 3, 4], [1, 2], [0, 1], [4.0, 4.0])
    """
    modality = info.modality + [TEXT] * max(0, sequence - len(info.modality))
    rows = [i for i in range(sequence) if modality[i] == TEXT]
    keys = [i for i in range(sequence) if modality[i] == IMAGE]
    column = {position: k for k, position in enumerate(keys)}
    surfaces = []
    for image in info.images:
        height, width = _shape(image.image, image.views[0].patch_grid)
        for view in image.views:
            cells = [-1] * len(keys)
            rows_, cols = view.grid
            for position, (r, c) in info.grid_index(image.index, view.name).items():
                if position in column:
                    cells[column[position]] = r * cols + c
            if all(c < 0 for c in cells):
                continue
            name = f"image {image.index}" + (f" · {view.name}" if len(image.views) > 1 else "")
            surfaces.append({"name": name, "image": image.index, "view": view.name,
                             "grid": [rows_, cols], "cell": [height / rows_, width / cols],
                             "cells": cells})  # fmt: skip
    return CrossModalLayout(rows, keys, surfaces, keys[0] if keys else -1)


def _shape(image: Any, grid: tuple[int, int]) -> tuple[int, int]:
    if image is None:
        return grid[0] * 8, grid[1] * 8
    return int(image.shape[0]), int(image.shape[1])


def images_value(info: VLMInfo) -> dict[str, Any]:
    """Every image as uint8 ``[H, W, 3]``, packed as ``image.<i>`` (mid grey when the run kept
    none)."""
    arrays = {}
    for image in info.images:
        height, width = _shape(image.image, image.views[0].patch_grid)
        pixels = image.image if image.image is not None else np.full((height, width, 3), 128)
        arrays[f"image.{image.index}"] = np.asarray(pixels, np.uint8)
    return packed_value(arrays)


def block_value(record: AttentionRecord, layer: int, layout: CrossModalLayout) -> dict[str, Any]:
    """Layer ``layer`` of ``record`` (the language model's layers) cut to ``[heads, rows,
    keys]``: uint8 ``weights`` + float32 ``scale`` ``[heads, rows]`` (``value = byte² *
    scale``), and float32 ``image`` / ``text`` ``[heads, rows]``: each row's exact share on the
    image and the text tokens."""
    weights = np.asarray(record[layer], np.float32)
    rows = np.asarray(layout.rows, np.int64)
    keys = np.asarray(layout.keys, np.int64)
    text_keys = np.setdiff1d(np.arange(weights.shape[-1]), keys)
    by_rows = weights[:, rows, :]
    quantized, scale, nan = quantize_rows(by_rows[:, :, keys])
    image = np.nansum(by_rows[:, :, keys], axis=-1, dtype=np.float32)
    text = np.nansum(by_rows[:, :, text_keys], axis=-1, dtype=np.float32)
    return packed_value(
        {"weights": quantized, "scale": scale, "image": image, "text": text}, layer=layer, nan=nan
    )


def head_shares(record: AttentionRecord, layers: list[int], layout: CrossModalLayout) -> Any:
    """``[2, layers, heads]`` float32: the mean share of the text rows' attention on image
    tokens (0) and on text tokens (1), over the text rows after the first image token."""
    seeing = [r for r in layout.rows if r > layout.first_image >= 0]
    keys = np.asarray(layout.keys, np.int64)
    heads = max(int(record[i].shape[0]) for i in layers) if layers else 0
    out = np.zeros((2, len(layers), heads), np.float32)
    if not seeing:
        return out
    for index, layer in enumerate(layers):
        weights = np.asarray(record[layer], np.float32)[:, seeing, :]
        image = np.nansum(weights[:, :, keys], axis=-1)
        total = np.nansum(weights, axis=-1)
        out[0, index, : weights.shape[0]] = image.mean(axis=1)
        out[1, index, : weights.shape[0]] = (total - image).mean(axis=1)
    return out


def head_shares_value(
    record: AttentionRecord, layers: list[int], layout: CrossModalLayout
) -> dict[str, Any]:
    """``head_shares`` packed as float32 ``image`` and ``text`` ``[layers, heads]``, with the
    number of rows averaged (``rows``)."""
    shares = head_shares(record, layers, layout)
    rows = sum(1 for r in layout.rows if r > layout.first_image >= 0)
    return packed_value({"image": shares[0], "text": shares[1]}, rows=rows)
