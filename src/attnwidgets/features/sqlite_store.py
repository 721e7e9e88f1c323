"""One SQLite file of a feature store (standard library only).

Tables: ``tensors`` (VLM-Lens's columns and ours, see ``schema``), ``inputs`` (one row per
input: text, label, image path, a small thumbnail) and ``store_info`` (who wrote it). Each
batch is one transaction: an input is in ``inputs`` only if all its module rows are in
``tensors``, so an interrupted run loses at most its batch and the file stays readable.

Query it as it is, e.g. in DuckDB (``INSTALL sqlite; LOAD sqlite;``)::

    SELECT layer, label, count(*) FROM sqlite_scan('features.sqlite', 'tensors') GROUP BY ALL
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .schema import TENSOR_COLUMNS, BatchRows, StoreError, StoreInfo

SCHEMA = """
BEGIN;
CREATE TABLE IF NOT EXISTS store_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tensors (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    architecture TEXT NOT NULL,
    timestamp DATETIME DEFAULT CURRENT_TIMESTAMP,
    image_path TEXT NULL,
    image_id INTEGER NULL,
    prompt TEXT NOT NULL,
    label TEXT NULL,
    layer TEXT NOT NULL,
    pooling_method TEXT NULL,
    tensor_dim INTEGER NOT NULL,
    tensor BLOB NOT NULL,
    input_id INTEGER NOT NULL,
    module TEXT NOT NULL,
    layer_index INTEGER NULL,
    dtype TEXT NOT NULL,
    shape TEXT NOT NULL,
    nonfinite INTEGER NOT NULL DEFAULT 0,
    meta TEXT NULL,
    UNIQUE (input_id, layer)
);
CREATE INDEX IF NOT EXISTS tensors_by_layer ON tensors (layer, input_id);
CREATE TABLE IF NOT EXISTS inputs (
    input_id INTEGER PRIMARY KEY,
    prompt TEXT NOT NULL,
    label TEXT NULL,
    image_path TEXT NULL,
    thumbnail BLOB NULL,
    thumbnail_shape TEXT NULL,
    meta TEXT NULL,
    rank INTEGER NOT NULL DEFAULT 0,
    timestamp DATETIME DEFAULT CURRENT_TIMESTAMP
);
COMMIT;
"""


@contextmanager
def readable(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection; any SQLite error becomes a ``StoreError`` naming the file."""
    if not path.is_file():
        raise StoreError(f"{path}: no such store file")
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise StoreError(f"{path}: cannot open the SQLite store ({error})") from error
    try:
        yield connection
    except sqlite3.DatabaseError as error:
        raise damaged(path, error) from error
    finally:
        connection.close()


def damaged(path: Path, error: Exception) -> StoreError:
    return StoreError(
        f"{path}: not a readable feature store ({error}); the file is truncated or corrupted. "
        "Open the store with FeatureStore(path, damaged='skip') to read what is intact, and "
        "write new features to a new store."
    )


