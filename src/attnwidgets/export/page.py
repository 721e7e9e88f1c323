"""The page itself: widget JSON made safe for a ``<script>`` element, the page read back as a
browser would before it is written, and the HTML of a one-widget page.

Token strings are untrusted: a token ``<!--`` or ``<script>`` inside a script element changes
how the browser parses it, and every widget is lost. JSON is written with ``<``, ``>`` and
``&`` as ``\\u003c``, ``\\u003e``, ``\\u0026``; then ``check_widgets`` reads the page back and
nothing is written unless every widget's state and view is there.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from .assets import ExportError, html_manager_js, module_scripts, require_js, widget_modules
from .replay import replay_js

STATE_TYPE = "application/vnd.jupyter.widget-state+json"
VIEW_TYPE = "application/vnd.jupyter.widget-view+json"
REPLIES_TYPE = "application/vnd.attnwidgets.replies+json"

# A script element as a browser's parser ends it: at the first "</script" (when the content
# holds no "<!--" / "<script", which check_widgets refuses).
SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script", re.IGNORECASE | re.DOTALL)
SCRIPT_TYPE = re.compile(r"""\btype\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)
UNSAFE_IN_SCRIPT = re.compile(r"<!--|<script|</script", re.IGNORECASE)
REMOTE_TAG = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//")


def escape_script_json(text: str) -> str:
    r"""JSON text made safe inside a ``<script>`` element: ``<``, ``>`` and ``&`` as JSON
    escapes, so no token can open a comment, a script or close the element.

    Example:
        >>> escape_script_json('{"t": "<!--</script>&"}')
        '{"t": "\\u003c!--\\u003c/script\\u003e\\u0026"}'
        >>> json.loads(escape_script_json('{"t": "<!--</script>&"}'))["t"]
        '<!--</script>&'
    """
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def script_json(data: Any) -> str:
    """``data`` as JSON for a script element (compact, escaped)."""
    return escape_script_json(json.dumps(data, separators=(",", ":"), allow_nan=False))


def check_widgets(page: str, models: set[str], views: list[str]) -> None:
    r"""Read the page's widget scripts back as a browser would; ExportError unless the state
    holds exactly ``models`` and a view script names each of ``views``.

    Example:
        >>> page = '<script type="application/vnd.jupyter.widget-state+json">'
        >>> page += '{"state": {"a": {"state": {"t": "\\u003c!--"}}}}</script>'
        >>> check_widgets(page, {"a"}, [])
        >>> check_widgets(page.replace("\\u003c", "<"), {"a"}, [])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        attnwidgets.export.assets.ExportError: the page would lose its widgets: ... '<!--', ...
    """
    states: list[dict[str, Any]] = []
    shown: list[str] = []
    for number, match in enumerate(SCRIPT.finditer(page)):
        kind = SCRIPT_TYPE.search(match.group(1))
        if kind is None or kind.group(1) not in (STATE_TYPE, VIEW_TYPE, REPLIES_TYPE):
            continue
        where = f"script element {number} ({kind.group(1)})"
        body = match.group(2)
        unsafe = UNSAFE_IN_SCRIPT.search(body)
        if unsafe:
            raise ExportError(
                f"the page would lose its widgets: {where} holds {unsafe.group(0)!r}, which "
                "changes how a browser parses it"
            )
        try:
            data = json.loads(body)
        except ValueError as error:
            raise ExportError(f"the page would lose its widgets: {where}: {error}") from error
        if kind.group(1) == STATE_TYPE:
            states.append(data.get("state", {}) if isinstance(data, dict) else {})
        elif kind.group(1) == VIEW_TYPE and isinstance(data, dict):
            shown.append(str(data.get("model_id")))
    found = {model for state in states for model in state}
    if found != models:
        missing, extra = sorted(models - found), sorted(found - models)
        raise ExportError(
            f"the page would lose its widgets: its widget state holds {len(found)} models, "
            f"the source {len(models)} (missing {missing[:5]}, unexpected {extra[:5]})"
        )
    if sorted(shown) != sorted(views):
        raise ExportError(
            f"the page would lose its widgets: {len(shown)} widget views in the page, "
            f"{len(views)} in the source"
        )


def check_offline(page: str) -> None:
    """ExportError when a tag of the page would load something from the network.

    Example:
        >>> check_offline('<script src="https://cdn.example/require.js"></script>')
        Traceback (most recent call last):
        ...
        attnwidgets.export.assets.ExportError: the page still loads from the network: \
['<script src="https://cdn.example/require.js">']
    """
    tags = [
        page[m.start() : page.find(">", m.start()) + 1][:200] for m in REMOTE_TAG.finditer(page)
    ]
    if tags:
        raise ExportError(f"the page still loads from the network: {tags[:3]}")


PAGE_CSS = """
body { margin: 16px; font-family: system-ui, sans-serif; color: #222; background: #fff; }
.attnwidgets-export-note { color: #666; font-size: 12px; margin: 12px 0 0; }
"""


def widget_page(
    state: dict[str, Any],
    views: list[str],
    replies: dict[str, Any],
    title: str,
    note: str = "",
) -> str:
    """The HTML of a page showing ``views`` (model ids) of the widget ``state`` (models by
    id, as ``ipywidgets.embed`` writes them), with the recorded ``replies`` (``replay.js``).

    The widget manager renders each view script in place once the page has loaded."""
    modules = module_scripts(widget_modules(state))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{PAGE_CSS}</style>",
        f"<script>{require_js()}</script>",
        *(f'<script data-amd-module="{html.escape(name)}">{js}</script>' for name, js in modules),
        "</head>",
        "<body>",
        f'<script type="{STATE_TYPE}">'
        + script_json({"version_major": 2, "version_minor": 0, "state": state})
        + "</script>",
        *(
            f'<script type="{VIEW_TYPE}">'
            + script_json({"version_major": 2, "version_minor": 0, "model_id": model_id})
            + "</script>"
            for model_id in views
        ),
        f'<script type="{REPLIES_TYPE}" id="attnwidgets-replies">{script_json(replies)}</script>',
    ]
    if note:
        parts.append(f'<p class="attnwidgets-export-note">{html.escape(note)}</p>')
    parts += [
        f"<script>{html_manager_js()}</script>",
        f"<script>{replay_js()}</script>",
        "</body>",
        "</html>",
        "",
    ]
    page = "\n".join(parts)
    check_widgets(page, set(state), views)
    check_offline(page)
    return page
