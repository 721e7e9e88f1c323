"""Execute a notebook and export it as one HTML page whose widgets work offline.

    python scripts/report.py notebooks/quickstart.ipynb -o artifacts/quickstart.html

A thin command line over ``attnwidgets.export.notebook``: the notebook runs headless (nbclient)
with its widget state stored, then nbconvert's "lab" template turns it into HTML that carries
require.js, the widget manager and every widget module inline (the wheel ships them), with
widget JSON escaped for script elements and read back before the page is written. For one
widget, view or run, use ``attnwidgets.save_html`` instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


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

    from attnwidgets.export import ExportError
    from attnwidgets.export.notebook import notebook_html, strip_colours

    include_base_prefix_data()
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("-o", "--output", type=Path, help="default: artifacts/<notebook>.html")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per cell (300)")
    parser.add_argument("--kernel", default="python3")
    parser.add_argument(
        "--no-execute", action="store_true", help="convert as saved (needs stored widget state)"
    )
    args = parser.parse_args(argv)
    output = args.output or REPO / "artifacts" / f"{args.notebook.stem}.html"
    try:
        path = notebook_html(
            args.notebook,
            output,
            run=not args.no_execute,
            timeout=args.timeout,
            kernel=args.kernel,
        )
    except ExportError as error:
        print(f"report.py: {error}", file=sys.stderr)
        return 2
    except CellExecutionError as error:
        message = strip_colours(str(error))
        print(f"report.py: {args.notebook} failed, no page written:\n{message}", file=sys.stderr)
        return 1
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