def read_info(path: Path) -> StoreInfo | None:
    """The store's ``StoreInfo``, or None for a file with no ``store_info`` row yet."""
    with readable(path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "store_info" not in tables:
            if "tensors" in tables:
                raise StoreError(
                    f"{path}: a 'tensors' table without attnwidgets' store_info (written by "
                    "another tool?); read it with sqlite3 or DuckDB, and extract to a new store"
                )
            return None
        row = db.execute("SELECT value FROM store_info WHERE key = 'info'").fetchone()
        return None if row is None else StoreInfo.from_json(row[0])


def stored_ids(path: Path) -> set[int]:
    with readable(path) as db:
        return {row[0] for row in db.execute("SELECT input_id FROM inputs")}


class SQLiteWriter:
    """Appends finished batches to one SQLite file, one transaction per batch.

    Example:
        >>> import tempfile, numpy as np
        >>> from attnwidgets.features.schema import StoreInfo, BatchRows
        >>> path = Path(tempfile.mkdtemp()) / "f.sqlite"
        >>> info = StoreInfo("m", "Toy", "abc", ["blocks.0"], "mean", "float32")
        >>> writer = SQLiteWriter(path, info, rank=0)
        >>> x = np.ones(3, np.float32)
        >>> writer.write(BatchRows([0], ["hi"], ["1"], [None], [None], [{}], {"blocks.0": [x]}),
        ...              {"blocks.0": [x.tobytes()]})
        >>> writer.close(); sorted(stored_ids(path))
        [0]
    """

    def __init__(self, path: Path, info: StoreInfo, rank: int) -> None:
        self.path = path
        self.info = info
        self.rank = rank
        existing = read_info(path) if path.exists() else None
        if existing is not None:
            existing.refuse_append(info, str(path))
        try:
            self.db = sqlite3.connect(path)
            self.db.executescript(SCHEMA)
            self.db.execute("PRAGMA synchronous = NORMAL")
            with self.db:
                self.db.execute(
                    "INSERT OR REPLACE INTO store_info VALUES ('info', ?)", (info.to_json(),)
                )
        except sqlite3.DatabaseError as error:
            raise damaged(path, error) from error

    def write(self, rows: BatchRows, blobs: dict[str, list[bytes]]) -> None:
        timestamp = _now()
        tensor_rows = rows.tensor_rows(self.info, timestamp, blobs)
        input_rows = [
            (
                rows.ids[i],
                rows.texts[i],
                rows.labels[i],
                rows.image_paths[i],
                None if thumb is None else thumb.tobytes(),
                None if thumb is None else json.dumps(list(thumb.shape)),
                json.dumps(rows.meta[i]) if rows.meta and rows.meta[i] else None,
                self.rank,
                timestamp,
            )
            for i, thumb in enumerate(rows.thumbnails)
        ]
        marks = ", ".join("?" * len(TENSOR_COLUMNS))
        with self.db:  # one transaction: the whole batch or nothing
            self.db.executemany(
                f"INSERT OR REPLACE INTO tensors ({', '.join(TENSOR_COLUMNS)}) VALUES ({marks})",
                tensor_rows,
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO inputs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", input_rows
            )

    def close(self) -> None:
        self.db.close()


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def read_layer(path: Path, layer: str, salvage: bool = False) -> list[tuple[Any, ...]]:
    """``(input_id, tensor, dtype, shape, nonfinite)`` rows of one module path, by input id.

    ``salvage``: on a damaged file, the rows that can still be read instead of an error.
    """
    columns = "input_id, tensor, dtype, shape, nonfinite"
    if not salvage:
        with readable(path) as db:
            query = f"SELECT {columns} FROM tensors WHERE layer = ? ORDER BY input_id"
            return db.execute(query, (layer,)).fetchall()
    rows = salvage_rows(path, "tensors", "id", f"{columns}, layer")
    return sorted(
        (r[:5] for r in rows if r[5] == layer and isinstance(r[1], bytes)), key=lambda r: r[0]
    )


def read_inputs(path: Path, salvage: bool = False) -> list[tuple[Any, ...]]:
    """``(input_id, prompt, label, image_path, thumbnail, thumbnail_shape, meta)`` rows."""
    columns = "input_id, prompt, label, image_path, thumbnail, thumbnail_shape, meta"
    if not salvage:
        with readable(path) as db:
            return db.execute(f"SELECT {columns} FROM inputs ORDER BY input_id").fetchall()
    rows = salvage_rows(path, "inputs", "input_id", columns)
    return sorted((r for r in rows if isinstance(r[0], int)), key=lambda r: r[0])


CHUNK = 16  # rows read per query while salvaging: a damaged page costs at most its chunk
GIVE_UP = 256  # consecutive unreadable chunks after which the rest is taken as lost


def salvage_rows(path: Path, table: str, key: str, columns: str) -> list[tuple[Any, ...]]:
    """The rows of ``table`` that a damaged (e.g. truncated) file still holds: the file is
    padded back to its stated size in a temporary copy, then read in small ranges of
    ``key`` (the rowid), skipping the ranges whose pages are gone."""
    import shutil
    import struct
    import tempfile

    data = path.read_bytes()
    if len(data) < 100 or not data.startswith(b"SQLite format 3\x00"):
        return []
    page = struct.unpack(">H", data[16:18])[0]
    size = (65536 if page == 1 else page) * struct.unpack(">I", data[28:32])[0]
    rows: list[tuple[Any, ...]] = []
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "salvage.sqlite"
        shutil.copyfile(path, copy)
        if size > len(data):
            with copy.open("ab") as handle:
                handle.write(b"\0" * (size - len(data)))
        db = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
        try:
            start, failed = 0, 0
            while failed < GIVE_UP:
                query = f"SELECT {columns} FROM {table} WHERE {key} >= ? AND {key} < ?"
                try:
                    found = db.execute(query, (start, start + CHUNK)).fetchall()
                except sqlite3.DatabaseError:
                    found = []
                rows.extend(found)
                failed = 0 if found else failed + 1
                start += CHUNK
        finally:
            db.close()
    return rows


def layer_paths(path: Path, salvage: bool = False) -> list[str]:
    """The module paths stored in the file."""
    info = read_info(path) if not salvage else _info_or_none(path)
    return [] if info is None else list(info.modules)


def _info_or_none(path: Path) -> StoreInfo | None:
    try:
        return read_info(path)
    except StoreError:
        rows = salvage_rows(path, "store_info", "rowid", "key, value")
        found = [value for key, value in rows if key == "info"]
        return StoreInfo.from_json(found[0]) if found else None
