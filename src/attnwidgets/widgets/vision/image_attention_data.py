"""What ImageAttentionView sends to the browser (numpy only; read by ``js/vision/``).

- ``layout_of``: how each layer's sequence maps onto the image (grids, cells, heads, specials).
- ``quantize_rows``: attention rows as uint8 with one scale per row (``value = byte² *
  scale``, scale = the row's max / 255²), so a flat row of 1/197 keeps its levels however
  peaked another row of the same head is, and small weights keep their mass.
- ``layer_value`` / ``rows_value``: one layer ``[heads, N, N]`` or one query's rows
  ``[heads, N]``, packed with their scales in one buffer (``arrays.packed_value``, read by
  ``readPackedValue``; uint8 kept as uint8).
- ``head_maps_value``: every layer x head map of [CLS] (or of the mean patch query) over its grid.
- ``rollout_value``: ``aw.rollout`` over the layers of one grid (Swin: one stage).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ...records import AttentionRecord
from ...vision_records import FloatArray, VisionInfo
from ...vision_rollout import rollout
from ..arrays import array_value, packed_value

LAYER_CELLS = 1 << 22
"""A layer of at most this many cells (heads x N x N; 4 Mi bytes) goes to the browser whole,
the first one in the widget's state; beyond it (DINOv2 at 518 px: 12 x 1370^2 = 22 M) the first
paint comes from one query's rows (``mode = "rows"``)."""

FETCH_CELLS = 1 << 25
"""In rows mode, a layer of at most this many cells (32 Mi bytes) is still sent whole when the
browser asks, after the first paint, so that later clicks need no round trip."""

MEAN_QUERY = "mean over patch queries"


def quantize_rows(weights: npt.ArrayLike) -> tuple[npt.NDArray[np.uint8], FloatArray, bool]:
    """``[..., N]`` non-negative weights -> uint8 ``[..., N]``, float32 scales ``[...]`` and
    whether any weight was NaN (drawn as 0; negative and infinite weights are clipped too).

    Square-root coding: ``byte = round(255 * sqrt(value / row max))``, ``value = byte² *
    scale`` with ``scale = row max / 255²``. Small weights keep their mass (the smallest step
    is max / 65025, not max / 255), so the shares of a row still add up to 1 within 1e-3.

    Example:
        >>> q, scale, nan = quantize_rows(np.array([[0.64, 0.16, 0.0], [0.0, 0.0, 0.0]]))
        >>> q.tolist(), (q[0].astype(float) ** 2 * scale[0]).round(4).tolist(), nan
        ([[255, 128, 0], [0, 0, 0]], [0.64, 0.1613, 0.0], False)
    """
    values = np.asarray(weights, dtype=np.float32)
    nan = bool(np.isnan(values).any())
    clean = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    np.maximum(clean, 0.0, out=clean)
    top = clean.max(axis=-1) if clean.shape[-1] else np.zeros(clean.shape[:-1], np.float32)
    scale = (top / 65025.0).astype(np.float32)
    clean /= np.where(top > 0, top, 1.0)[..., None]
    np.sqrt(clean, out=clean)
    clean *= 255.0
    quantized = np.rint(clean, out=clean).clip(0, 255).astype(np.uint8)
    return quantized, scale, nan


def layout_of(info: VisionInfo, record: AttentionRecord) -> dict[str, Any]:
    """Per layer: ``grid`` [rows, cols], ``cell`` [h, w] px, ``heads``, ``size`` (sequence
    length) and ``own`` (Swin: the layer's tokens are its own grid, row-major); globally the
    image shape, the patch grid and size, ``positions`` ([r, c] or None per token) and the
    index of [CLS] (-1 without one). Raises when a layer's length does not fit ``info``."""
    layers = []
    for index, weights in enumerate(record):
        heads, queries, keys = weights.shape
        expected = len(info.positions_of(index if info.layer_grids else None))
        if queries != keys or keys != expected:
            raise ValueError(
                f"layer {index} attention is [{heads}, {queries}, {keys}] but the image layout "
                f"({info.family}, grid {info.grid_of(index)}) has {expected} positions: the "
                "record and the VisionInfo come from different runs"
            )
        own = index if info.layer_grids else None
        layers.append({"grid": list(info.grid_of(own)), "cell": list(info.cell_of(own)),
                       "heads": int(heads), "size": int(keys), "own": own is not None})  # fmt: skip
    cls = info.tokens.index("[CLS]") if "[CLS]" in info.tokens else -1
    height, width = image_shape(info)
    return {
        "family": info.family,
        "image_shape": [height, width],
        "patch_grid": list(info.patch_grid),
        "patch_size": list(info.patch_size),
        "positions": [list(p) if p is not None else None for p in info.positions],
        "cls": cls,
        "layers": layers,
    }


