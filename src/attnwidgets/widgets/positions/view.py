"""PositionView: one positional-encoding scheme drawn on a canvas (numpy + traitlets, no torch).

The kernel sends small float32 arrays once (``data``, one packed value); every view, slider and
similarity matrix is computed in the browser, so the widget keeps working without a kernel.
"""

from __future__ import annotations

from typing import Any

import anywidget
import numpy as np
import numpy.typing as npt
import traitlets

from ...positions import ABSOLUTE_KINDS, PositionScheme
from ..arrays import packed_value
from ..bundles import bundle, require_bundle
from ..inputs import Text

MAX_POSITIONS = 512  # rows of a table (and relative distances) sent to the browser

VIEWS: dict[str, list[str]] = {
    "sinusoidal": ["table", "curves", "similarity"],
    "learned": ["table", "curves", "similarity"],
    "rotary": ["frequencies", "angles", "score"],
    "t5": ["bias", "matrix"],
    "alibi": ["slopes", "bias", "matrix"],
}


def scheme_arrays(scheme: PositionScheme, max_positions: int) -> dict[str, npt.ArrayLike]:
    """What the browser needs to draw every view of ``scheme``, at most ``max_positions`` long
    (float32: the browser's position views read floats only)."""
    return {
        name: np.asarray(v, np.float32) for name, v in _scheme_arrays(scheme, max_positions).items()
    }


def _scheme_arrays(scheme: PositionScheme, max_positions: int) -> dict[str, npt.ArrayLike]:
    if scheme.kind in ABSOLUTE_KINDS:
        table = scheme.table
        assert table is not None
        return {"table": table[:max_positions]}
    count = min(scheme.length, max_positions)
    if scheme.kind == "rotary":
        assert scheme.inv_freq is not None
        return {
            "inv_freq": scheme.inv_freq,
            "angles": scheme.angles(np.arange(count)),
            "score": scheme.relative_score(np.arange(count)),
        }
    assert scheme.bias is not None and scheme.distances is not None
    middle = int(np.flatnonzero(scheme.distances == 0)[0])
    window = slice(middle - (count - 1), middle + count)
    arrays: dict[str, npt.ArrayLike] = {"bias": scheme.bias[:, window]}
    if scheme.buckets is not None:
        arrays["buckets"] = scheme.buckets[window]
    if scheme.slopes is not None:
        arrays["slopes"] = scheme.slopes
    return arrays


class PositionView(anywidget.AnyWidget):
    """The views of one ``PositionScheme``; ``view`` picks one of ``views``.

    - absolute (sinusoidal, learned): ``table`` (position x dimension heatmap), ``curves``
      (chosen dimensions over position), ``similarity`` (position x position, dot or cosine),
      and ``grid`` for ViT (one patch's similarity to every patch, on the patch grid);
    - rotary: ``frequencies`` (per pair), ``angles`` (rotation angle vs position),
      ``score`` (expected q.k against relative distance);
    - t5 / alibi: ``bias`` against relative distance per head, ``matrix`` (query x key bias of
      one head), and ALiBi ``slopes``.

    Example:
        >>> import attnwidgets.positions as pos
        >>> view = PositionView(pos.sinusoidal(16, length=64), view="curves", dimension=4)
        >>> view.views, view.data["arrays"]["table"]["shape"]
        (['table', 'curves', 'similarity'], [64, 16])
    """

    _esm = bundle("position_view.js")

    kind = traitlets.Unicode().tag(sync=True)
    title = Text().tag(sync=True)
    views = traitlets.List(Text()).tag(sync=True)
    view = traitlets.Unicode().tag(sync=True)
    position = traitlets.Int(0).tag(sync=True)
    dimension = traitlets.Int(0).tag(sync=True)
    head = traitlets.Int(0).tag(sync=True)
    metric = traitlets.Enum(["cosine", "dot"], "cosine").tag(sync=True)
    curve_dims = traitlets.List(traitlets.Int()).tag(sync=True)
    # sizes for the sliders of position_explorer (kernel side; the browser reads the arrays)
    length = traitlets.Int(0)
    n_dims = traitlets.Int(0)
    n_heads = traitlets.Int(0)
    grid = traitlets.List(traitlets.Int()).tag(sync=True)
    params = traitlets.Dict().tag(sync=True)
    data = traitlets.Dict().tag(sync=True)  # arrays.packed_value, float32 arrays

    def __init__(
        self,
        scheme: PositionScheme,
        *,
        view: str | None = None,
        max_positions: int = MAX_POSITIONS,
        curve_dims: list[int] | None = None,
        **kwargs: Any,
    ) -> None:
        require_bundle("position_view.js")
        if not isinstance(scheme, PositionScheme):
            raise TypeError(
                f"PositionView takes a PositionScheme (from attnwidgets.positions or "
                f"extract_positions(model)), not {type(scheme).__name__}"
            )
        views = available_views(scheme)
        chosen = view or views[0]
        if chosen not in views:
            raise ValueError(f"view {chosen!r} is not one of {views} for a {scheme.kind!r} scheme")
        arrays = scheme_arrays(scheme, max_positions)
        length = min(scheme.length, max_positions)
        n_dims = scheme.dim if scheme.kind in ABSOLUTE_KINDS else scheme.dim // 2
        self._scheme = scheme
        super().__init__(
            kind=scheme.kind,
            title=scheme.source + used_by(scheme),
            views=views,
            view=chosen,
            length=length,
            n_dims=n_dims,
            n_heads=scheme.heads,
            grid=[*scheme.grid, scheme.grid_offset] if scheme.grid else [],
            curve_dims=curve_dims if curve_dims is not None else default_curves(scheme),
            params=_params(scheme, length),
            data=packed_value(arrays),
            **kwargs,
        )

    @property
    def scheme(self) -> PositionScheme:
        """The record drawn by this view."""
        return self._scheme


