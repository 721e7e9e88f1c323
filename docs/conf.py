"""Sphinx configuration of the documentation site (Sphinx + MyST-NB, furo theme).

Build it with ``python -m sphinx -W --keep-going -b html docs docs/_build/html``
(``tests/e2e/test_docs_site.py`` does, in the test run). ``-W`` turns every warning into an
error: a broken reference, a page outside the toctree, a notebook cell that raises (MyST-NB
executes every notebook, ``nb_execution_raise_on_error``).

The notebooks come from ``notebooks/`` (copied into ``docs/notebooks/`` at build time, not
committed there). Their widgets are live on the pages from the widget state the execution
stores; the widget manager, require.js and anywidget's module are served from ``_static/``
(the offline scripts ``attnwidgets.export`` inlines), never from a CDN.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(REPO / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The notebooks' kernels import this checkout's package too.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH")) if p
)

from attnwidgets._version import __version__  # noqa: E402
from attnwidgets.export.assets import (  # noqa: E402
    amd_bundle_path,
    html_manager_js,
    module_scripts,
    require_js,
)

project = "attnwidgets"
author = "attnwidgets contributors"
copyright = "attnwidgets contributors"
release = version = __version__

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
exclude_patterns = ["_build", "_generated", "**.ipynb_checkpoints"]
html_theme = "furo"
html_title = "attnwidgets"
html_static_path = ["_generated/static"]

myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

nb_execution_mode = "force"  # every build runs every notebook
nb_execution_raise_on_error = True
nb_execution_timeout = 300
nb_merge_streams = True

autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_custom_sections = [("Example", "example"), ("Examples", "example")]


def _write_static() -> dict[str, dict[str, str]]:
    """require.js, the widget modules (named AMD) and the widget manager into _static, in the
    order the page must load them; returns MyST-NB's ``nb_ipywidgets_js``."""
    static = DOCS / "_generated" / "static" / "widgets"
    static.mkdir(parents=True, exist_ok=True)
    files = {"require.js": require_js()}
    modules = [m for m in ("anywidget", "bqplot") if _has_bundle(m)]
    for name, script in module_scripts(modules):
        files[f"module-{name}.js"] = script
    files["embed-amd.js"] = html_manager_js()
    for name, text in files.items():
        (static / name).write_text(text, encoding="utf-8")
    return {f"widgets/{name}": {} for name in files}


def _has_bundle(module: str) -> bool:
    try:
        amd_bundle_path(module)
    except Exception:
        return False
    return True


def _copy_notebooks() -> None:
    """notebooks/*.ipynb into docs/notebooks/ (git-ignored), where the toctree finds them."""
    target = DOCS / "notebooks"
    target.mkdir(exist_ok=True)
    for notebook in sorted((REPO / "notebooks").glob("*.ipynb")):
        shutil.copyfile(notebook, target / notebook.name)


nb_ipywidgets_js = _write_static()
_copy_notebooks()
