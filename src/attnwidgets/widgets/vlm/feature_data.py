"""What FeatureHeatmapView sends to the browser (numpy only; read by ``js/vlm/``).

A map request names a module, a measure and a surface (and the channel, patch or text token
the measure needs); the reply is one ``arrays.array_value``: float32 ``[rows, cols]`` (or
``[rows, cols, 3]`` for PCA, components scaled to 0..1), NaN where a cell has no token, with
``lo`` / ``hi`` (the finite range of a scalar map) and ``ratio`` (PCA: explained variance).

- ``MapRequest.parse(content, features)``: a browser request checked field by field
  (``ValueError`` naming the field and what is valid);
- ``map_value(features, request)``: the map.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np

from ...feature_records import FeatureSet
from ..arrays import array_value, packed_value

MEASURES = ("norm", "channel", "pca", "patch", "text")
TITLES = {
    "norm": "L2 norm of each patch's hidden state",
    "channel": "channel {channel}",
    "pca": "first three principal components as RGB",
    "patch": "cosine similarity to patch ({row}, {col})",
    "text": "cosine similarity to the text token {token}",
}


def _index(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class MapRequest:
    """One map: ``module`` and ``surface`` indices, a ``measure`` of ``MEASURES``, and its
    parameter (``channel``; ``patch`` ``(row, col)`` on the surface; ``token`` a sequence
    position)."""

    module: int
    measure: str
    surface: int
    channel: int = 0
    patch: tuple[int, int] | None = None
    token: int = -1

    @property
    def key(self) -> tuple[Any, ...]:
        param: Any = {"channel": self.channel, "patch": self.patch, "text": self.token}
        return (self.module, self.measure, self.surface, param.get(self.measure))

    def meta(self) -> dict[str, Any]:
        return {"module": self.module, "measure": self.measure, "surface": self.surface,
                "channel": self.channel, "patch": list(self.patch or []),
                "token": self.token}  # fmt: skip

    @classmethod
    def parse(cls, content: dict[str, Any], features: FeatureSet) -> MapRequest:
        module = content.get("module")
        if not _index(module) or not 0 <= module < len(features.modules):
            raise ValueError(
                f"module: {_shown(module)} is out of range; modules are "
                f"0..{len(features.modules) - 1}"
            )
        measure = content.get("measure")
        if measure not in MEASURES:
            raise ValueError(f"measure: {_shown(measure)} is not one of {', '.join(MEASURES)}")
        surface = content.get("surface")
        if not _index(surface) or not 0 <= surface < len(features.surfaces):
            raise ValueError(
                f"surface: {_shown(surface)} is out of range; surfaces are "
                f"0..{len(features.surfaces) - 1}"
            )
        tower = features.modules[module].tower
        if features.surfaces[surface].tower != tower:
            valid = [i for i, s in enumerate(features.surfaces) if s.tower == tower]
            raise ValueError(
                f"surface: {surface} shows {features.surfaces[surface].tower}-tower positions; "
                f"module {module} ({features.modules[module].path}) needs one of {valid}"
            )
        channel = content.get("channel", 0)
        dim = features.modules[module].dim
        if measure == "channel" and (not _index(channel) or not 0 <= channel < dim):
            raise ValueError(
                f"channel: {_shown(channel)} is out of range; channels are 0..{dim - 1}"
            )
        patch = content.get("patch") or None
        rows, cols = features.surfaces[surface].grid
        if measure == "patch" and (
            not isinstance(patch, list)
            or len(patch) != 2
            or not all(_index(v) for v in patch)
            or not (0 <= patch[0] < rows and 0 <= patch[1] < cols)
        ):
            raise ValueError(
                f"patch: {_shown(patch)} is not [row, col] on the {rows} x {cols} grid of "
                f"surface {surface}; click a patch"
            )
        token = content.get("token", -1)
        if measure == "text":
            if tower != "text":
                raise ValueError(
                    f"measure: 'text' (cosine to a text token) needs a language-model module; "
                    f"{features.modules[module].path} is in the vision tower, whose hidden states "
                    "never meet the text"
                )
            if not _index(token):
                raise ValueError(f"token: {_shown(token)} is not a sequence position")
        return cls(
            int(module),
            str(measure),
            int(surface),
            int(channel) if _index(channel) else 0,
            (int(patch[0]), int(patch[1])) if measure == "patch" and patch else None,
            int(token) if _index(token) else -1,
        )


def map_value(features: FeatureSet, request: MapRequest) -> dict[str, Any]:
    """The map a request asks for, as one array value with its meta (see the module)."""
    module, surface, measure = request.module, request.surface, request.measure
    ratio: list[float] = []
    if measure == "norm":
        values = features.norm_map(module, surface)
    elif measure == "channel":
        values = features.channel_map(module, surface, request.channel)
    elif measure == "pca":
        values, explained = features.pca_rgb(module, surface)
        ratio = [round(float(v), 6) for v in explained]
    elif measure == "patch":
        assert request.patch is not None
        cols = features.surfaces[surface].grid[1]
        values = features.cosine_map(
            module, surface, cell=request.patch[0] * cols + request.patch[1]
        )
    else:
        values = features.cosine_map(module, surface, token=request.token)
    finite = values[np.isfinite(values)]
    lo = float(finite.min()) if finite.size else 0.0
    hi = float(finite.max()) if finite.size else 0.0
    fitted = int(features.image_rows(module).size) if measure == "pca" else 0
    return array_value(values, "float32", lo=lo, hi=hi, ratio=ratio, fitted=fitted,
                       **request.meta())  # fmt: skip


def images_value(features: FeatureSet) -> dict[str, Any]:
    """The images under the surfaces, packed as uint8 ``image.<i>`` ``[H, W, 3]``."""
    return packed_value({f"image.{i}": np.asarray(image, np.uint8)
                       for i, image in enumerate(features.images)})  # fmt: skip


def surfaces_json(features: FeatureSet) -> list[dict[str, Any]]:
    """Per surface: ``name``, ``tower``, ``image``, ``grid`` and ``cell`` (image px per cell)."""
    out = []
    for surface in features.surfaces:
        height, width = features.images[surface.image].shape[:2]
        rows, cols = surface.grid
        out.append({"name": surface.name, "tower": surface.tower, "image": surface.image,
                    "grid": [rows, cols], "cell": [height / rows, width / cols]})  # fmt: skip
    return out
