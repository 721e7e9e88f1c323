"""A feature store as a folder of Parquet files (pyarrow), for stores too large for one file.

Layout (Hive partitions by process rank, so the parts of a data-parallel run are one store)::

    features.parquet/_store.json                       who wrote it (``StoreInfo``)
    features.parquet/tensors/rank=0/b000000000.parquet one file per finished batch ...
    features.parquet/tensors/rank=0/part-000000000.parquet ... merged every 64 batches
    features.parquet/inputs/rank=0/...                 the same for the per-input rows

The ``tensors`` rows have the SQLite store's columns, with ``tensor`` as a list of numbers
(flattened; ``shape`` gives its shape), so DuckDB computes on it as it is::

    SELECT layer, label, count(*), avg(list_avg(tensor))
    FROM read_parquet('features.parquet/tensors/**/*.parquet', hive_partitioning = true)
    GROUP BY ALL

Every file is written under a temporary name and renamed: a batch's ``inputs`` file is
renamed last, so an input listed there has all its tensors; rows without one are ignored.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .schema import TENSOR_COLUMNS, BatchRows, StoreError, StoreInfo

MERGE_EVERY = 64
"""Batch files merged into one part file once this many have been written."""

INFO_FILE = "_store.json"


def _pa() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as error:  # pragma: no cover - the features extra installs it
        raise ImportError(
            "Parquet stores need pyarrow: pip install 'attnwidgets[features]'"
        ) from error
    return pa, pq


def read_info(root: Path) -> StoreInfo | None:
    path = root / INFO_FILE
    if not path.is_file():
        return None
    try:
        return StoreInfo.from_json(path.read_text(encoding="utf-8"))
    except (ValueError, TypeError) as error:
        raise StoreError(f"{path}: not a readable store description ({error})") from error


def files(root: Path, table: str) -> list[Path]:
    return sorted((root / table).glob("rank=*/*.parquet"))


class ParquetWriter:
    """Writes each finished batch as two files (tensors, then inputs) in this rank's folder."""

    def __init__(self, root: Path, info: StoreInfo, rank: int) -> None:
        self.root = root
        self.info = info
        self.rank = rank
        if root.exists() and not root.is_dir():
            raise StoreError(f"{root}: a Parquet store is a folder, and this is a file")
        existing = read_info(root)
        if existing is not None:
            existing.refuse_append(info, str(root))
        root.mkdir(parents=True, exist_ok=True)
        _atomic_write_text(root / INFO_FILE, info.to_json())
        self.dirs = {t: root / t / f"rank={rank}" for t in ("tensors", "inputs")}
        for folder in self.dirs.values():
            folder.mkdir(parents=True, exist_ok=True)
        self._drop_orphans()

    def _drop_orphans(self) -> None:
        """Tensor files of batches whose inputs file never landed (an interrupted run)."""
        done = {p.name for p in self.dirs["inputs"].glob("*.parquet")}
        for path in self.dirs["tensors"].glob("*.parquet"):
            if path.name not in done:
                path.unlink()
        for folder in self.dirs.values():
            for tmp in folder.glob("*.tmp"):
                tmp.unlink()

    def write(self, rows: BatchRows, blobs: dict[str, list[bytes]]) -> None:
        del blobs  # Parquet keeps numbers, not blobs
        pa, _ = _pa()
        name = f"b{rows.ids[0]:09d}.parquet"
        tensors = tensor_table(pa, rows, self.info)
        inputs = input_table(pa, rows, self.rank)
        _write_table(tensors, self.dirs["tensors"] / name)
        _write_table(inputs, self.dirs["inputs"] / name)  # last: marks the batch complete
        if len(list(self.dirs["inputs"].glob("b*.parquet"))) >= MERGE_EVERY:
            self.merge()

    def merge(self) -> None:
        """Batch files of this rank -> one part file per table (inputs last)."""
        batches = sorted(self.dirs["inputs"].glob("b*.parquet"))
        if len(batches) < 2:
            return
        pa, pq = _pa()
        part = f"part-{batches[0].name[1:]}"
        for table in ("tensors", "inputs"):
            sources = [self.dirs[table] / b.name for b in batches]
            merged = pa.concat_tables([pq.read_table(s) for s in sources])
            if table == "tensors":
                merged = merged.sort_by([("layer", "ascending"), ("input_id", "ascending")])
            _write_table(merged, self.dirs[table] / part)
        for table in ("tensors", "inputs"):
            for b in batches:
                (self.dirs[table] / b.name).unlink(missing_ok=True)

    def close(self) -> None:
        self.merge()


