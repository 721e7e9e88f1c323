"""Offline pages: ``save_html(widget_or_run, "attention.html")`` writes one HTML file that
shows a view, panel or run with no kernel and no network; ``notebook_html`` does the same for
an executed notebook (``scripts/report.py``, the documentation site).

- ``assets``: the scripts a page carries inline (require.js, the widget manager, the widget
  modules' AMD bundles), shipped in the wheel under ``static/offline/``.
- ``page``: JSON made safe for script elements, the page read back before it is written.
- ``state``: the widget state, with the data a page without a kernel needs (``layers=``).
- ``replay``: replies recorded for views that ask the kernel for layers (``replay.js``).
- ``notebook``: an executed notebook as an offline page (nbconvert).
"""

from __future__ import annotations

from .assets import ExportError
from .save import save_html

__all__ = ["ExportError", "save_html"]
