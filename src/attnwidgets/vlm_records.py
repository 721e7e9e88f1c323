"""Plain records of where a vision-language model's image tokens come from (numpy only).

A VLM's language model reads a sequence in which some positions stand for an image: LLaVA's
patches, LLaVA-NeXT's tiles (and base image, and newline tokens), Idefics3's pixel-shuffled
tiles and global image, Qwen2-VL's 2 x 2 merged patches, BLIP-2's query tokens. ``VLMInfo``
names every position (``<img 0 (r, c)>``), says its modality, maps each image token to
``(image, row, col, view)`` on a grid over the image, and turns one query's attention into a
``[rows, cols]`` map over that grid (the overlay the views draw).

A *view* is one grid of language-model tokens over the whole image: ``image`` for families that
see the image once; ``tiles`` (the tiles' tokens put back together) and ``global`` (Idefics3) or
``base`` (LLaVA-NeXT) for those that also see it whole at a lower resolution. A token's cell
covers ``merge`` vision patches (``(2, 2)`` for Qwen2-VL, ``(s, s)`` for pixel shuffle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from .vision_records import FloatArray, HeadChoice, UInt8Array, VisionInfo, fuse_heads

TEXT, IMAGE = "text", "image"


class ImagePosition(NamedTuple):
    """Where one image token comes from: ``image`` index, ``row`` and ``col`` in the grid of
    ``view``."""

    image: int
    row: int
    col: int
    view: str = "image"


@dataclass(frozen=True)
class ImageView:
    """One grid of language-model tokens laid over a whole image.

    ``grid`` ``(rows, cols)`` of tokens; ``merge`` ``(rows, cols)`` vision patches per token;
    ``patch_size`` pixels of a vision patch in the tower's input.
    """

    name: str
    grid: tuple[int, int]
    merge: tuple[int, int] = (1, 1)
    patch_size: tuple[int, int] = (1, 1)

    @property
    def patch_grid(self) -> tuple[int, int]:
        """The grid of vision patches under this view's tokens."""
        return (self.grid[0] * self.merge[0], self.grid[1] * self.merge[1])


@dataclass(frozen=True)
class VLMImage:
    """One image of a VLM run: the pixels as the model saw them and its token grids.

    ``image`` uint8 ``[H, W, 3]`` (normalisation undone; a tiled image put back together),
    ``views`` (the first is the finest), ``tiles`` each tower input made from this image (a
    tile, the global / base image), named in ``tile_names``.

    Example:
        >>> im = VLMImage(0, np.zeros((4, 6, 3), np.uint8), (ImageView("image", (2, 3)),))
        >>> im.pixel_map(np.arange(6, dtype=np.float32).reshape(2, 3))[:, ::2].tolist()
        [[0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [3.0, 4.0, 5.0]]
    """

    index: int
    image: UInt8Array | None = field(repr=False)
    views: tuple[ImageView, ...]
    tiles: tuple[UInt8Array, ...] = field(default=(), repr=False)
    tile_names: tuple[str, ...] = ()

    def view(self, name: str | None = None) -> ImageView:
        """The view called ``name`` (default: the first, finest one)."""
        if name is None:
            return self.views[0]
        for view in self.views:
            if view.name == name:
                return view
        names = ", ".join(repr(v.name) for v in self.views)
        raise ValueError(f"image {self.index} has no view {name!r}; its views are {names}")

    def pixel_map(self, grid_map: Any, view: str | None = None) -> FloatArray:
        """A ``[rows, cols]`` map of ``view`` spread over the image's pixels, ``[H, W]``: each
        cell fills the part of the image its token covers (a merged token: its whole block)."""
        values = np.asarray(grid_map, dtype=np.float32)
        rows, cols = self.view(view).grid
        if values.shape != (rows, cols):
            raise ValueError(f"map has shape {values.shape}; view {view!r} is {rows} x {cols}")
        if self.image is None:
            return values
        height, width = self.image.shape[:2]
        r = np.arange(height) * rows // height
        c = np.arange(width) * cols // width
        spread: FloatArray = values[r[:, None], c[None, :]]
        return spread


def image_label(position: ImagePosition, first_view: str) -> str:
    """``<img 0 (2, 3)>``; a token of another view names it: ``<img 0 global (1, 1)>``."""
    view = "" if position.view == first_view else f" {position.view}"
    return f"<img {position.image}{view} ({position.row}, {position.col})>"