def layer_query(info: VisionInfo, layer: int, query: int) -> int:
    """``query`` (an index into ``info.tokens``) in ``layer``'s own sequence: the same index,
    except where the layer has its own grid (Swin), where it is the cell holding the query
    patch's centre.

    Example:
        >>> info = VisionInfo.build("swin", None, (4, 4), (4, 4), layer_grids=[(4, 4), (2, 2)],
        ...                         layer_cells=[(4, 4), (8, 8)])
        >>> layer_query(info, 0, 11), layer_query(info, 1, 11)  # patch (2, 3) -> cell (1, 1)
        (11, 3)
    """
    if not info.layer_grids:
        return query
    position = info.positions[query]
    if position is None:
        return query
    rows, cols = info.grid_of(layer)
    cell_h, cell_w = info.cell_of(layer)
    patch_h, patch_w = info.patch_size
    row = min(rows - 1, int((position[0] + 0.5) * patch_h // cell_h))
    col = min(cols - 1, int((position[1] + 0.5) * patch_w // cell_w))
    return row * cols + col


def image_shape(info: VisionInfo) -> tuple[int, int]:
    """The image's (height, width), or the grid's size in pixels when the run kept no image."""
    if info.image is not None:
        return int(info.image.shape[0]), int(info.image.shape[1])
    return (info.patch_grid[0] * info.patch_size[0], info.patch_grid[1] * info.patch_size[1])


def image_value(info: VisionInfo) -> dict[str, Any]:
    """The image as uint8 ``[H, W, 3]`` (mid grey when the run kept none)."""
    if info.image is None:
        return array_value(np.full((*image_shape(info), 3), 128, np.uint8), "uint8", grey=True)
    return array_value(info.image, "uint8")


def layer_value(record: AttentionRecord, layer: int) -> dict[str, Any]:
    """One layer ``[heads, N, N]`` as uint8 rows + ``scale`` ``[heads, N]`` (head by head:
    the float scratch is one head, not the layer)."""
    heads, queries, keys = record[layer].shape
    weights = np.empty((heads, queries, keys), np.uint8)
    scale = np.empty((heads, queries), np.float32)
    nan = False
    for head in range(heads):
        weights[head], scale[head], head_nan = quantize_rows(record[layer][head])
        nan = nan or head_nan
    return packed_value({"weights": weights, "scale": scale}, layer=layer, nan=nan)


def rows_value(record: AttentionRecord, layer: int, query: int) -> dict[str, Any]:
    """One query's rows of one layer, ``[heads, N]`` uint8 + ``scale`` ``[heads]``."""
    weights, scale, nan = quantize_rows(record[layer][:, query, :])
    return packed_value({"weights": weights, "scale": scale}, layer=layer, query=query, nan=nan)


def _grid_index(info: VisionInfo, layer: int) -> tuple[list[int], list[int]]:
    """Sequence indices of the layer's patches and their flat grid cells."""
    positions = info.positions_of(layer if info.layer_grids else None)
    cols = info.grid_of(layer if info.layer_grids else None)[1]
    pairs = [(i, p[0] * cols + p[1]) for i, p in enumerate(positions) if p is not None]
    return [i for i, _ in pairs], [cell for _, cell in pairs]


def head_maps(info: VisionInfo, record: AttentionRecord, layer: int) -> FloatArray:
    """``[heads, rows, cols]``: every head's [CLS] row over the grid (the mean of the patch
    queries' rows without a [CLS], e.g. SigLIP and Swin)."""
    weights = record[layer]
    sequence, cells = _grid_index(info, layer)
    cls = info.tokens.index("[CLS]") if "[CLS]" in info.tokens and not info.layer_grids else -1
    rows = weights[:, cls, :] if cls >= 0 else weights[:, sequence, :].mean(axis=1)
    grid = info.grid_of(layer if info.layer_grids else None)
    out = np.zeros((weights.shape[0], grid[0] * grid[1]), np.float32)
    out[:, cells] = rows[:, sequence]
    return out.reshape(weights.shape[0], *grid)


def head_maps_value(info: VisionInfo, record: AttentionRecord) -> dict[str, Any]:
    """Every layer's ``head_maps`` as uint8 ``maps.<layer>`` ``[heads, rows, cols]`` + float32
    ``scale.<layer>`` ``[heads]`` (each map to its own max); ``query`` names what was mapped."""
    arrays: dict[str, Any] = {}
    for layer in range(len(record)):
        maps = head_maps(info, record, layer)
        quantized, scale, _ = quantize_rows(maps.reshape(maps.shape[0], -1))
        arrays[f"maps.{layer}"] = quantized.reshape(maps.shape)
        arrays[f"scale.{layer}"] = scale
    has_cls = "[CLS]" in info.tokens and not info.layer_grids
    return packed_value(arrays, query="[CLS]" if has_cls else MEAN_QUERY)


def stage_layers(info: VisionInfo, n_layers: int, layer: int) -> list[int]:
    """The layers that share ``layer``'s grid (all of them, except across Swin's stages)."""
    if not info.layer_grids:
        return list(range(n_layers))
    return [i for i in range(n_layers) if info.grid_of(i) == info.grid_of(layer)]


def rollout_value(
    info: VisionInfo, record: AttentionRecord, layer: int, fusion: str, discard: float
) -> dict[str, Any]:
    """``aw.rollout`` over the layers of ``layer``'s grid, as float32 ``[rows, cols]``."""
    layers = stage_layers(info, len(record), layer)
    grid_map = rollout(record, fusion, discard, info=info, layers=layers)  # type: ignore[arg-type]
    positions = info.positions_of(layers[0] if info.layer_grids else None)
    specials = [i for i, p in enumerate(positions) if p is None]
    return array_value(
        grid_map,
        "float32",
        layers=layers,
        head_fusion=fusion,
        discard_ratio=discard,
        query=info.tokens[specials[0]] if specials else MEAN_QUERY,
    )
