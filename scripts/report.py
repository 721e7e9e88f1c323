"""Execute a notebook and export it as one HTML page whose widgets work offline.

    python scripts/report.py notebooks/quickstart.ipynb -o artifacts/quickstart.html

The notebook runs headless (nbclient) with its widget state stored, then nbconvert's "lab"
template turns it into HTML. Stock nbconvert pages load require.js and the widget manager from
CDNs, so offline they show no widgets. This page carries everything inline instead:

- require.js (npm package ``requirejs``),
- the widget manager ``@jupyter-widgets/html-manager/dist/embed-amd.js`` (npm), with the
  FontAwesome fonts it links (the Play button's icons) turned into ``data:`` URLs,
- the AMD bundle of every other widget module the state uses (``anywidget``, ...), read from
  ``share/jupyter/nbextensions/<module>/index.js`` where its wheel installed it, and registered
  under the module's name so that the manager finds it locally and never falls back to a CDN.

MathJax and Mermaid are left out (they would load from a CDN): math stays as TeX source.

The widget state sits in ``<script type="application/vnd.jupyter.widget-state+json">``
elements. Token strings are untrusted: a token ``<!--`` or ``<script>`` there changes how the
browser parses the element and every widget is lost. The JSON is written with ``<``, ``>`` and
``&`` as ``\\u003c``, ``\\u003e``, ``\\u0026``; then the page is read back as a browser would
(``check_widgets``) and nothing is written unless every widget's state and view is there.
The npm packages are devDependencies of this repository: ``npm ci`` installs them into
./node_modules; ``--node-modules DIR`` or ``$ATTNWIDGETS_NODE_MODULES`` points elsewhere.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# Widget modules that embed-amd.js itself defines: no separate bundle needed.
BUILTIN_MODULES = {"@jupyter-widgets/base", "@jupyter-widgets/controls", "@jupyter-widgets/output"}
NPM_FILES = {
    "requirejs": Path("requirejs") / "require.js",
    "html_manager": Path("@jupyter-widgets") / "html-manager" / "dist" / "embed-amd.js",
}

# Extends nbconvert's lab template: inline scripts instead of CDN <script src> tags.
TEMPLATE = """\
{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}
<script>{{ resources.offline.requirejs }}</script>
{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{% block footer_js %}
{{ super() }}
{%- for name, source in resources.offline.modules %}
<script data-amd-module="{{ name }}">{{ source }}</script>
{%- endfor %}
{%- if resources.offline.html_manager %}
<script>{{ resources.offline.html_manager }}</script>
{%- endif %}
{% endblock footer_js %}
"""


class ReportError(RuntimeError):
    """Something the page needs is missing; the message says how to get it."""


STATE_TYPE = "application/vnd.jupyter.widget-state+json"
VIEW_TYPE = "application/vnd.jupyter.widget-view+json"


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


# A script element as a browser's parser ends it: at the first "</script" (when the content
# holds no "<!--" / "<script", which check_widgets refuses).
SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script", re.IGNORECASE | re.DOTALL)
SCRIPT_TYPE = re.compile(r"""\btype\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)
UNSAFE_IN_SCRIPT = re.compile(r"<!--|<script|</script", re.IGNORECASE)


def expected_widgets(nb: Any) -> tuple[set[str], list[str]]:
    """The model ids of the notebook's stored widget state, and the model id of every widget
    view among its outputs (in order)."""
    views = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(VIEW_TYPE)
            if isinstance(view, dict) and "model_id" in view:
                views.append(str(view["model_id"]))
    return set(stored_widget_state(nb)), views


def check_widgets(html: str, models: set[str], views: list[str]) -> None:
    r"""Read the page's widget scripts back as a browser would; ReportError unless the state
    holds exactly ``models`` and a view script names each of ``views``.

    Example:
        >>> page = '<script type="application/vnd.jupyter.widget-state+json">'
        >>> page += '{"state": {"a": {"state": {"t": "\\u003c!--"}}}}</script>'
        >>> check_widgets(page, {"a"}, [])
        >>> check_widgets(page.replace("\\u003c", "<"), {"a"}, [])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        report.ReportError: the page would lose its widgets: ... holds '<!--', which ...
    """
    states: list[dict[str, Any]] = []
    shown: list[str] = []
    for number, match in enumerate(SCRIPT.finditer(html)):
        kind = SCRIPT_TYPE.search(match.group(1))
        if kind is None or kind.group(1) not in (STATE_TYPE, VIEW_TYPE):
            continue
        where = f"script element {number} ({kind.group(1)})"
        body = match.group(2)
        unsafe = UNSAFE_IN_SCRIPT.search(body)
        if unsafe:
            raise ReportError(
                f"the page would lose its widgets: {where} holds {unsafe.group(0)!r}, which "
                "changes how a browser parses it"
            )
        try:
            data = json.loads(body)
        except ValueError as error:
            raise ReportError(f"the page would lose its widgets: {where}: {error}") from error
        if kind.group(1) == STATE_TYPE:
            states.append(data.get("state", {}) if isinstance(data, dict) else {})
        elif isinstance(data, dict):
            shown.append(str(data.get("model_id")))
    found = {model for state in states for model in state}
    if found != models:
        missing, extra = sorted(models - found), sorted(found - models)
        raise ReportError(
            f"the page would lose its widgets: its widget state holds {len(found)} models, "
            f"the notebook {len(models)} (missing {missing[:5]}, unexpected {extra[:5]})"
        )
    if sorted(shown) != sorted(views):
        raise ReportError(
            f"the page would lose its widgets: {len(shown)} widget views in the page, "
            f"{len(views)} in the notebook's outputs"
        )


