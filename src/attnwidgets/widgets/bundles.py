"""The built JavaScript of each widget (``static/``), and a clear error when it was not built.

Each widget sets ``_esm = bundle("<name>_view.js")`` and calls ``require_bundle`` when it is
made, so an unbuilt source checkout can still import the package.
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "static"


def bundle(name: str) -> Path | str:
    """The built module, or (in an unbuilt source checkout) a stub so that import still works.

    Example:
        >>> bundle("no_such_view.js")
        'export default { render() {} };'
    """
    path = STATIC / name
    return path if path.is_file() else "export default { render() {} };"


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