def tensor_table(pa: Any, rows: BatchRows, info: StoreInfo) -> Any:
    values: list[np.ndarray] = []
    records: list[tuple[Any, ...]] = []
    stamp = np.datetime64("now", "s")
    for path, arrays in rows.features.items():
        for i, array in enumerate(arrays):
            values.append(array.reshape(-1))
            records.append((path, i, array))
    order = sorted(range(len(records)), key=lambda k: (records[k][0], rows.ids[records[k][1]]))
    from .schema import module_key

    columns: dict[str, list[Any]] = {c: [] for c in TENSOR_COLUMNS if c != "tensor"}
    for k in order:
        path, i, array = records[k]
        module, layer = module_key(path)
        row = {
            "name": info.name,
            "architecture": info.architecture,
            "timestamp": stamp,
            "image_path": rows.image_paths[i],
            "image_id": rows.ids[i],
            "prompt": rows.texts[i],
            "label": rows.labels[i],
            "layer": path,
            "pooling_method": info.pool,
            "tensor_dim": int(array.shape[-1]),
            "input_id": rows.ids[i],
            "module": module,
            "layer_index": layer,
            "dtype": str(array.dtype),
            "shape": json.dumps(list(array.shape)),
            "nonfinite": bool(not np.isfinite(array).all()),
            "meta": json.dumps(rows.meta[i]) if rows.meta and rows.meta[i] else None,
        }
        for key, value in row.items():
            columns[key].append(value)
    flat = [values[k] for k in order]
    lengths = np.array([0] + [v.size for v in flat], dtype=np.int32).cumsum(dtype=np.int32)
    tensor = pa.ListArray.from_arrays(pa.array(lengths), pa.array(np.concatenate(flat)))
    table = pa.table({k: v for k, v in columns.items()})
    return table.append_column("tensor", tensor)


def input_table(pa: Any, rows: BatchRows, rank: int) -> Any:
    thumbs = rows.thumbnails
    return pa.table(
        {
            "input_id": pa.array(rows.ids, pa.int64()),
            "prompt": rows.texts,
            "label": pa.array(rows.labels, pa.string()),
            "image_path": pa.array(rows.image_paths, pa.string()),
            "thumbnail": pa.array(
                [None if t is None else t.tobytes() for t in thumbs], pa.binary()
            ),
            "thumbnail_shape": pa.array(
                [None if t is None else json.dumps(list(t.shape)) for t in thumbs], pa.string()
            ),
            "meta": pa.array(
                [json.dumps(m) if m else None for m in rows.meta]
                if rows.meta
                else [None] * len(rows.ids),
                pa.string(),
            ),
            "rank": pa.array([rank] * len(rows.ids), pa.int32()),
        }
    )


def _write_table(table: Any, path: Path) -> None:
    _, pq = _pa()
    tmp = path.with_suffix(".tmp")
    pq.write_table(table, tmp, row_group_size=65536)
    os.replace(tmp, path)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def read_table(
    root: Path, table: str, columns: list[str], where: Any = None, salvage: bool = False
) -> Any:
    """Every file of ``table`` (concatenated); a damaged file raises ``StoreError`` naming it,
    or is left out with ``salvage`` (and listed in ``skipped``)."""
    pa, pq = _pa()
    parts = []
    for path in files(root, table):
        try:
            parts.append(pq.read_table(path, columns=columns, filters=where))
        except (OSError, ValueError, pa.ArrowException) as error:
            if not salvage:
                raise StoreError(
                    f"{path}: a damaged Parquet file ({error}). Open the store with "
                    "FeatureStore(path, damaged='skip') to read the other files."
                ) from error
            warnings.warn(f"skipping the damaged Parquet file {path} ({error})", stacklevel=3)
    if not parts:
        return None
    return pa.concat_tables(parts)
