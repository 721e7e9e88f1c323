"""Hidden states at image positions, laid back on the patch grid (numpy only; VLM-Lens style).

A ``FeatureSet`` holds the outputs of some modules of a vision-language model for one run:
each ``ModuleFeatures.hidden`` is ``[positions, dim]`` (a language-model module: its sequence;
a vision-tower module: every tower input's sequence, one after the other). A ``Surface`` is one
grid drawn over one image: ``index[cell]`` is the row of ``hidden`` that stands for that cell
(-1: no token there). Language-model modules are drawn on each image x view; vision-tower
modules on each tower input (an image, a tile, the global / base image).

The maps (each ``[rows, cols]`` float32, NaN where a cell has no token):

- ``norm_map``: the L2 norm of each cell's hidden state;
- ``channel_map``: one channel;
- ``pca_rgb``: the first three principal components as RGB ``[rows, cols, 3]`` in 0..1, the
  PCA fitted over every image position of the module (all its surfaces), each component
  scaled by its min..max over those positions;
- ``cosine_map``: cosine similarity of each cell to one hidden state (a clicked patch's, or a
  text token's: cross-modal alignment, only for language-model modules, where text and image
  tokens share one space).
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .vision_records import FloatArray, UInt8Array

IntArray = npt.NDArray[np.int64]
TOWERS = ("vision", "text")


@dataclass(frozen=True)
class Surface:
    """One grid of cells over one image.

    ``tower``: ``"text"`` (the language model's image tokens of one view of an image) or
    ``"vision"`` (one vision-tower input: an image or a tile); ``image``: index into
    ``FeatureSet.images``; ``grid`` ``(rows, cols)``; ``index`` ``[rows * cols]``: the row of a
    module's ``hidden`` for each cell, -1 where no token covers it.
    """

    name: str
    tower: str
    image: int
    grid: tuple[int, int]
    index: IntArray = field(repr=False)

    @property
    def cells(self) -> int:
        return self.grid[0] * self.grid[1]


@dataclass(frozen=True)
class ModuleFeatures:
    """One module's output: ``hidden`` float32 ``[positions, dim]``; ``tower`` ``"vision"`` or
    ``"text"`` (which surfaces it is drawn on)."""

    path: str
    tower: str
    hidden: FloatArray = field(repr=False)

    @property
    def dim(self) -> int:
        return int(self.hidden.shape[1])


@dataclass
class FeatureSet:
    """The modules read, the surfaces they are drawn on, and the images under them.

    ``tokens`` / ``modality``: the language model's sequence (text tokens can be compared with
    image tokens in language-model modules); ``skipped``: modules matched but not drawable,
    with the reason.

    Example:
        >>> hidden = np.array([[3.0, 4.0], [0.0, 1.0], [1.0, 0.0]], np.float32)
        >>> surface = Surface("image 0", "text", 0, (1, 2), np.array([1, 2]))
        >>> fs = FeatureSet([ModuleFeatures("lm.0", "text", hidden)], [surface],
        ...                 [np.zeros((2, 4, 3), np.uint8)], ["q", "<img>", "<img>"],
        ...                 ["text", "image", "image"])
        >>> fs.norm_map(0, 0).tolist(), fs.cosine_map(0, 0, token=0).tolist()
        ([[1.0, 1.0]], [[0.800000011920929, 0.6000000238418579]])
    """

    modules: list[ModuleFeatures]
    surfaces: list[Surface]
    images: list[UInt8Array] = field(repr=False)
    tokens: list[str] = field(default_factory=list, repr=False)
    modality: list[str] = field(default_factory=list, repr=False)
    skipped: dict[str, str] = field(default_factory=dict)

    def module(self, index: int) -> ModuleFeatures:
        if not 0 <= index < len(self.modules):
            raise IndexError(f"module {index} out of range: 0..{len(self.modules) - 1}")
        return self.modules[index]

    def surface(self, module: int, surface: int) -> Surface:
        """Surface ``surface``, checked against the module's tower."""
        if not 0 <= surface < len(self.surfaces):
            raise IndexError(f"surface {surface} out of range: 0..{len(self.surfaces) - 1}")
        found = self.surfaces[surface]
        tower = self.module(module).tower
        if found.tower != tower:
            names = [s.name for s in self.surfaces if s.tower == tower]
            raise ValueError(
                f"surface {surface} ({found.name!r}) shows {found.tower}-tower positions; module "
                f"{self.modules[module].path!r} is in the {tower} tower: pick one of {names}"
            )
        return found

    def cells_of(self, module: int, surface: int) -> FloatArray:
        """``[rows * cols, dim]`` hidden states of the surface's cells (NaN without a token)."""
        found = self.surface(module, surface)
        hidden = self.modules[module].hidden
        out = np.full((found.cells, hidden.shape[1]), np.nan, np.float32)
        kept = found.index >= 0
        out[kept] = hidden[found.index[kept]]
        return out

    def _grid(self, values: FloatArray, surface: int) -> FloatArray:
        rows, cols = self.surfaces[surface].grid
        return values.reshape(rows, cols, *values.shape[1:])

    def norm_map(self, module: int, surface: int) -> FloatArray:
        """``[rows, cols]``: the L2 norm of each cell's hidden state."""
        values: FloatArray = np.linalg.norm(self.cells_of(module, surface), axis=1)
        return self._grid(values.astype(np.float32), surface)

    def channel_map(self, module: int, surface: int, channel: int) -> FloatArray:
        """``[rows, cols]``: channel ``channel`` of each cell's hidden state."""
        dim = self.module(module).dim
        if not 0 <= channel < dim:
            raise IndexError(
                f"channel {channel} out of range: {self.modules[module].path} has channels "
                f"0..{dim - 1}"
            )
        return self._grid(self.cells_of(module, surface)[:, channel].copy(), surface)

    def image_rows(self, module: int) -> IntArray:
        """Rows of the module's ``hidden`` at image positions (every surface of its tower)."""
        tower = self.module(module).tower
        rows = [s.index[s.index >= 0] for s in self.surfaces if s.tower == tower]
        return np.unique(np.concatenate(rows)) if rows else np.zeros(0, np.int64)

    def pca_rgb(self, module: int, surface: int) -> tuple[FloatArray, FloatArray]:
        """``([rows, cols, 3] in 0..1, explained variance ratio [3])``: the first three
        principal components of the module's hidden states at image positions as RGB."""
        hidden = self.module(module).hidden
        fitted = hidden[self.image_rows(module)]
        mean, components, ratio = pca(fitted, 3)
        scores = (fitted - mean) @ components.T
        lo, hi = scores.min(axis=0), scores.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        cells = self.cells_of(module, surface)
        rgb = ((cells - mean) @ components.T - lo) / span
        return self._grid(np.clip(rgb, 0.0, 1.0).astype(np.float32), surface), ratio

    def cosine_map(
        self, module: int, surface: int, *, cell: int | None = None, token: int | None = None
    ) -> FloatArray:
        """``[rows, cols]``: cosine similarity of each cell to the hidden state of ``cell`` (a
        cell of this surface) or of sequence position ``token`` (a text token; language-model
        modules only)."""
        found = self.surface(module, surface)
        features = self.modules[module]
        if (cell is None) == (token is None):
            raise ValueError("give exactly one of cell= (a patch) or token= (a text token)")
        if cell is not None:
            if not 0 <= cell < found.cells or found.index[cell] < 0:
                raise IndexError(
                    f"patch {divmod(cell, found.grid[1]) if cell >= 0 else cell} has no token "
                    f"on {found.name!r} (grid {found.grid[0]} x {found.grid[1]})"
                )
            target = features.hidden[found.index[cell]]
        else:
            assert token is not None
            target = self.text_state(module, token)
        return self._grid(cosine(self.cells_of(module, surface), target), surface)

    def text_state(self, module: int, token: int) -> FloatArray:
        """The hidden state of text token ``token`` (a sequence position) in a language-model
        module; a clear error for a vision-tower module or an image position."""
        features = self.module(module)
        if features.tower != "text":
            raise ValueError(
                f"cosine to a text token needs a language-model module: {features.path!r} is in "
                "the vision tower, whose hidden states never meet the text (pick a language-model "
                "layer)"
            )
        size = features.hidden.shape[0]
        if not 0 <= token < min(size, len(self.modality)) or self.modality[token] != "text":
            texts = [i for i, m in enumerate(self.modality[:size]) if m == "text"]
            shown = f"{texts[:3]}...{texts[-1]}" if len(texts) > 4 else str(texts)
            raise IndexError(f"token {token} is not a text position; text positions: {shown}")
        return np.asarray(features.hidden[token], np.float32)