def inline_js(source: str, origin: str) -> str:
    """JavaScript made safe to sit inside <script>...</script> in an HTML page."""
    source = re.sub(r"^//# sourceMappingURL=.*$", "", source, flags=re.MULTILINE)
    source = re.sub(r"</(script)", r"<\\/\1", source, flags=re.IGNORECASE)
    if "<!--" in source:
        raise ReportError(f"{origin} contains '<!--', which cannot be inlined in a <script>")
    return source


def npm_file(node_modules: Path, key: str) -> str:
    path = node_modules / NPM_FILES[key]
    if not path.is_file():
        raise ReportError(
            f"{path} is missing. The offline page inlines the npm packages `requirejs` and "
            f"`@jupyter-widgets/html-manager`: run `npm ci` in {REPO} (they are "
            "devDependencies), or install them elsewhere and point --node-modules or "
            "$ATTNWIDGETS_NODE_MODULES at that node_modules folder."
        )
    return inline_js(path.read_text(encoding="utf-8"), str(path))


# A webpack asset reference in the html-manager bundle: ``<public path>+"<hash>.woff2"``.
WOFF2_ASSET = re.compile(r'\b[A-Za-z_$][\w$]*\.p\+"([0-9a-f]{8,}\.woff2)"')


def inline_fonts(source: str, folder: Path) -> str:
    """Point the bundle's woff2 font assets at ``data:`` URLs, so that the FontAwesome icons
    (play, pause, stop, repeat) draw without fetching ``<page dir>/<hash>.woff2``.

    Browsers take the first format they can read: woff2, so the other formats (eot, woff, ttf,
    svg) are never requested and stay as they are.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "abcdef0123.woff2").write_bytes(b"wOF2")
        >>> inline_fonts('e.exports=n.p+"abcdef0123.woff2"', folder)
        'e.exports="data:font/woff2;base64,d09GMg=="'
    """

    def data_url(match: re.Match[str]) -> str:
        path = folder / match.group(1)
        if not path.is_file():
            raise ReportError(
                f"{path} is missing (a font of the widget manager: without it the Play button "
                f"shows empty boxes). Run `npm ci` in {REPO} to reinstall "
                "@jupyter-widgets/html-manager."
            )
        return '"data:font/woff2;base64,' + base64.b64encode(path.read_bytes()).decode() + '"'

    return WOFF2_ASSET.sub(data_url, source)


def stored_widget_state(nb: Any) -> dict[str, Any]:
    """The notebook's stored widget models by id (empty when none were stored)."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    models: dict[str, Any] = state.get("state", {})
    return models


def without_kernel_controls(nb: Any) -> int:
    """Switch off the controls that need a kernel (the attention view's text box and its
    generate button): the page has no kernel to run them. Returns how many views changed.

    Example:
        >>> import nbformat
        >>> nb = nbformat.v4.new_notebook()
        >>> nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        ...     "state": {"a": {"state": {"live": True, "live_state": "idle"}}}}}
        >>> without_kernel_controls(nb), stored_widget_state(nb)["a"]["state"]["live"]
        (1, False)
    """
    changed = 0
    for model in stored_widget_state(nb).values():
        state = model.get("state", {})
        if state.get("live") is True and "live_state" in state:
            state["live"] = False
            changed += 1
    return changed


def widget_modules(nb: Any) -> set[str]:
    """Model and view module names used by the notebook's stored widget state."""
    names = set()
    for model in stored_widget_state(nb).values():
        for key in ("model_module", "view_module"):
            name = model.get(key) or model.get("state", {}).get(f"_{key}")
            if name:
                names.add(name)
    return names - BUILTIN_MODULES


def nbextension_bundle(module: str) -> Path:
    """``<data dir>/nbextensions/<module>/index.js``, searched in Jupyter's data path order."""
    from jupyter_core.paths import jupyter_path

    candidates = [Path(d) / module / "index.js" for d in jupyter_path("nbextensions")]
    for path in candidates:
        if path.is_file():
            return path
    searched = "\n  ".join(str(p) for p in candidates)
    raise ReportError(
        f"no AMD bundle for the widget module {module!r}; the page would fetch it from a CDN. "
        f"Install the Python package that provides it (its wheel ships "
        f"share/jupyter/nbextensions/{module}/index.js). Searched:\n  {searched}"
    )


