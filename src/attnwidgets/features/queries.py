"""DuckDB over a feature store as it is: views ``tensors`` and ``inputs`` over every part.

The same queries work without attnwidgets (documented in docs/architecture.md)::

    -- SQLite store (DuckDB's sqlite extension)
    SELECT layer, label, count(*) AS n FROM sqlite_scan('features.sqlite', 'tensors') GROUP BY ALL
    -- Parquet store
    SELECT layer, label, count(*) AS n, avg(list_avg(tensor)) AS mean
    FROM read_parquet('features.parquet/tensors/**/*.parquet', hive_partitioning = true)
    GROUP BY ALL
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import FeatureStore


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def sqlite_extension_dir() -> str | None:
    """Where the ``duckdb-ext-sqlite`` wheel put DuckDB's sqlite extension, if installed."""
    try:
        import duckdb_ext
    except ImportError:
        return None
    for folder in getattr(duckdb_ext, "__path__", []):
        extensions = Path(folder) / "extensions"
        if extensions.is_dir():
            return str(extensions)
    return None


def connect(store: FeatureStore) -> Any:
    """A DuckDB connection with ``tensors`` and ``inputs`` views of ``store``."""
    try:
        import duckdb
    except ImportError as error:  # pragma: no cover - the features extra installs it
        raise ImportError("querying a store needs duckdb: pip install duckdb") from error
    if store.parquet:
        con = duckdb.connect()
        for table in ("tensors", "inputs"):
            glob = _quoted(store.path / table / "**" / "*.parquet")
            con.execute(
                f"CREATE VIEW {table} AS SELECT * FROM read_parquet({glob}, "
                "hive_partitioning = true, union_by_name = true)"
            )
        return con
    folder = sqlite_extension_dir()
    config: dict[str, str | bool | int | float | list[str]] = {}
    if folder:
        config["extension_directory"] = folder
    con = duckdb.connect(config=config)
    if folder is None:
        con.execute("INSTALL sqlite")
    con.execute("LOAD sqlite")
    for table in ("tensors", "inputs"):
        scans = " UNION ALL ".join(
            f"SELECT * FROM sqlite_scan({_quoted(part)}, '{table}')" for part in store.parts
        )
        con.execute(f"CREATE VIEW {table} AS {scans}")
    return con