def pca(values: Any, k: int = 3) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(mean [dim], components [k, dim], explained variance ratio [k])`` of ``values``
    ``[n, dim]``: the top ``k`` eigenvectors of the smaller of the Gram (``n x n``) and the
    covariance (``dim x dim``) matrix. Sign: each component's largest-magnitude loading is
    positive (scikit-learn's convention). Fewer than ``k`` directions give zero rows.

    Cost (576 image positions): the product is float32; only the top ``k`` eigenpairs are
    computed when SciPy is installed; and BLAS runs on one thread meanwhile when threadpoolctl
    is (on a busy machine, a multi-threaded 576 x 576 eigensolver took 0.5-4 s instead of
    20-30 ms).

    Example:
        >>> x = np.array([[0.0, 0.0], [2.0, 0.0], [4.0, 0.1]])
        >>> mean, comps, ratio = pca(x, 1)
        >>> [np.round(a.astype(float), 2).tolist() for a in (mean, comps, ratio)]
        [[2.0, 0.03], [[1.0, 0.02]], [1.0]]
    """
    x = np.asarray(values, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"pca takes [n, dim] values with n >= 1, not shape {x.shape}")
    mean = x.mean(axis=0, dtype=np.float64)
    centred = (x - mean).astype(np.float32)
    n, dim = centred.shape
    gram = n <= dim
    with _one_blas_thread():
        small = (centred @ centred.T) if gram else (centred.T @ centred)
        vals, vecs = _top_eigenpairs(small.astype(np.float64), min(k, small.shape[0]))
        if gram:  # eigenvectors u of X X^T -> components u^T X / sigma
            sigma = np.sqrt(np.clip(vals, 0.0, None))
            comps = (vecs.T.astype(np.float32) @ centred).astype(np.float64)
            comps /= np.where(sigma > 0, sigma, 1.0)[:, None]
            comps[sigma <= 1e-6 * max(1.0, float(sigma.max(initial=0.0)))] = 0.0
        else:
            comps = vecs.T
    total = float(np.einsum("ij,ij->", centred, centred, dtype=np.float64))
    out = np.zeros((k, dim))
    out[: comps.shape[0]] = comps
    signs = np.sign(out[np.arange(k), np.argmax(np.abs(out), axis=1)])
    out *= np.where(signs == 0, 1.0, signs)[:, None]
    ratio = np.zeros(k)
    ratio[: len(vals)] = np.clip(vals, 0.0, None) / total if total > 0 else 0.0
    return mean.astype(np.float32), out.astype(np.float32), ratio.astype(np.float32)


def _top_eigenpairs(matrix: Any, k: int) -> tuple[Any, Any]:
    """The ``k`` largest eigenvalues (descending) of a symmetric matrix and their vectors."""
    size = matrix.shape[0]
    try:
        from scipy.linalg import eigh
    except ImportError:  # numpy: every eigenpair
        vals, vecs = np.linalg.eigh(matrix)
    else:
        vals, vecs = eigh(matrix, subset_by_index=[size - k, size - 1])
    order = np.argsort(vals)[::-1][:k]
    return vals[order], vecs[:, order]


@functools.cache
def _blas_controller() -> Any:
    """threadpoolctl's view of the loaded BLAS libraries (found once: it scans them), or None."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def _one_blas_thread() -> Any:
    """BLAS limited to one thread for the block (threadpoolctl), else nothing changes."""
    controller = _blas_controller()
    if controller is None:
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


def cosine(rows: Any, target: Any) -> FloatArray:
    """Cosine similarity of each row of ``rows`` ``[n, dim]`` to ``target`` ``[dim]`` (0 where
    a norm is 0; NaN rows stay NaN).

    Example:
        >>> x = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
        >>> np.round(cosine(x, np.array([2.0, 0.0])).astype(float), 4).tolist()
        [1.0, 0.7071, 0.0]
    """
    x = np.asarray(rows, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1) * np.linalg.norm(t)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(norms > 0, (x @ t) / np.where(norms > 0, norms, 1.0), 0.0)
    out[np.isnan(norms)] = np.nan
    return out.astype(np.float32)


@dataclass(frozen=True)
class PromptMaps:
    """A dual encoder (CLIP / SigLIP) on one image and a few text prompts.

    ``maps`` float32 ``[prompts, rows, cols]``: cosine similarity of each prompt's embedding to
    each patch's (NaN where the grid has no patch); ``scores`` ``[prompts]``: the zero-shot
    scores (``kind`` ``"softmax"`` over the prompts for CLIP, ``"sigmoid"`` per prompt for
    SigLIP) of the ``logits`` ``[prompts]`` = ``logit_scale * cos (+ logit_bias)``.
    """

    prompts: list[str]
    maps: FloatArray = field(repr=False)
    scores: FloatArray
    logits: FloatArray
    kind: str
    logit_scale: float
    logit_bias: float | None
    image: UInt8Array = field(repr=False)
    family: str = "clip"
