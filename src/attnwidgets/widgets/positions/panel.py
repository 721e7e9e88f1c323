"""A PositionView with its sliders (linked in the browser); several as tabs; two side by side."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets

from ...positions import ABSOLUTE_KINDS, PositionScheme
from ..panels import Panel, Row, Tabs
from .view import PositionView, available_views, used_by

STYLE = {"description_width": "72px"}


def position_explorer(view: PositionView) -> ipywidgets.VBox:
    """The view with the sliders its scheme uses (position, dimension or pair, head).

    The view itself has buttons for its views and for the similarity metric.

    Example:
        >>> import attnwidgets.positions as pos
        >>> box = position_explorer(PositionView(pos.alibi(8, length=32)))
        >>> [c.description for c in box.children[0].children]
        ['position', 'head']
    """
    controls: list[ipywidgets.Widget] = [_slider("position", view, view.length - 1)]
    if view.kind in ABSOLUTE_KINDS or view.kind == "rotary":
        name = "dimension" if view.kind in ABSOLUTE_KINDS else "pair"
        controls.append(_slider("dimension", view, view.n_dims - 1, description=name))
    if view.n_heads > 0:
        controls.append(_slider("head", view, view.n_heads - 1))
    links = [slider._attnwidgets_link for slider in controls]
    box = Panel([Row(controls, layout={"flex_flow": "row wrap"}), view], links=links)
    box.add_class("attnwidgets-position-explorer")
    return box


def _slider(
    trait: str, view: PositionView, top: int, description: str | None = None
) -> ipywidgets.IntSlider:
    slider = ipywidgets.IntSlider(
        value=min(getattr(view, trait), max(top, 0)), min=0, max=max(top, 0),
        description=description or trait, style=STYLE, continuous_update=True,
    )  # fmt: skip
    slider.add_class(f"attnwidgets-{trait}-slider")
    slider._attnwidgets_link = ipywidgets.jslink((slider, "value"), (view, trait))
    return slider


def _as_views(
    items: Sequence[PositionScheme | PositionView], options: dict[str, Any]
) -> list[PositionView]:
    """Views for each item; ``view`` applies to the schemes that have it, the others show their
    first view. A view that none of them has is an error."""
    view = options.pop("view", None)
    schemes = [item for item in items if isinstance(item, PositionScheme)]
    offered = [available_views(scheme) for scheme in schemes]
    if view is not None and schemes and not any(view in names for names in offered):
        known = sorted({name for names in offered for name in names})
        raise ValueError(f"view {view!r} is not one of {known}")
    out = []
    for item in items:
        if isinstance(item, PositionView):
            out.append(item)
        else:
            chosen = view if view in available_views(item) else None
            out.append(PositionView(item, view=chosen, **options))
    return out


def position_panel(
    schemes: PositionScheme | PositionView | Sequence[PositionScheme | PositionView],
    **options: Any,
) -> ipywidgets.Widget:
    """One explorer for a scheme; a tab per scheme for a list (the Positions tab of ``show()``;
    a model with several rotary tables gets one tab per table, titled with the layers using it).

    ``options`` go to each ``PositionView``; ``view="similarity"`` applies to the schemes that
    have that view.

    Example:
        >>> import attnwidgets.positions as pos
        >>> tabs = position_panel([pos.sinusoidal(8, length=32), pos.rotary(8, length=32)])
        >>> [tabs.get_title(i) for i in range(2)]
        ['sinusoidal', 'rotary']
    """
    if isinstance(schemes, (PositionScheme, PositionView)):
        return position_explorer(_as_views([schemes], options)[0])
    items = list(schemes)
    if not items:
        raise ValueError("position_panel() needs at least one PositionScheme")
    views = _as_views(items, options)
    titles = [view.kind + used_by(view.scheme).replace(" · ", ": ", 1) for view in views]
    tabs = Tabs([position_explorer(v) for v in views], titles)
    tabs.add_class("attnwidgets-position-tabs")
    return tabs


def compare(
    a: PositionScheme | PositionView, b: PositionScheme | PositionView, **options: Any
) -> ipywidgets.HBox:
    """Two schemes side by side, each with its own sliders (``view`` applies where it exists).

    When both show the same number of positions, their position sliders move together.

    Example:
        >>> import attnwidgets.positions as pos
        >>> pair = compare(pos.sinusoidal(16, length=64), pos.rotary(16, length=64))
        >>> len(pair.children)
        2
    """
    left, right = _as_views([a, b], options)
    links = []
    if left.length == right.length:
        links.append(ipywidgets.jslink((left, "position"), (right, "position")))
    box = Row(
        [position_explorer(left), position_explorer(right)],
        links=links,
        layout={"flex_flow": "row wrap"},
    )
    box.add_class("attnwidgets-position-compare")
    return box
