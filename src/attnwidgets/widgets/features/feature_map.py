"""FeatureMap: a store's features at one layer, projected on their first two principal
components, coloured by label, with a brush / lasso that lists the selected inputs and a
layer slider that re-projects (numpy + traitlets + bqplot; no torch).

The scatter is bqplot-gl's WebGL ``ScatterGL`` (50,000 points stay interactive); the list
beside it is ``SelectionList`` (``js/feature_map_view.js``): the legend, then each selected
input as a text snippet or an image thumbnail. The kernel keeps the features; the browser
gets the two coordinates per point and the selected inputs only.
"""

from __future__ import annotations

from typing import Any

import anywidget
import ipywidgets
import numpy as np
import traitlets

from ...features.projection import Projection, pca
from ...features.store import FeatureStore
from ..bundles import bundle, require_bundle
from .images import stacked_images
from .regions import box_to_data, in_box, in_polygon, plot_limits, polygon_to_data

PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
    "#1f77b4",
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#ff9896",
    "#c5b0d5",
    "#c49c94",
    "#f7b6d2",
    "#dbdb8d",
    "#9edae5",
)
"""Tableau 10, then ten more: one colour per class up to 20 classes (then they repeat)."""

WEBGL_ABOVE = 10_000
"""More points than this are drawn with bqplot-gl's WebGL ``ScatterGL``; fewer with bqplot's
SVG ``Scatter`` (crisper, and hover works)."""

LISTED = 60
"""At most this many selected inputs are listed (the count says how many there are)."""


def snippet(text: str, head: int = 60, tail: int = 100) -> str:
    """A long text as its start and its end (a code prefix matters most at its end).

    Example:
        >>> snippet("x" * 10)
        'xxxxxxxxxx'
        >>> len(snippet("a" * 300)), snippet("a" * 300)[58:65]
        (163, 'aa … aa')
    """
    return text if len(text) <= head + tail + 3 else f"{text[:head]} … {text[-tail:]}"


class SelectionList(anywidget.AnyWidget):
    """The legend and the selected inputs of a ``FeatureMap`` (its ``js/feature_map_view.js``).

    ``legend``: ``[{name, color, count}]``; ``items``: ``[{input_id, label, color, text}]``
    (``text`` empty for images); ``box``: the brush rectangle the view read off the figure
    beside it (fractions of the plot area); ``thumbnails``: the items' images as one uint8 array
    ``[k, h, w, 3]`` (padded to the largest, with each item's ``width`` / ``height``).

    Example:
        >>> panel = SelectionList(legend=[{"name": "cat", "color": "#4e79a7", "count": 3}])
        >>> panel.selected_count, panel.legend[0]["name"]
        (0, 'cat')
    """

    _esm = bundle("feature_map_view.js")

    title = traitlets.Unicode("").tag(sync=True)
    legend = traitlets.List(traitlets.Dict()).tag(sync=True)
    items = traitlets.List(traitlets.Dict()).tag(sync=True)
    thumbnails = traitlets.Dict().tag(sync=True)
    selected_count = traitlets.Int(0).tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)  # shown instead of the hint (a saved page)
    box = traitlets.List(traitlets.Float()).tag(sync=True)
    """The brush rectangle, fractions ``[x0, y0, x1, y1]`` of the plot area (0 = left / top),
    read off the figure by the view after each brush drag; ``[]`` for none."""
    lasso = traitlets.List(traitlets.Float()).tag(sync=True)
    """The last lasso, fractions ``[x0, y0, x1, y1, ...]`` of the plot area, read off the
    figure after each lasso; ``[]`` for none (set from the kernel: the lasso is taken off)."""


