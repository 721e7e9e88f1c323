"""PatchingView: how an image becomes a sequence (numpy + traitlets, no torch).

The image cut into its patch grid with each patch numbered by its place in the sequence; the
flattened sequence below it (special tokens included, in order); the norm of each patch's
embedding (the patch projection's output) as a heatmap; and, for a clicked patch, the cosine
similarity of its position embedding to every other patch's as a map over the grid.

Everything is sent up front (small: ``[rows, cols]`` norms, ``[P, P]`` uint8 cosines), so an
exported page keeps working without a kernel.
"""

from __future__ import annotations

from typing import Any

import anywidget
import numpy as np
import numpy.typing as npt
import traitlets

from ...vision_records import VisionInfo
from ..arrays import array_value
from ..bundles import bundle, require_bundle
from ..inputs import clean_text
from .image_attention_data import image_shape, image_value

BUNDLE = "patching_view.js"
MAX_SIMILARITY = 2048
"""Patches beyond which the cosine table (P x P bytes) is not sent."""


def _grid_array(value: npt.ArrayLike, grid: tuple[int, int], name: str) -> npt.NDArray[np.float32]:
    array = np.asarray(value, dtype=np.float32)
    rows, cols = grid
    if array.ndim == 2 and array.shape[0] == rows * cols:
        array = array.reshape(rows, cols, -1)
    if array.ndim != 3 or array.shape[:2] != (rows, cols):
        raise ValueError(
            f"{name} has shape {list(array.shape)}; expected [{rows}, {cols}, dim] (or "
            f"[{rows * cols}, dim]) for the {rows}x{cols} patch grid"
        )
    return array


def cosine_table(positions: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """``[P, dim]`` embeddings -> ``[P, P]`` cosine similarities as bytes:
    ``cos = byte / 127.5 - 1`` (a zero vector has cosine 0 with everything).

    Example:
        >>> cosine_table(np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]])).tolist()
        [[255, 128, 0], [128, 255, 128], [0, 128, 255]]
    """
    table = np.asarray(positions, dtype=np.float64)
    norms = np.linalg.norm(table, axis=1, keepdims=True)
    unit = table / np.where(norms > 0, norms, 1.0)
    cosine = np.clip(unit @ unit.T, -1.0, 1.0)
    table_bytes: npt.NDArray[np.uint8] = np.rint((cosine + 1.0) * 127.5).astype(np.uint8)
    return table_bytes


class PatchingView(anywidget.AnyWidget):
    """The image as the model cuts it: patches numbered in sequence order, the sequence strip,
    patch-embedding norms and position-embedding similarity.

    ``embeddings``: the patch projection's output ``[rows, cols, dim]``
    (``recording.vision.patch_embeddings.patch_embeddings``), None, or a sentence saying why not.
    ``positions``: each patch's position embedding ``[rows, cols, dim]``, None, or a sentence
    saying why there is none.
    ``patch``: the token whose similarities are shown (default: the centre patch).

    Example:
        >>> import numpy as np
        >>> from attnwidgets.vision_records import VisionInfo
        >>> image = np.zeros((16, 24, 3), np.uint8)
        >>> info = VisionInfo.build("vit", image, (2, 3), (8, 8), ["[CLS]"])
        >>> view = PatchingView(info, embeddings=np.ones((2, 3, 4)), positions=np.eye(6))
        >>> view.norms["shape"], view.similarity["shape"], view.patch
        ([2, 3], [6, 6], 5)
    """

    _esm = bundle(BUNDLE)

    patch = traitlets.Int(-1).tag(sync=True)  # index into tokens, -1 for none
    size = traitlets.Int(384, min=64, max=2048).tag(sync=True)  # longest image side, CSS px
    tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    image_layout = traitlets.Dict().tag(sync=True)  # (not "layout": DOMWidget's own trait)
    image = traitlets.Dict().tag(sync=True)
    norms = traitlets.Dict().tag(sync=True)
    norms_note = traitlets.Unicode("").tag(sync=True)
    similarity = traitlets.Dict().tag(sync=True)
    similarity_note = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        info: Any,
        embeddings: npt.ArrayLike | str | None = None,
        positions: npt.ArrayLike | str | None = None,
        *,
        patch: int | None = None,
        **kwargs: Any,
    ) -> None:
        require_bundle(BUNDLE)
        info = info if isinstance(info, VisionInfo) else getattr(info, "vision", None)
        if not isinstance(info, VisionInfo):
            raise TypeError(
                "PatchingView shows how an image becomes a sequence: give a vision run "
                "(lens(image)) or its VisionInfo (run.vision), not a text run"
            )
        grid = info.patch_grid
        traits: dict[str, Any] = {}
        if embeddings is None or isinstance(embeddings, str):
            traits["norms_note"] = embeddings or "no patch embeddings were given"
        else:
            array = _grid_array(embeddings, grid, "embeddings")
            traits["norms"] = array_value(np.linalg.norm(array, axis=-1), "float32")
        if positions is None or isinstance(positions, str):
            traits["similarity_note"] = positions or "no position embeddings were given"
        elif grid[0] * grid[1] > MAX_SIMILARITY:
            traits["similarity_note"] = (
                f"{grid[0] * grid[1]} patches: the cosine table is sent up to "
                f"{MAX_SIMILARITY} patches"
            )
        else:
            table = _grid_array(positions, grid, "positions").reshape(grid[0] * grid[1], -1)
            traits["similarity"] = array_value(cosine_table(table), "uint8")
        patches = [i for i, p in enumerate(info.positions) if p is not None]
        if patch is None:
            centre = (grid[0] // 2, grid[1] // 2)
            patch = info.positions.index(centre) if centre in info.positions else -1
        if patch != -1 and patch not in patches:
            raise ValueError(
                f"patch: {patch!r} is not a patch token; patches are {patches[0]}..{patches[-1]}"
            )
        height, width = image_shape(info)
        super().__init__(
            patch=patch,
            tokens=[clean_text(t) for t in info.tokens],
            image_layout={
                "family": info.family,
                "image_shape": [height, width],
                "patch_grid": list(grid),
                "patch_size": list(info.patch_size),
                "positions": [list(p) if p is not None else None for p in info.positions],
            },
            image=image_value(info),
            **traits,
            **kwargs,
        )
        self._patches = set(patches)

    @traitlets.validate("patch")
    def _valid_patch(self, proposal: Any) -> int:
        value = proposal["value"]
        if value != -1 and value not in getattr(self, "_patches", {value}):
            raise traitlets.TraitError(f"patch: {value!r} is not a patch token (or -1 for none)")
        return int(value)
