"""``save_html``: any view, panel or run as one HTML file that works with no kernel and no
network (see ``attnwidgets.export``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .assets import ExportError
from .page import widget_page
from .state import Collected, apply_layers, choose_layers, collect, page_state

DEFAULT_MAX_BYTES = 64 * 2**20  # the page's size at most, unless max_bytes says otherwise


def as_widget(obj: Any) -> tuple[Any, bool]:
    """The widget to export, and whether it was made here (then it is closed afterwards).

    Example:
        >>> as_widget(3)
        Traceback (most recent call last):
        ...
        TypeError: save_html takes a widget (a view, a panel, run.widget()) or a run \
(anything with a widget() method), not int
    """
    from ipywidgets import DOMWidget

    if isinstance(obj, DOMWidget):
        return obj, False
    make = getattr(obj, "widget", None)
    if callable(make):
        widget = make()
        if isinstance(widget, DOMWidget):
            return widget, True
    raise TypeError(
        "save_html takes a widget (a view, a panel, run.widget()) or a run (anything with a "
        f"widget() method), not {type(obj).__name__}"
    )


def _page(collected: Collected, root: Any, title: str) -> str:
    notes = "; ".join(
        f"{type(collected.widgets[model_id]).__name__}: {note}"
        for model_id, note in collected.notes.items()
    )
    note = "Saved by attnwidgets.save_html, no kernel behind this page" + (
        f". {notes}." if notes else "."
    )
    return widget_page(page_state(collected), [root.model_id], collected.replies, title, note)


def save_html(
    widget_or_run: Any,
    path: str | os.PathLike[str] = "attention.html",
    *,
    layers: list[int] | None = None,
    max_bytes: int | None = None,
    title: str | None = None,
    quiet: bool = False,
) -> Path:
    """Write ``widget_or_run`` as one self-contained HTML page; returns its path.

    The page works opened from disk with no kernel and no network: every script it needs is
    inline, sliders, tabs and buttons that run in the browser work, and the data of the
    layers asked for is in the page (views that ask the kernel for layers get them up front).
    ``layers``: layer indices to carry (the one shown always comes too); None: every layer,
    nearest to the one shown first, while the page stays within ``max_bytes`` (default 64 MiB;
    layers left out are named). Asked-for layers that do not fit raise ``ExportError``. The
    size and what each view holds are printed (``quiet=True``: not).

    Example:
        >>> import numpy as np, tempfile, attnwidgets as aw
        >>> view = aw.AttentionView(np.full((3, 2, 4, 4), 0.25), list("abcd"))
        >>> page = aw.save_html(view, Path(tempfile.mkdtemp()) / "a.html")  # doctest: +ELLIPSIS
        wrote .../a.html (... MB): AttentionView: layers 0-2 of 3
        >>> "application/vnd.jupyter.widget-state+json" in page.read_text()
        True
    """
    limit = DEFAULT_MAX_BYTES if max_bytes is None else int(max_bytes)
    root, made = as_widget(widget_or_run)
    try:
        collected = collect(root)
        if layers is not None:
            top = max(
                (getattr(collected.widgets[m], "n_layers", 0) for m in collected.shown), default=0
            )
            bad: list[object] = [
                x
                for x in layers
                if not isinstance(x, int) or isinstance(x, bool) or not 0 <= x < top
            ]
            if bad:
                raise ExportError(f"layers: {bad} are not layers of this page (0..{top - 1})")
        title = title or f"attnwidgets: {type(root).__name__}"
        apply_layers(collected, {view: [layer] for view, layer in collected.shown.items()}, {})
        base = len(_page(collected, root, title).encode("utf-8"))
        if base > limit:
            raise ExportError(
                f"the page needs {base / 1e6:.1f} MB with only the layers shown; max_bytes "
                f"is {limit / 1e6:.1f} MB"
            )
        chosen, left = choose_layers(collected.shown, collected.costs, layers, limit - base)
        apply_layers(collected, chosen, left)
        page = _page(collected, root, title)
    finally:
        if made:
            for widget in collect_made(root):
                widget.close()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    if not quiet:
        described = "; ".join(
            f"{type(collected.widgets[m]).__name__}: {note}" for m, note in collected.notes.items()
        )
        size = target.stat().st_size
        print(f"wrote {target} ({size / 1e6:.1f} MB)" + (f": {described}" if described else ""))
    return target


def collect_made(root: Any) -> list[Any]:
    """Every widget under ``root`` (itself, its children, their links): closed after an
    export of a widget made by it."""
    from .state import all_widgets

    return list(all_widgets(root).values())
