"""The scripts an exported page carries inline, so that it draws with no network.

Stock pages (``ipywidgets.embed``, ``nbconvert --to html``) load require.js and the widget
manager from CDNs: offline they show no widgets. An exported page holds instead:

- ``require.js`` and the widget manager (``@jupyter-widgets/html-manager``'s
  ``embed-amd.js``, its FontAwesome fonts as ``data:`` URLs), copied into
  ``static/offline/`` by ``npm run build`` (``scripts/offline_assets.mjs``): they ship in the
  wheel, so exporting needs no npm;
- the AMD bundle of every other widget module the state uses (``anywidget``, ``bqplot``...),
  read from ``share/jupyter/nbextensions/<module>/index.js`` where its wheel installed it, and
  registered under the module's name, so the manager finds it locally and never asks a CDN.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from ..widgets.bundles import STATIC

OFFLINE = STATIC / "offline"
# Widget modules that embed-amd.js defines itself: no separate bundle.
BUILTIN_MODULES = frozenset(
    {"@jupyter-widgets/base", "@jupyter-widgets/controls", "@jupyter-widgets/output"}
)
# A font the widget manager would fetch next to the page (the build inlines them).
LINKED_FONT = re.compile(r'\b[A-Za-z_$][\w$]*\.p\+"[0-9a-f]{8,}\.woff2"')


class ExportError(RuntimeError):
    """The page cannot be written as asked; the message says why and what to do."""


def inline_js(source: str, origin: str) -> str:
    """JavaScript made safe to sit inside ``<script>...</script>``: no ``</script`` can end
    the element early, and a source holding ``<!--`` is refused (it changes how the browser
    parses the element).

    Example:
        >>> inline_js('x = "</script>";', "x.js")
        'x = "<\\\\/script>";'
    """
    source = re.sub(r"^//# sourceMappingURL=.*$", "", source, flags=re.MULTILINE)
    source = re.sub(r"</(script)", r"<\\/\1", source, flags=re.IGNORECASE)
    if "<!--" in source:
        raise ExportError(f"{origin} contains '<!--', which cannot be inlined in a <script>")
    return source


def _offline_file(name: str) -> str:
    path = OFFLINE / name
    if not path.is_file():
        raise ExportError(
            f"{path} is missing: exported pages inline it. It is built with the widgets' "
            "JavaScript: reinstall attnwidgets (`pip install attnwidgets`; the wheel carries "
            "it), or run `npm ci && npm run build` in a source checkout."
        )
    return path.read_text(encoding="utf-8")


@functools.cache
def require_js() -> str:
    """require.js, ready to inline (read once)."""
    return inline_js(_offline_file("require.js"), "require.js")


@functools.cache
def html_manager_js() -> str:
    """The widget manager (``embed-amd.js``) with its fonts inlined, ready to inline."""
    source = _offline_file("embed-amd.js")
    linked = LINKED_FONT.search(source)
    if linked:
        raise ExportError(
            f"{OFFLINE / 'embed-amd.js'} still links a font file ({linked.group(0)}): rebuild "
            "it with `npm run build` (scripts/offline_assets.mjs inlines the fonts)"
        )
    return inline_js(source, "embed-amd.js")


def _data_paths() -> list[Path]:
    """Folders that hold ``nbextensions/``, in Jupyter's order, then this interpreter's."""
    folders: list[Path] = []
    try:
        from jupyter_core.paths import jupyter_path

        folders += [Path(d) for d in jupyter_path()]
    except ImportError:  # jupyter_core is not a dependency of the widgets
        folders += [Path(d) for d in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if d]
    for prefix in (sys.prefix, sys.base_prefix):
        folders.append(Path(prefix) / "share" / "jupyter")
    return list(dict.fromkeys(folders))


def amd_bundle_path(module: str) -> Path:
    """``<data dir>/nbextensions/<module>/index.js`` of an installed widget package.

    Example:
        >>> amd_bundle_path("anywidget").parts[-3:]
        ('nbextensions', 'anywidget', 'index.js')
    """
    candidates = [folder / "nbextensions" / module / "index.js" for folder in _data_paths()]
    for path in candidates:
        if path.is_file():
            return path
    wanted = f"share/jupyter/nbextensions/{module}/index.js"
    for dist in importlib.metadata.distributions():  # installed elsewhere (--user, --prefix)
        for file in dist.files or ():
            if str(file).replace("\\", "/").endswith(wanted):
                path = Path(str(dist.locate_file(file)))
                if path.is_file():
                    return path
    searched = "\n  ".join(str(p) for p in candidates)
    raise ExportError(
        f"no AMD bundle for the widget module {module!r}; the page would fetch it from a CDN. "
        f"Install the Python package that provides it (its wheel ships {wanted}). "
        f"Searched:\n  {searched}"
    )


def named_amd_module(name: str, source: str) -> str:
    """Wrap a bundle that calls anonymous ``define(...)`` so it defines ``name`` instead.

    Example:
        >>> print(named_amd_module("m", "define([], () => 1);").splitlines()[0])
        (function (define) {
    """
    return (
        "(function (define) {\n"
        f"{source}\n"
        "})((function (name) {\n"
        "  var named = function () {\n"
        "    var args = Array.prototype.slice.call(arguments);\n"
        "    if (typeof args[0] !== 'string') args.unshift(name);\n"
        "    return window.define.apply(window, args);\n"
        "  };\n"
        "  named.amd = window.define.amd;\n"
        "  return named;\n"
        f"}})({name!r}));"
    )


@functools.cache
def widget_module_js(module: str) -> str:
    """The AMD bundle of widget module ``module``, defined under its name, ready to inline."""
    path = amd_bundle_path(module)
    return named_amd_module(module, inline_js(path.read_text(encoding="utf-8"), str(path)))


def widget_modules(state: dict[str, dict[str, object]]) -> list[str]:
    """The model and view modules a widget state uses, besides the manager's own.

    Example:
        >>> widget_modules({"a": {"model_module": "anywidget", "state": {}},
        ...                 "b": {"model_module": "@jupyter-widgets/controls", "state": {}}})
        ['anywidget']
    """
    names: set[str] = set()
    for model in state.values():
        inner = model.get("state")
        for key in ("model_module", "view_module"):
            name = model.get(key) or (inner.get(f"_{key}") if isinstance(inner, dict) else None)
            if isinstance(name, str) and name:
                names.add(name)
    return sorted(names - BUILTIN_MODULES)


def module_scripts(modules: Iterable[str]) -> list[tuple[str, str]]:
    """``(name, script)`` for each module: its bundle defined under its name."""
    return [(name, widget_module_js(name)) for name in modules]
