"""Boxes that close what they hold: ``Panel`` (a VBox), ``Row`` (an HBox) and ``Tabs`` (a Tab).

An ipywidgets box's ``close()`` closes the box alone: its children stay open, and every
``jslink`` between them is a widget of its own that keeps both ends referenced by the kernel's
widget registry forever. The explorers, panels and tabs of this package are built from these
instead, so closing what ``run.show()`` displayed frees the views and the records they hold.

Example:
    >>> import ipywidgets
    >>> a, b = ipywidgets.IntSlider(), ipywidgets.IntSlider()
    >>> link = ipywidgets.jslink((a, "value"), (b, "value"))
    >>> panel = Panel([Row([a]), b], links=[link])
    >>> panel.close()
    >>> a.comm is None, b.comm is None, link.comm is None
    (True, True, True)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import ipywidgets


def close_tree(widget: ipywidgets.Widget) -> None:
    """Close ``widget`` and everything inside it (children of boxes and tabs, all the way down).

    Example:
        >>> import ipywidgets
        >>> inner = ipywidgets.IntSlider()
        >>> close_tree(ipywidgets.VBox([ipywidgets.HBox([inner])]))
        >>> inner.comm is None
        True
    """
    if isinstance(widget, _Closing):
        widget.close()
        return
    for child in getattr(widget, "children", ()) or ():
        close_tree(child)
    widget.close()


def with_tabs(shown: ipywidgets.Widget, tabs: Sequence[tuple[str, Any]]) -> ipywidgets.Widget:
    """``shown`` with ``tabs`` (``(title, widget)`` pairs) after its own pages: ``shown`` itself
    when it is a Tab (observers of ``run.widget()`` refer to it), else new ``Tabs`` with
    ``shown`` first, titled "Attention".

    Example:
        >>> import ipywidgets
        >>> tabs = with_tabs(ipywidgets.Label("a"), [("Image", ipywidgets.Label("b"))])
        >>> tabs.titles, with_tabs(tabs, [("More", ipywidgets.Label("c"))]) is tabs
        (('Attention', 'Image'), True)
    """
    if isinstance(shown, ipywidgets.Tab):
        titles = tuple(shown.titles)
        shown.children = (*shown.children, *(widget for _, widget in tabs))
        shown.titles = (*titles, *(title for title, _ in tabs))
        return shown
    return Tabs([shown, *(widget for _, widget in tabs)], ["Attention", *(t for t, _ in tabs)])


class _Closing:
    """What the three boxes share: the links they own, and a ``close()`` that goes down."""

    children: Sequence[ipywidgets.Widget]
    links: list[ipywidgets.Widget]

    def _own(self, links: Iterable[ipywidgets.Widget]) -> None:
        self.links = list(links)

    def close(self) -> None:
        for link in self.links:
            link.close()
        self.links = []
        for child in self.children:
            close_tree(child)
        super().close()  # type: ignore[misc]


class Panel(_Closing, ipywidgets.VBox):  # type: ignore[misc]
    """A VBox that closes its children and ``links`` when closed."""

    def __init__(
        self, children: Sequence[Any] = (), links: Iterable[Any] = (), **kwargs: Any
    ) -> None:
        super().__init__(list(children), **kwargs)
        self._own(links)


class Row(_Closing, ipywidgets.HBox):  # type: ignore[misc]
    """An HBox that closes its children and ``links`` when closed."""

    def __init__(
        self, children: Sequence[Any] = (), links: Iterable[Any] = (), **kwargs: Any
    ) -> None:
        super().__init__(list(children), **kwargs)
        self._own(links)


class Tabs(_Closing, ipywidgets.Tab):  # type: ignore[misc]
    """A Tab that closes its pages and ``links`` when closed; ``titles`` set in order."""

    def __init__(
        self,
        children: Sequence[Any] = (),
        titles: Sequence[str] = (),
        links: Iterable[Any] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(children=list(children), **kwargs)
        for index, title in enumerate(titles):
            self.set_title(index, title)
        self._own(links)