def named_amd_module(name: str, source: str) -> str:
    """Wrap a bundle that calls anonymous ``define(...)`` so it defines ``name`` instead."""
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


def offline_resources(nb: Any, node_modules: Path) -> dict[str, Any]:
    """The inline scripts the template needs, read from node_modules and nbextensions."""
    requirejs = npm_file(node_modules, "requirejs")
    if "widgets" not in nb.metadata:
        return {"requirejs": requirejs, "modules": [], "html_manager": ""}
    modules = []
    for name in sorted(widget_modules(nb)):
        path = nbextension_bundle(name)
        modules.append(
            (name, named_amd_module(name, inline_js(path.read_text("utf-8"), str(path))))
        )
    return {
        "requirejs": requirejs,
        "modules": modules,
        "html_manager": inline_fonts(
            npm_file(node_modules, "html_manager"),
            (node_modules / NPM_FILES["html_manager"]).parent,
        ),
    }


def execute(nb: Any, cwd: Path, timeout: int, kernel: str) -> None:
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel,
        resources={"metadata": {"path": str(cwd)}},
        store_widget_state=True,
    )
    client.execute()


def to_html(nb: Any, offline: dict[str, Any]) -> str:
    import jinja2
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        template_file="attnwidgets_offline.html.j2",
        extra_loaders=[jinja2.DictLoader({"attnwidgets_offline.html.j2": TEMPLATE})],
    )
    # nbconvert's own filter escapes "/" only: a token "<!--" would swallow the page.
    exporter.register_filter("escape_html_script", escape_script_json)
    html, _ = exporter.from_notebook_node(nb, resources={"offline": offline})
    check_widgets(html, *expected_widgets(nb))
    tag = r"<(?:script|link)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//[^>]*>"
    remote = [match.group(0)[:200] for match in re.finditer(tag, html)]
    if remote:
        raise ReportError(f"the page still loads from the network: {remote[:3]}")
    return html


def build_report(
    notebook: Path,
    output: Path,
    *,
    timeout: int = 300,
    kernel: str = "python3",
    run: bool = True,
    node_modules: Path | None = None,
) -> Path:
    """Execute ``notebook`` (unless ``run`` is false) and write the offline page to ``output``."""
    import nbformat

    node_modules = node_modules or Path(
        os.environ.get("ATTNWIDGETS_NODE_MODULES") or REPO / "node_modules"
    )
    npm_file(node_modules, "requirejs")  # fail before a long execution, not after
    npm_file(node_modules, "html_manager")
    nb = nbformat.read(notebook, as_version=4)
    if run:
        execute(nb, notebook.resolve().parent, timeout, kernel)
    without_kernel_controls(nb)
    html = to_html(nb, offline_resources(nb, node_modules))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(html, encoding="utf-8")
    return output


def include_base_prefix_data() -> None:
    """In a venv made with --system-site-packages, the data files of packages installed in the
    base interpreter (nbconvert's templates, widget bundles) live under its prefix, which
    Jupyter's data path does not list: add it."""
    base = Path(sys.base_prefix) / "share" / "jupyter"
    if sys.base_prefix != sys.prefix and base.is_dir():
        extra = [os.environ.get("JUPYTER_PATH", ""), str(base)]
        os.environ["JUPYTER_PATH"] = os.pathsep.join(part for part in extra if part)


def main(argv: list[str] | None = None) -> int:
    from nbclient.exceptions import CellExecutionError

    include_base_prefix_data()

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("-o", "--output", type=Path, help="default: artifacts/<notebook>.html")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per cell (300)")
    parser.add_argument("--kernel", default="python3")
    parser.add_argument(
        "--no-execute", action="store_true", help="convert as saved (needs stored widget state)"
    )
    parser.add_argument(
        "--node-modules",
        type=Path,
        help=f"default: $ATTNWIDGETS_NODE_MODULES or {REPO / 'node_modules'}",
    )
    args = parser.parse_args(argv)
    output = args.output or REPO / "artifacts" / f"{args.notebook.stem}.html"
    try:
        path = build_report(
            args.notebook,
            output,
            timeout=args.timeout,
            kernel=args.kernel,
            run=not args.no_execute,
            node_modules=args.node_modules,
        )
    except ReportError as error:
        print(f"report.py: {error}", file=sys.stderr)
        return 2
    except CellExecutionError as error:
        message = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # no terminal colours
        print(f"report.py: {args.notebook} failed, no page written:\n{message}", file=sys.stderr)
        return 1
    size = path.stat().st_size
    print(f"wrote {path} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
