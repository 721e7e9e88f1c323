"""``aw.FeatureStore(path)``: read what ``aw.extract`` wrote, whatever its format and parts.

``path`` is a SQLite file (``features.sqlite``; the parts of a data-parallel run sit beside
it as ``features.part-1.sqlite``, ... and open with it) or a Parquet folder
(``features.parquet``). Numpy only: no torch needed to read a store.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from . import parquet_store, sqlite_store
from .schema import StoreError, StoreInfo, labels_array, layer_path, module_key, raw_bytes

Meta = dict[str, np.ndarray]


def is_parquet(path: Path) -> bool:
    return path.suffix == ".parquet" or path.is_dir()


def part_paths(path: Path) -> list[Path]:
    """The SQLite files of a store: ``path`` and its ``.part-N`` siblings, in rank order.

    Example:
        >>> part_paths(Path("/nowhere/features.sqlite"))
        []
    """
    parts = sorted(
        path.parent.glob(f"{path.stem}.part-*{path.suffix}"),
        key=lambda p: int(p.stem.rsplit("-", 1)[-1]) if p.stem.rsplit("-", 1)[-1].isdigit() else 0,
    )
    return ([path] if path.is_file() else []) + parts


def rank_path(path: Path, rank: int) -> Path:
    """Where process ``rank`` writes: rank 0 the store itself, rank N ``<stem>.part-N``.

    Example:
        >>> rank_path(Path("out/features.sqlite"), 2).as_posix()
        'out/features.part-2.sqlite'
    """
    return path if rank == 0 else path.with_name(f"{path.stem}.part-{rank}{path.suffix}")


class FeatureStore:
    """Features of one model over a dataset: ``.modules``, ``.load(module, layer)``.

    ``damaged="raise"`` (default) refuses a truncated or corrupted file with an error naming
    it; ``damaged="skip"`` warns and reads what is intact (other parts and files, and the rows
    of a damaged SQLite file up to the damage).

    Example:
        >>> store = FeatureStore("features.sqlite")                # doctest: +SKIP
        >>> store.modules                                          # doctest: +SKIP
        ['bert.encoder.layer.*.output']
        >>> X, meta = store.load("bert.encoder.layer.*.output", 3)  # doctest: +SKIP
        >>> X.shape, meta["label"][:3], meta["text"][0]             # doctest: +SKIP
        ((2000, 384), array([0, 1, 1]), 'def f(x): ...')
    """

    def __init__(self, path: str | Path, *, damaged: str = "raise") -> None:
        if damaged not in ("raise", "skip"):
            raise ValueError(f"damaged={damaged!r}: use 'raise' or 'skip'")
        self.path = Path(path)
        self.salvage = damaged == "skip"
        self.parquet = is_parquet(self.path)
        self.parts = [self.path] if self.parquet else part_paths(self.path)
        if not self.parts or (self.parquet and not self.path.is_dir()):
            raise StoreError(f"{self.path}: no feature store here (extract one with aw.extract)")
        self.info = self._read_info()
        self._inputs: Meta | None = None
        self._duckdb: Any = None

    def _read_info(self) -> StoreInfo:
        infos: list[tuple[Path, StoreInfo]] = []
        for part in self.parts:
            try:
                info = (parquet_store if self.parquet else sqlite_store).read_info(part)
            except StoreError as error:
                if not self.salvage:
                    raise
                warnings.warn(f"reading what is intact: {error}", stacklevel=3)
                info = None if self.parquet else sqlite_store._info_or_none(part)
            if info is not None:
                infos.append((part, info))
        if not infos:
            raise StoreError(f"{self.path}: the store holds no features yet")
        first_path, first = infos[0]
        for part, info in infos[1:]:
            first.refuse_append(info, f"{first_path} (beside {part})")
        return first

    @property
    def paths(self) -> list[str]:
        """Every stored module path, in the model's order."""
        return list(self.info.modules)

    @property
    def modules(self) -> list[str]:
        """The stored modules with their layer number as ``*`` (``model.layers.*.mlp``)."""
        seen: dict[str, None] = {}
        for path in self.info.modules:
            seen.setdefault(module_key(path)[0], None)
        return list(seen)

    def layers(self, module: str) -> list[int | None]:
        """The layer numbers stored for ``module`` (a pattern from ``.modules``)."""
        found = [module_key(p)[1] for p in self.info.modules if module_key(p)[0] == module]
        if not found:
            raise KeyError(f"{module!r} is not in this store; stored modules: {self.modules}")
        return found

    def resolve(self, module: str, layer: int | None = None) -> str:
        """The stored module path for ``(module, layer)`` or a full path; KeyError otherwise."""
        if module in self.info.modules and layer is None:
            return module
        pattern = module_key(module)[0] if module in self.info.modules else module
        if pattern not in self.modules:
            raise KeyError(f"{module!r} is not in this store; stored modules: {self.modules}")
        layers = self.layers(pattern)
        if layer is None:
            if len(layers) != 1:
                raise KeyError(f"{pattern!r} has layers {layers}: pass layer=")
            layer = layers[0]
        numbered = sorted(x for x in layers if x is not None)
        if layer is not None and layer < 0 and len(numbered) == len(layers):
            layer = numbered[layer]
        path = layer_path(pattern, layer)
        if path not in self.info.modules:
            raise KeyError(f"{pattern!r} has no layer {layer}; stored layers: {layers}")
        return path

    def __len__(self) -> int:
        return len(self.inputs()["input_id"])

    def inputs(self) -> Meta:
        """Per stored input: ``input_id``, ``text``, ``label``, ``image_path`` (arrays)."""
        if self._inputs is None:
            rows = self._input_rows()
            self._inputs = {
                "input_id": np.array([r[0] for r in rows], dtype=np.int64),
                "text": np.array([r[1] for r in rows], dtype=object),
                "label": labels_array([r[2] for r in rows]),
                "image_path": np.array([r[3] for r in rows], dtype=object),
            }
            self._thumbs = {r[0]: (r[4], r[5]) for r in rows if r[4] is not None}
            self._meta_json = {r[0]: r[6] for r in rows if r[6]}
        return self._inputs

    def _input_rows(self) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        if self.parquet:
            table = parquet_store.read_table(
                self.path,
                "inputs",
                [
                    "input_id",
                    "prompt",
                    "label",
                    "image_path",
                    "thumbnail",
                    "thumbnail_shape",
                    "meta",
                ],
                salvage=self.salvage,
            )
            if table is not None:
                rows = list(zip(*(table.column(i).to_pylist() for i in range(7)), strict=True))
        else:
            for part in self.parts:
                rows.extend(self._guarded(part, sqlite_store.read_inputs))
        unique = {r[0]: r for r in rows}
        return [unique[k] for k in sorted(unique)]

    def _guarded(self, part: Path, read: Any, *args: Any) -> list[Any]:
        try:
            return list(read(part, *args))
        except StoreError as error:
            if not self.salvage:
                raise
            warnings.warn(f"reading what is intact: {error}", stacklevel=4)
            return list(read(part, *args, salvage=True))

    def thumbnail(self, input_id: int) -> np.ndarray | None:
        """The stored uint8 ``[h, w, 3]`` thumbnail of an image input (None for text)."""
        self.inputs()
        found = self._thumbs.get(int(input_id))
        if found is None:
            return None
        blob, shape = found
        image: np.ndarray = np.frombuffer(blob, np.uint8).reshape(json.loads(shape))
        return image

    def meta_of(self, input_id: int) -> dict[str, Any]:
        self.inputs()
        text = self._meta_json.get(int(input_id))
        return json.loads(text) if text else {}

    def load(self, module: str, layer: int | None = None) -> tuple[np.ndarray, Meta]:
        """``(X [n, d], meta)`` of one module at one layer; ``meta`` holds arrays per row:
        ``input_id``, ``label``, ``text``, ``nonfinite`` (and ``position`` when the store
        kept every token, ``pool="none"``: then each input has one row per token).

        ``module``: a pattern from ``.modules`` with ``layer`` (negative counts from the
        end), or a full module path.
        """
        path = self.resolve(module, layer)
        ids, blobs, dtypes, shapes, flags = self._layer_rows(path)
        known = self.inputs()
        complete = np.isin(ids, known["input_id"])  # rows of a batch that never finished: out
        ids = ids[complete]
        pick = np.flatnonzero(complete)
        blobs = [raw_bytes(blobs[i], self.info.blob) for i in pick]
        from .schema import stack_rows

        X, counts = stack_rows(blobs, [dtypes[i] for i in pick], [shapes[i] for i in pick], path)
        where = np.searchsorted(known["input_id"], ids)
        row_of = np.repeat(np.arange(len(ids)), counts)
        meta: Meta = {
            "input_id": ids[row_of],
            "label": known["label"][where][row_of] if len(known["label"]) else known["label"],
            "text": known["text"][where][row_of],
            "nonfinite": flags[pick][row_of].astype(bool),
        }
        if self.info.pool == "none":
            starts = np.repeat(np.cumsum(counts) - counts, counts)
            meta["position"] = np.arange(len(row_of)) - starts
        return X, meta

    def _layer_rows(
        self, path: str
    ) -> tuple[np.ndarray, list[bytes], list[str], list[str], np.ndarray]:
        rows: list[tuple[Any, ...]] = []
        if self.parquet:
            rows = self._parquet_rows(path)
        else:
            for part in self.parts:
                rows.extend(self._guarded(part, sqlite_store.read_layer, path))
        unique: dict[int, tuple[Any, ...]] = {}
        for row in rows:
            unique.setdefault(int(row[0]), row)
        ordered = [unique[k] for k in sorted(unique)]
        return (
            np.array([r[0] for r in ordered], dtype=np.int64),
            [r[1] for r in ordered],
            [r[2] for r in ordered],
            [r[3] for r in ordered],
            np.array([r[4] for r in ordered], dtype=np.int64),
        )

    def _parquet_rows(self, path: str) -> list[tuple[Any, ...]]:
        table = parquet_store.read_table(
            self.path,
            "tensors",
            ["input_id", "tensor", "dtype", "shape", "nonfinite"],
            where=[("layer", "=", path)],
            salvage=self.salvage,
        )
        if table is None or table.num_rows == 0:
            return []
        tensor = table.column("tensor").combine_chunks()
        values = tensor.values.to_numpy(zero_copy_only=False)
        offsets = tensor.offsets.to_numpy()
        dtype = np.dtype(table.column("dtype")[0].as_py()).newbyteorder("<")
        data = values.astype(dtype, copy=False)
        blobs = [data[offsets[i] : offsets[i + 1]].tobytes() for i in range(len(offsets) - 1)]
        return list(
            zip(
                table.column("input_id").to_pylist(),
                blobs,
                table.column("dtype").to_pylist(),
                table.column("shape").to_pylist(),
                table.column("nonfinite").to_pylist(),
                strict=True,
            )
        )

    def duckdb(self) -> Any:
        """A DuckDB connection with views ``tensors`` and ``inputs`` over every part.

        SQLite stores need DuckDB's ``sqlite`` extension: the ``duckdb-ext-sqlite`` wheel
        when it is installed (no network), else ``INSTALL sqlite`` (downloads it once).

        Example:
            >>> con = FeatureStore("features.sqlite").duckdb()        # doctest: +SKIP
            >>> con.sql("SELECT layer, label, count(*) FROM tensors GROUP BY ALL").fetchall()
            ... # doctest: +SKIP
        """
        from .queries import connect

        if self._duckdb is None:  # kept: query results hold on to their connection
            self._duckdb = connect(self)
        return self._duckdb

    def __repr__(self) -> str:
        kind = "Parquet" if self.parquet else f"SQLite, {len(self.parts)} part(s)"
        return (
            f"FeatureStore({str(self.path)!r}: {self.info.architecture} {self.info.name!r}, "
            f"{len(self)} inputs, modules {self.modules}, pool={self.info.pool!r}, {kind})"
        )


def stored_ids(path: Path) -> set[int]:
    """Ids of the inputs stored in every part of the store at ``path`` (empty if none)."""
    if is_parquet(path):
        table = parquet_store.read_table(path, "inputs", ["input_id"]) if path.is_dir() else None
        return set() if table is None else set(table.column("input_id").to_pylist())
    done: set[int] = set()
    for part in part_paths(path):
        if sqlite_store.read_info(part) is not None:
            done |= sqlite_store.stored_ids(part)
    return done


def parts_info(path: Path) -> list[tuple[Path, StoreInfo]]:
    """``(part, info)`` of every existing part (to refuse a mismatched append early)."""
    if is_parquet(path):
        info = parquet_store.read_info(path) if path.is_dir() else None
        return [] if info is None else [(path, info)]
    found = []
    for part in part_paths(path):
        info = sqlite_store.read_info(part)
        if info is not None:
            found.append((part, info))
    return found