def used_by(scheme: PositionScheme) -> str:
    """`` · layers 0, 1 (sliding_attention)`` for a table that only some layers use.

    Example:
        >>> import attnwidgets.positions as pos
        >>> s = pos.rotary(8)
        >>> used_by(s), used_by(type(s)(**{**s.__dict__, "params": {"layers": [0, 2]}}))
        ('', ' · layers 0, 2')
    """
    layers = scheme.params.get("layers") or []
    layer_type = scheme.params.get("layer_type")
    if not layers and not layer_type:
        return ""
    shown = ", ".join(str(i) for i in layers[:12]) + (", …" if len(layers) > 12 else "")
    where = f"layers {shown}" if layers else "layers"
    return f" · {where}" + (f" ({layer_type})" if layer_type else "")


def available_views(scheme: PositionScheme) -> list[str]:
    """The views a scheme offers, the default first.

    Example:
        >>> import attnwidgets.positions as pos
        >>> available_views(pos.alibi(2, length=4))
        ['slopes', 'bias', 'matrix']
    """
    views = list(VIEWS[scheme.kind])
    if scheme.grid is not None:
        views.append("grid")
    return views


def default_curves(scheme: PositionScheme) -> list[int]:
    """A fast, a middle and a slow dimension (or rotary pair) to draw as curves.

    Example:
        >>> import attnwidgets.positions as pos
        >>> default_curves(pos.sinusoidal(64, length=8)), default_curves(pos.rotary(64))
        ([0, 16, 48], [0, 8, 24])
    """
    if scheme.kind in ABSOLUTE_KINDS:
        width = scheme.dim
        picks = [0, (width // 4) & ~1, (3 * width // 4) & ~1]
    elif scheme.kind == "rotary":
        width = scheme.dim // 2
        picks = [0, width // 4, 3 * width // 4]
    else:
        return []
    return sorted({p for p in picks if p < width})


def _params(scheme: PositionScheme, length: int) -> dict[str, Any]:
    params: dict[str, Any] = {k: v for k, v in scheme.params.items() if _json_scalar(v)}
    if scheme.theta is not None:
        params["theta"] = scheme.theta
    if scheme.distances is not None:
        params["min_distance"] = -(length - 1)
    params["causal"] = scheme.kind == "alibi" or (
        scheme.kind == "t5" and not scheme.params.get("bidirectional", True)
    )
    return params


def _json_scalar(value: Any) -> bool:
    return isinstance(value, (bool, int, float, str))