@dataclass(frozen=True)
class VLMInfo:
    """How the images became positions of the language model's sequence.

    ``tokens``: a label per position (text tokens as the tokenizer reads them; image tokens
    ``<img i (r, c)>``, ``<img i [CLS]>``, ``<img i newline>``, ``<img i query k>``);
    ``modality``: ``"text"`` or ``"image"`` per position; ``positions``: sequence index ->
    ``ImagePosition`` for every image token on a grid; ``image_of``: sequence index -> image
    for every image token (grid or not); ``images``: one ``VLMImage`` each; ``vision``: one
    ``VisionInfo`` per vision-tower input (tiles included), naming the tower's own sequence,
    and ``vision_images`` the image each came from.

    Example:
        >>> views = (ImageView("image", (1, 2)),)
        >>> info = VLMInfo.build("llava", ["USER", "<image>", "<image>", "?"],
        ...                      {1: ImagePosition(0, 0, 0), 2: ImagePosition(0, 0, 1)},
        ...                      [VLMImage(0, None, views)])
        >>> info.tokens, info.modality
        (['USER', '<img 0 (0, 0)>', '<img 0 (0, 1)>', '?'], ['text', 'image', 'image', 'text'])
        >>> weights = np.zeros((1, 4, 4), np.float32); weights[0, 3, 2] = 1.0
        >>> info.image_map(weights, query=3, head=0).tolist()
        [[0.0, 1.0]]
    """

    family: str
    tokens: list[str] = field(repr=False)
    modality: list[str] = field(repr=False)
    positions: dict[int, ImagePosition] = field(repr=False)
    image_of: dict[int, int] = field(repr=False)
    images: list[VLMImage] = field(repr=False)
    vision: list[VisionInfo] = field(default_factory=list, repr=False)
    vision_images: list[int] = field(default_factory=list, repr=False)

    @classmethod
    def build(
        cls,
        family: str,
        text_labels: list[str],
        positions: dict[int, ImagePosition],
        images: list[VLMImage],
        other: dict[int, tuple[int, str]] | None = None,
        vision: list[VisionInfo] | None = None,
        vision_images: list[int] | None = None,
    ) -> VLMInfo:
        """Labels from ``text_labels`` (one per position), replaced at image positions;
        ``other``: image tokens without a grid cell, ``{index: (image, what)}``."""
        tokens = list(text_labels)
        image_of: dict[int, int] = {}
        for index, position in positions.items():
            tokens[index] = image_label(position, images[position.image].views[0].name)
            image_of[index] = position.image
        for index, (image, what) in (other or {}).items():
            tokens[index] = f"<img {image} {what}>"
            image_of[index] = image
        modality = [IMAGE if i in image_of else TEXT for i in range(len(tokens))]
        return cls(
            family,
            tokens,
            modality,
            dict(sorted(positions.items())),
            dict(sorted(image_of.items())),
            images,
            list(vision or []),
            list(vision_images or []),
        )

    def grid_index(self, image: int = 0, view: str | None = None) -> dict[int, tuple[int, int]]:
        """Sequence index -> ``(row, col)`` of every token of ``image`` in ``view``."""
        if not 0 <= image < len(self.images):
            raise IndexError(
                f"image {image} out of range: this run has {len(self.images)} image(s)"
            )
        name = self.images[image].view(view).name
        return {
            index: (p.row, p.col)
            for index, p in self.positions.items()
            if p.image == image and p.view == name
        }

    def to_map(self, row: Any, image: int = 0, view: str | None = None) -> FloatArray:
        """One attention row over the sequence (``[keys]``, keys beyond the prompt allowed)
        -> ``[rows, cols]`` over ``view`` of ``image``: each cell holds the weight of the token
        that stands for it; positions that are no grid cell are left out."""
        values = np.asarray(row, dtype=np.float32)
        if values.ndim != 1 or values.shape[0] < len(self.tokens):
            raise ValueError(
                f"attention row has shape {values.shape}; give one query's row over the "
                f"{len(self.tokens)} positions of the sequence (or more, after generation)"
            )
        rows, cols = self.images[image].view(view).grid
        grid = np.zeros((rows, cols), np.float32)
        for index, cell in self.grid_index(image, view).items():
            grid[cell] = values[index]
        return grid

    def image_map(
        self,
        layer_weights: Any,
        query: int,
        head: HeadChoice = "mean",
        image: int = 0,
        view: str | None = None,
    ) -> FloatArray:
        """``[heads, query, key]`` weights of one language-model layer -> the ``[rows, cols]``
        map of ``query``'s attention to ``image`` (its ``view``), with ``head`` an index or
        ``"mean"`` / ``"max"`` / ``"min"`` over heads."""
        weights = np.asarray(layer_weights, np.float32)
        if weights.ndim != 3:
            raise ValueError(f"layer weights have shape {weights.shape}; give [heads, query, key]")
        if not -weights.shape[1] <= query < weights.shape[1]:
            raise IndexError(
                f"query {query} out of range: this layer has queries 0..{weights.shape[1] - 1}"
            )
        return self.to_map(fuse_heads(weights[:, query], head), image, view)

    def image_share(self, row: Any) -> float:
        """The weight one attention row gives image tokens (all images, every kind)."""
        values = np.asarray(row, dtype=np.float32)
        return float(sum(values[i] for i in self.image_of))
