"""Plain records of how an image became a sequence (numpy only, no torch).

``VisionInfo`` names every position of a vision transformer's sequence (``[CLS]``, ``[DIST]``,
``[REG0]``..., patches ``(r, c)``), gives the image as the model saw it, and turns one query's
attention row into a ``[rows, cols]`` map over the image (the overlay the views draw).
``WindowLayout`` maps Swin's windowed attention (window partition, cyclic shift, padding) back
to the stage's grid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
UInt8Array = npt.NDArray[np.uint8]
Position = tuple[int, int] | None
HeadChoice = int | Literal["mean", "max", "min"]


def patch_label(row: int, col: int) -> str:
    """The token label of the patch at ``(row, col)``: ``'(1, 2)'``."""
    return f"({row}, {col})"


def fuse_heads(weights: Any, how: HeadChoice) -> FloatArray:
    """One head (an int) or the heads fused (``"mean"``, ``"max"``, ``"min"``) over axis 0.

    Example:
        >>> fuse_heads(np.array([[0.25, 0.75], [0.5, 0.5]]), "max").tolist()
        [0.5, 0.75]
    """
    array = np.asarray(weights, dtype=np.float32)
    if isinstance(how, (int, np.integer)) and not isinstance(how, bool):
        if not -array.shape[0] <= how < array.shape[0]:
            raise IndexError(f"head {how} out of range: there are heads 0..{array.shape[0] - 1}")
        fused: FloatArray = array[how]
    elif how == "mean":
        fused = array.mean(axis=0)
    elif how == "max":
        fused = array.max(axis=0)
    elif how == "min":
        fused = array.min(axis=0)
    else:
        raise ValueError(f"head must be an int or one of 'mean', 'max', 'min', not {how!r}")
    return fused


@dataclass(frozen=True)
class WindowLayout:
    """Swin's windowed attention of one layer, mapped to the stage's grid.

    The stage's ``grid`` (rows, cols) is padded at the bottom/right to a multiple of ``window``,
    rolled by ``-shift`` on both axes (shifted windows), then cut into windows in row-major
    order, each read row-major. ``index[w, i]`` is the flat grid position (``r * cols + c``) of
    token ``i`` of window ``w``, or ``-1`` for padding.

    Example:
        >>> layout = WindowLayout(grid=(4, 4), window=2, shift=1)
        >>> layout.index[0].tolist()  # window 0 holds (1, 1), (1, 2), (2, 1), (2, 2)
        [5, 6, 9, 10]
        >>> WindowLayout(grid=(3, 3), window=2, shift=0).index[3].tolist()  # padded corner
        [8, -1, -1, -1]
    """

    grid: tuple[int, int]
    window: int
    shift: int

    @property
    def padded(self) -> tuple[int, int]:
        rows, cols = self.grid
        return (-(-rows // self.window) * self.window, -(-cols // self.window) * self.window)

    @property
    def index(self) -> IntArray:
        """``[windows, window * window]`` flat grid positions, ``-1`` for padding."""
        rows, cols = self.grid
        height, width = self.padded
        w = self.window
        y = np.arange(height).reshape(height // w, 1, w, 1)  # shifted-grid row of (wr, wc, i, j)
        x = np.arange(width).reshape(1, width // w, 1, w)
        r = (y + self.shift) % height  # roll(-shift) means shifted[y] = original[y + shift]
        c = (x + self.shift) % width
        r, c = np.broadcast_arrays(r, c)
        flat = np.where((r < rows) & (c < cols), r * cols + c, -1)
        index: IntArray = flat.reshape(-1, w * w).astype(np.int64)
        return index

    @property
    def windows(self) -> int:
        height, width = self.padded
        return (height // self.window) * (width // self.window)

    def to_dense(self, weights: Any) -> FloatArray:
        """``[windows, heads, w*w, w*w]`` windowed weights -> ``[heads, N, N]`` over the grid
        (``N = rows * cols``, row-major), zero between tokens of different windows. Weight a
        query gave to padding is dropped, so such rows sum to less than 1."""
        block = np.asarray(weights, dtype=np.float32)
        n = self.grid[0] * self.grid[1]
        index = self.index
        if block.ndim != 4 or block.shape[0] != len(index) or block.shape[2] != index.shape[1]:
            raise ValueError(
                f"windowed weights have shape {block.shape}; this layout expects "
                f"[{len(index)} windows, heads, {index.shape[1]}, {index.shape[1]}]"
            )
        queries = np.broadcast_to(index[:, :, None], block.shape[:1] + block.shape[2:])
        keys = np.broadcast_to(index[:, None, :], queries.shape)
        valid = (queries >= 0) & (keys >= 0)
        dense = np.zeros((block.shape[1], n, n), np.float32)
        dense[:, queries[valid], keys[valid]] = block.transpose(1, 0, 2, 3)[:, valid]
        return dense


@dataclass(frozen=True)
class VisionInfo:
    """How one image became the model's sequence.

    ``image``: uint8 ``[H, W, 3]`` as the model saw it (resized / cropped, normalisation
    undone). ``patch_grid`` ``(rows, cols)`` and ``patch_size`` ``(h, w)`` in pixels.
    ``tokens`` / ``positions``: one per sequence index, ``(row, col)`` for a patch, None for a
    special token. Per attention layer (Swin merges patches between stages and attends in
    windows): ``layer_grids``, ``layer_cells`` (pixels per cell) and ``windows``.

    Example:
        >>> info = VisionInfo.build("vit", None, (2, 3), (16, 16), ["[CLS]"])
        >>> info.tokens[:3], info.positions[:2]
        (['[CLS]', '(0, 0)', '(0, 1)'], [None, (0, 0)])
        >>> row = np.zeros(7, np.float32); row[5] = 1.0   # all attention on patch (1, 1)
        >>> info.to_map(row).tolist()
        [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """

    family: str
    image: UInt8Array | None = field(repr=False)
    patch_grid: tuple[int, int]
    patch_size: tuple[int, int]
    tokens: list[str] = field(repr=False)
    positions: list[Position] = field(repr=False)
    layer_grids: list[tuple[int, int]] = field(default_factory=list, repr=False)
    layer_cells: list[tuple[int, int]] = field(default_factory=list, repr=False)
    windows: list[WindowLayout | None] = field(default_factory=list, repr=False)
    pooling: FloatArray | None = field(default=None, repr=False)
    """SigLIP: the pooling head's probe attention ``[heads, N]`` (what it gathers)."""

    @classmethod
    def build(
        cls,
        family: str,
        image: UInt8Array | None,
        grid: tuple[int, int],
        patch_size: tuple[int, int],
        before: Sequence[str] = (),
        after: Sequence[str] = (),
        order: Sequence[int] | None = None,
        **layers: Any,
    ) -> VisionInfo:
        """Specials ``before`` the patches, patches in ``order`` (flat grid indices; default
        row-major, every patch), specials ``after``."""
        rows, cols = grid
        flat = range(rows * cols) if order is None else order
        patches: list[Position] = [divmod(int(i), cols) for i in flat]
        positions = [None] * len(before) + patches + [None] * len(after)
        labels = [patch_label(*p) if p is not None else "" for p in patches]
        tokens = [*before, *labels, *after]
        return cls(family, image, grid, patch_size, tokens, positions, **layers)

    def grid_of(self, layer: int | None = None) -> tuple[int, int]:
        """The grid of ``layer`` (Swin: its stage's), or the patch grid."""
        return (
            self.layer_grids[layer] if layer is not None and self.layer_grids else self.patch_grid
        )

    def cell_of(self, layer: int | None = None) -> tuple[int, int]:
        """Pixels per grid cell at ``layer`` (Swin: patch size x 2 per merge)."""
        return (
            self.layer_cells[layer] if layer is not None and self.layer_cells else self.patch_size
        )

    def positions_of(self, layer: int | None = None) -> list[Position]:
        """Grid position of every sequence index of ``layer``'s attention."""
        if layer is None or not self.layer_grids:
            return self.positions
        rows, cols = self.layer_grids[layer]
        return [divmod(i, cols) for i in range(rows * cols)]

    def tokens_of(self, layer: int | None = None) -> list[str]:
        """Token labels of ``layer``'s attention (Swin stages have their own grids)."""
        if layer is None or not self.layer_grids:
            return self.tokens
        return [patch_label(*p) for p in self.positions_of(layer) if p is not None]

    def to_map(self, row: Any, layer: int | None = None) -> FloatArray:
        """One attention row over the sequence (``[keys]``) -> ``[rows, cols]`` over the grid;
        special tokens' share is left out (see ``special_share``)."""
        values = np.asarray(row, dtype=np.float32)
        positions = self.positions_of(layer)
        if values.shape != (len(positions),):
            raise ValueError(
                f"attention row has shape {values.shape}; layer {layer} has {len(positions)} "
                "positions (give one query's row, [keys])"
            )
        rows, cols = self.grid_of(layer)
        grid = np.zeros((rows, cols), np.float32)
        for index, position in enumerate(positions):
            if position is not None:
                grid[position] = values[index]
        return grid

    def special_share(self, row: Any) -> dict[str, float]:
        """The weight one attention row gives each special token, by name."""
        values = np.asarray(row, dtype=np.float32)
        return {
            self.tokens[i]: float(values[i])
            for i, position in enumerate(self.positions)
            if position is None
        }

    def query_map(
        self, layer_weights: Any, query: int, head: HeadChoice = "mean", layer: int | None = None
    ) -> FloatArray:
        """``[heads, query, key]`` weights of one layer -> the ``[rows, cols]`` map of
        ``query``'s attention with ``head`` (an index, or ``"mean"`` / ``"max"`` / ``"min"``).

        Example:
            >>> info = VisionInfo.build("vit", None, (1, 2), (4, 4), ["[CLS]"])
            >>> weights = np.eye(3, dtype=np.float32)[None]
            >>> info.query_map(weights, query=2, head=0).tolist()
            [[0.0, 1.0]]
        """
        fused = fuse_heads(np.asarray(layer_weights, np.float32)[:, query], head)
        return self.to_map(fused, layer)

    def pixel_map(self, grid_map: Any, layer: int | None = None) -> FloatArray:
        """A ``[rows, cols]`` map spread over the image's pixels: ``[H, W]``, each cell filling
        its patch (pixels no patch covers stay 0)."""
        values = np.asarray(grid_map, dtype=np.float32)
        cell_h, cell_w = self.cell_of(layer)
        spread = np.repeat(np.repeat(values, cell_h, axis=0), cell_w, axis=1)
        if self.image is None:
            return spread
        height, width = self.image.shape[:2]
        out = np.zeros((height, width), np.float32)
        h, w = min(height, spread.shape[0]), min(width, spread.shape[1])
        out[:h, :w] = spread[:h, :w]
        return out


def top_k(logits: Any, id2label: Mapping[Any, str] | None, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` most probable labels of one image's logits (softmax), best first.

    Example:
        >>> [(label, round(p, 3)) for label, p in top_k([0.0, 2.0, 1.0], {1: "dog", 2: "owl"}, 2)]
        [('dog', 0.665), ('owl', 0.245)]
    """
    values = np.asarray(logits, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"logits have shape {values.shape}; give one image's [classes]")
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    shifted = np.exp(values - values.max())
    probabilities = shifted / shifted.sum()
    labels = dict(id2label or {})
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [(_label(labels, int(i)), float(probabilities[i])) for i in order]


def _label(labels: dict[Any, str], index: int) -> str:
    return str(labels.get(index, labels.get(str(index), str(index))))
