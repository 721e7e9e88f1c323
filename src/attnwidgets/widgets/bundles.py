"""The built JavaScript of each widget (``static/``), and a clear error when it was not built.

Each widget sets ``_esm = bundle("<name>_view.js")`` and calls ``require_bundle`` when it is
made, so an unbuilt source checkout can still import the package.

The bundle is passed to anywidget as TEXT, read once per bundle and cached: given a
``pathlib.Path``, anywidget makes a watched ``FileContents`` whose change signal keeps a
reference to every widget ever made from the class, so no view (nor the record it holds)
would be freed after ``close()``.
"""

from __future__ import annotations

import functools
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "static"
STUB = "export default { render() {} };\n"


@functools.cache
def bundle(name: str) -> str:
    """The built module's source text (read once), or a stub in an unbuilt source checkout.

    Always a multi-line string, so that anywidget never mistakes it for a file path.

    Example:
        >>> bundle("no_such_view.js")
        'export default { render() {} };\\n'
        >>> bundle("no_such_view.js") is bundle("no_such_view.js")
        True
    """
    path = STATIC / name
    if not path.is_file():
        return STUB
    text = path.read_text(encoding="utf-8")
    return text if "\n" in text else text + "\n"


def require_bundle(name: str) -> None:
    """Raise a clear error when the built JavaScript is missing (a source checkout, unbuilt).

    Example:
        >>> require_bundle("no_such_view.js")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        FileNotFoundError: the widget bundle .../no_such_view.js is missing. Install ...
    """
    path = STATIC / name
    if not path.is_file():
        raise FileNotFoundError(
            f"the widget bundle {path} is missing. Install attnwidgets with `pip install .` "
            "(it builds the JavaScript), or run `npm ci && npm run build` in the source folder."
        )