class FeatureMap(ipywidgets.VBox):  # type: ignore[misc]
    """PCA of ``module``'s features at ``layer`` (default: the last), coloured by ``label``.

    ``store``: a ``FeatureStore`` or its path; ``module``: a stored pattern
    (``"encoder.layer.*"``) or path. Drag on the plot to select (``selector``: ``"brush"``
    or ``"lasso"``, switchable in the view); the selected inputs are listed beside it and
    their ids are in ``.selected_ids`` (``select_ids`` selects from code). The slider
    re-projects another layer and clears the selection. ``max_points`` keeps a seeded random
    sample of a larger store. ``webgl``: draw with bqplot-gl's WebGL ``ScatterGL`` (default:
    above 10,000 points), else bqplot's SVG ``Scatter``. The kernel selects: the list's view
    reads the brush rectangle or the lasso off the page after each drag (``panel.box`` /
    ``panel.lasso``, fractions of the plot area, whose scales are pinned to the points'
    range plus 5%) and the points inside are found with numpy (``select_box``,
    ``select_lasso``), so both selectors work on both scatters in JupyterLab 4.6 (where
    bqplot 0.13.1's own selections do not reach the kernel) and in the classic manager.

    Example:
        >>> fmap = FeatureMap(store, "encoder.layer.*")        # doctest: +SKIP
        >>> fmap.layer = 2; fmap.projection.explained[:2]      # doctest: +SKIP
        array([0.21, 0.09], dtype=float32)
    """

    def __init__(
        self,
        store: FeatureStore | str,
        module: str,
        layer: int | None = -1,
        *,
        label: str = "label",
        selector: str = "lasso",
        max_points: int = 200_000,
        webgl: bool | None = None,
        point_size: int = 12,
        height: int = 460,
        seed: int = 0,
    ) -> None:
        import bqplot

        require_bundle("feature_map_view.js")
        self.store = store if isinstance(store, FeatureStore) else FeatureStore(store)
        self.module = module if module in self.store.modules else self.store.resolve(module)
        self.label_name, self.max_points, self.seed = label, max_points, seed
        layers = self.store.layers(self.module) if self.module in self.store.modules else [None]
        self.layers = layers
        self.projection: Projection | None = None
        self.rows = np.zeros(0, np.int64)  # scatter point -> row of the loaded layer
        self.ids = np.zeros(0, np.int64)  # scatter point -> input id
        self.selected_ids = np.zeros(0, np.int64)
        self.x_limits = self.y_limits = (0.0, 1.0)  # the scales' pinned ranges (_project)
        self._busy = False

        self.x_scale, self.y_scale = bqplot.LinearScale(), bqplot.LinearScale()
        self.color_scale = bqplot.ColorScale(colors=list(PALETTE[:2]), min=0, max=1)
        self.webgl = webgl if webgl is not None else _count(self.store) > WEBGL_ABOVE
        self.scatter = _scatter_class(self.webgl)(
            x=np.zeros(1, np.float32),
            y=np.zeros(1, np.float32),
            color=np.zeros(1, np.float32),
            default_size=point_size,
            scales={"x": self.x_scale, "y": self.y_scale, "color": self.color_scale},
            unselected_style={"opacity": 0.15},
            selected_style={"opacity": 1.0},
        )
        self.x_axis = bqplot.Axis(scale=self.x_scale, label="PC 1", grid_lines="none")
        self.y_axis = bqplot.Axis(
            scale=self.y_scale, label="PC 2", orientation="vertical", grid_lines="none"
        )
        self.brush = bqplot.interacts.BrushSelector(
            x_scale=self.x_scale, y_scale=self.y_scale, marks=[self.scatter], color="#555"
        )
        self.lasso = bqplot.interacts.LassoSelector(marks=[self.scatter], color="#555")
        self.figure = bqplot.Figure(
            marks=[self.scatter],
            axes=[self.x_axis, self.y_axis],
            interaction=self.brush if selector == "brush" else self.lasso,
            fig_margin={"top": 20, "bottom": 45, "left": 55, "right": 10},
            layout=ipywidgets.Layout(width="560px", height=f"{height}px"),
            animation_duration=0,
        )
        numbered = [x for x in layers if x is not None]
        self.slider = ipywidgets.SelectionSlider(
            options=[(str(x), x) for x in layers] if numbered else [("-", None)],
            description="layer",
            continuous_update=False,
            layout=ipywidgets.Layout(width="360px"),
        )
        self.selector = ipywidgets.ToggleButtons(
            options=["brush", "lasso"], value=selector, style={"button_width": "60px"}
        )
        self.clear = ipywidgets.Button(description="clear", layout=ipywidgets.Layout(width="60px"))
        self.panel = SelectionList()
        controls = ipywidgets.HBox([self.slider, self.selector, self.clear])
        # the plot keeps its width; the list wraps below it when the output is too narrow
        plot = ipywidgets.VBox([self.figure, controls], layout=ipywidgets.Layout(flex="0 0 auto"))
        row = ipywidgets.HBox([plot, self.panel], layout=ipywidgets.Layout(flex_flow="row wrap"))
        super().__init__([row])

        start = layers[layer] if isinstance(layer, int) and layer < 0 else layer
        self.slider.value = start if start in layers else layers[-1]
        self._project(self.slider.value)
        self.slider.observe(lambda change: self._project(change["new"]), "value")
        self.panel.observe(self._on_box, "box")
        self.panel.observe(self._on_lasso, "lasso")
        self.selector.observe(self._on_selector, "value")
        self.clear.on_click(lambda _: self.clear_selection())

    @property
    def layer(self) -> int | None:
        value: int | None = self.slider.value
        return value

    @layer.setter
    def layer(self, value: int | None) -> None:
        self.slider.value = value

    def _project(self, layer: int | None) -> None:
        X, meta = self.store.load(self.module, layer)
        finite = np.flatnonzero(np.isfinite(X).all(axis=1))
        if len(finite) > self.max_points:
            rng = np.random.default_rng(self.seed)
            finite = np.sort(rng.choice(finite, self.max_points, replace=False))
        self.projection = pca(X[finite], 2)
        coords = self.projection.coords
        self.rows, self.ids = finite, meta["input_id"][finite]
        labels = np.asarray(meta[self.label_name] if self.label_name in meta else meta["label"])
        names, codes = np.unique(labels[finite].astype(str), return_inverse=True)
        self.meta, self.labels = meta, labels
        self._legend(names, codes)
        explained = self.projection.explained
        self._busy = True
        try:  # a new picture: the brush or lasso of the old one no longer means anything
            self.brush.selected_x, self.brush.selected_y = None, None
            self.panel.box, self.panel.lasso = [], []
            self.x_limits, self.y_limits = plot_limits(coords[:, 0]), plot_limits(coords[:, 1])
            self.x_scale.min, self.x_scale.max = self.x_limits
            self.y_scale.min, self.y_scale.max = self.y_limits
            with self.scatter.hold_sync():
                self.scatter.x, self.scatter.y = coords[:, 0], coords[:, 1]
                self.scatter.color = codes.astype(np.float32)
                self.scatter.selected = None
        finally:
            self._busy = False
        self.selected_ids = np.zeros(0, np.int64)
        self._list()
        self.x_axis.label = f"PC 1 ({explained[0]:.0%})"
        self.y_axis.label = f"PC 2 ({explained[1]:.0%})" if len(explained) > 1 else "PC 2"
        where = self.store.resolve(self.module, layer)
        self.panel.title = f"{where}: {len(finite)} inputs"

    def _legend(self, names: np.ndarray, codes: np.ndarray) -> None:
        colours = [PALETTE[i % len(PALETTE)] for i in range(max(len(names), 2))]
        self.color_scale.colors = colours
        self.color_scale.max = float(len(colours) - 1)
        counts = np.bincount(codes, minlength=len(names))
        self.colors_by_label = dict(zip(names.tolist(), colours, strict=False))
        self.panel.legend = [
            {"name": str(name), "color": colours[i], "count": int(counts[i])}
            for i, name in enumerate(names.tolist())
        ]

    def _on_selector(self, change: dict[str, Any]) -> None:
        self.figure.interaction = self.brush if change["new"] == "brush" else self.lasso

    def _on_box(self, change: dict[str, Any]) -> None:
        if self._busy:
            return
        self.select_box(change["new"])

    def _on_lasso(self, change: dict[str, Any]) -> None:
        if self._busy:
            return
        self.select_lasso(change["new"])

    def select_lasso(self, polygon: Any) -> None:
        """Select the points inside ``polygon``: fractions ``[x0, y0, x1, y1, ...]`` of the plot
        area (0 = left / top), as the lasso gives them; ``[]`` clears."""
        if self.projection is None or not len(polygon):
            self.select_ids([])
            return
        vertices = polygon_to_data(polygon, self.x_limits, self.y_limits)
        self.select_ids(self.ids[in_polygon(self.projection.coords, vertices)])

    def select_box(self, box: Any) -> None:
        """Select the points inside ``box``: fractions ``[x0, y0, x1, y1]`` of the plot area
        (0 = left / top), as the brush gives them; ``[]`` clears."""
        if self.projection is None or not len(box):
            self.select_ids([])
            return
        x_range, y_range = box_to_data(box, self.x_limits, self.y_limits)
        self.select_ids(self.ids[in_box(self.projection.coords, x_range, y_range)])

    def clear_selection(self) -> None:
        """Select nothing and take the brush rectangle and the lasso off the plot."""
        self._busy = True
        try:
            self.brush.selected_x, self.brush.selected_y = None, None
            self.panel.box, self.panel.lasso = [], []
        finally:
            self._busy = False
        self.select_ids([])

    def select_ids(self, ids: Any) -> None:
        """Select these input ids (as a brush would), e.g. ``fmap.select_ids([3, 17])``."""
        self.selected_ids = np.asarray(list(ids), dtype=np.int64)
        keep = np.flatnonzero(np.isin(self.ids, self.selected_ids))
        self._busy = True
        try:
            self.scatter.selected = keep if len(keep) else None
        finally:
            self._busy = False
        self._list()

    def _list(self) -> None:
        ids = self.selected_ids[:LISTED]
        rows = np.searchsorted(self.meta["input_id"], ids)
        items: list[dict[str, Any]] = []
        images: list[np.ndarray] = []
        for input_id, row in zip(ids.tolist(), rows.tolist(), strict=True):
            label = str(self.labels[row])
            thumb = self.store.thumbnail(input_id)
            item = {
                "input_id": input_id,
                "label": label,
                "color": self.colors_by_label.get(label, "#888"),
                "text": "" if thumb is not None else snippet(str(self.meta["text"][row])),
            }
            if thumb is not None:
                item["image"] = len(images)
                item["height"], item["width"] = (int(n) for n in thumb.shape[:2])
                images.append(thumb)
            items.append(item)
        with self.panel.hold_sync():
            self.panel.selected_count = len(self.selected_ids)
            self.panel.thumbnails = stacked_images(images)
            self.panel.items = items


def _count(store: FeatureStore) -> int:
    return len(store.inputs()["input_id"])


def _scatter_class(webgl: bool) -> Any:
    if webgl:
        from bqplot_gl import ScatterGL

        return ScatterGL
    import bqplot

    return bqplot.Scatter
