"""An executed notebook as one offline page: nbconvert's "lab" template with every script
inline (``assets``), widget JSON escaped for script elements and read back before writing
(``page``). ``scripts/report.py`` is the command line; the documentation site uses
``offline_scripts`` for its pages.

MathJax and Mermaid are left out (they would load from a CDN): math stays as TeX source.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .assets import (
    ExportError,
    html_manager_js,
    module_scripts,
    require_js,
    widget_modules,
)
from .page import VIEW_TYPE, check_offline, check_widgets, escape_script_json

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


def stored_widget_state(nb: Any) -> dict[str, Any]:
    """The notebook's stored widget models by id (empty when none were stored)."""
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    models: dict[str, Any] = state.get("state", {})
    return models


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


def offline_scripts(nb: Any) -> dict[str, Any]:
    """The inline scripts a page of ``nb`` needs: ``requirejs``, ``modules`` (name, AMD
    bundle) and ``html_manager`` (empty when the notebook holds no widgets)."""
    if "widgets" not in nb.metadata:
        return {"requirejs": require_js(), "modules": [], "html_manager": ""}
    return {
        "requirejs": require_js(),
        "modules": module_scripts(widget_modules(stored_widget_state(nb))),
        "html_manager": html_manager_js(),
    }


def execute(nb: Any, cwd: Path, timeout: int = 300, kernel: str = "python3") -> None:
    """Run every cell (nbclient), storing the widget state in the notebook."""
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel,
        resources={"metadata": {"path": str(cwd)}},
        store_widget_state=True,
    )
    client.execute()


def error_outputs(nb: Any) -> list[str]:
    """``cell N: Name: message`` for every error output of the notebook."""
    return [
        f"cell {index}: {output.get('ename')}: {output.get('evalue')}"
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]


def notebook_page(nb: Any) -> str:
    """The HTML of an executed notebook ``nb`` (changed in place: no kernel controls)."""
    import jinja2
    from nbconvert import HTMLExporter

    without_kernel_controls(nb)
    exporter = HTMLExporter(  # type: ignore[no-untyped-call]
        template_name="lab",
        template_file="attnwidgets_offline.html.j2",
        extra_loaders=[jinja2.DictLoader({"attnwidgets_offline.html.j2": TEMPLATE})],
    )
    # nbconvert's own filter escapes "/" only: a token "<!--" would swallow the page.
    exporter.register_filter(  # type: ignore[no-untyped-call]
        "escape_html_script", escape_script_json
    )
    page, _ = exporter.from_notebook_node(nb, resources={"offline": offline_scripts(nb)})
    check_widgets(page, *expected_widgets(nb))
    check_offline(page)
    return page


def notebook_html(
    notebook: str | Path,
    output: str | Path,
    *,
    run: bool = True,
    timeout: int = 300,
    kernel: str = "python3",
) -> Path:
    """Execute ``notebook`` (unless ``run`` is false) and write its offline page to ``output``.

    A notebook with an error output is refused (``ExportError``), nothing is written."""
    import nbformat

    require_js()  # fail before a long execution, not after
    html_manager_js()
    nb = nbformat.read(notebook, as_version=4)  # type: ignore[no-untyped-call]
    if run:
        execute(nb, Path(notebook).resolve().parent, timeout, kernel)
    errors = error_outputs(nb)
    if errors:
        raise ExportError(f"{notebook} holds errors, no page written: " + "; ".join(errors))
    page = notebook_page(nb)
    target = Path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    return target


def strip_colours(text: str) -> str:
    """Terminal colour codes out of a message."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)
