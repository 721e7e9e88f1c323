"""What a feature store holds, whatever its format: rows, module keys, the store's identity.

One row per (input, module): VLM-Lens's ``tensors`` columns (``name`` = model path,
``architecture``, ``timestamp``, ``image_path``, ``image_id``, ``prompt``, ``label``,
``layer`` = the module path, ``pooling_method``, ``tensor_dim``, ``tensor``) so its readers
work on it, and ours beside them: ``input_id`` (position in the data), ``module`` (the path
with its layer number as ``*``), ``layer_index``, ``dtype``, ``shape`` (JSON) and
``nonfinite`` (1 when the vector holds NaN or inf). ``StoreInfo`` says which model, modules,
pooling and dtype wrote the store; appending with anything else is refused.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

STORAGE_DTYPES = ("float16", "float32", "float64")


class StoreError(RuntimeError):
    """A store that cannot be read or appended to; the message says which file and why."""


def module_key(path: str) -> tuple[str, int | None]:
    """``(module, layer)``: the path with its first number as ``*``, and that number.

    Example:
        >>> module_key("model.layers.12.mlp")
        ('model.layers.*.mlp', 12)
        >>> module_key("vision_tower.vision_model.encoder.layers.3")
        ('vision_tower.vision_model.encoder.layers.*', 3)
        >>> module_key("lm_head")
        ('lm_head', None)
    """
    parts = path.split(".")
    for i, part in enumerate(parts):
        if part.isdigit():
            return ".".join([*parts[:i], "*", *parts[i + 1 :]]), int(part)
    return path, None


def layer_path(module: str, layer: int | None) -> str:
    """The module path of ``layer`` in ``module`` (the inverse of ``module_key``).

    Example:
        >>> layer_path("model.layers.*.mlp", 3)
        'model.layers.3.mlp'
    """
    if layer is None:
        return module
    return module.replace("*", str(layer), 1)


@dataclass
class StoreInfo:
    """Who wrote a store: the model (name, class, a fingerprint of config and weights), the
    module paths, pooling, storage dtype and tensor blob format (``raw`` or ``torch``)."""

    name: str
    architecture: str
    fingerprint: str
    modules: list[str]
    pool: str
    dtype: str
    blob: str = "raw"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> StoreInfo:
        data = json.loads(text)
        return cls(**data)

    def refuse_append(self, other: StoreInfo, where: str) -> None:
        """Raise ``StoreError`` when ``other`` (this run) differs from the store's writer.

        Example:
            >>> a = StoreInfo("m", "Bert", "f1", ["x.0"], "mean", "float16")
            >>> b = StoreInfo("m", "Bert", "f2", ["x.0"], "mean", "float16")
            >>> a.refuse_append(b, "s.db")  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            attnwidgets.features.schema.StoreError: s.db was written by another model (Bert ...
        """
        if other.fingerprint != self.fingerprint or other.architecture != self.architecture:
            raise StoreError(
                f"{where} was written by another model ({self.architecture} {self.name!r}, "
                f"fingerprint {self.fingerprint}); this run's model is {other.architecture} "
                f"{other.name!r} (fingerprint {other.fingerprint}). Write to a new store."
            )
        if other.modules != self.modules:
            extra = sorted(set(other.modules) - set(self.modules))
            missing = sorted(set(self.modules) - set(other.modules))
            raise StoreError(
                f"{where} holds other modules: this run adds {extra} and lacks {missing}. "
                "Resume with the same modules=, or write to a new store."
            )
        for what in ("pool", "dtype", "blob"):
            if getattr(other, what) != getattr(self, what):
                raise StoreError(
                    f"{where} was written with {what}={getattr(self, what)!r}, this run asks "
                    f"{what}={getattr(other, what)!r}. Write to a new store."
                )


@dataclass
class BatchRows:
    """One finished batch, ready to write: per input its text, label, image path, thumbnail
    and meta; per module path one array per input (pooled, in the storage dtype)."""

    ids: list[int]
    texts: list[str]
    labels: list[str | None]
    image_paths: list[str | None]
    thumbnails: list[np.ndarray | None]
    meta: list[dict[str, Any]]
    features: dict[str, list[np.ndarray]]

    def tensor_rows(
        self, info: StoreInfo, timestamp: str, blobs: dict[str, list[bytes]]
    ) -> list[tuple[Any, ...]]:
        """SQL rows in ``TENSOR_COLUMNS`` order."""
        rows = []
        for path, arrays in self.features.items():
            module, layer = module_key(path)
            for i, array in enumerate(arrays):
                rows.append(
                    (
                        info.name,
                        info.architecture,
                        timestamp,
                        self.image_paths[i],
                        self.ids[i],
                        self.texts[i],
                        self.labels[i],
                        path,
                        info.pool,
                        int(array.shape[-1]),
                        blobs[path][i],
                        self.ids[i],
                        module,
                        layer,
                        str(array.dtype),
                        json.dumps(list(array.shape)),
                        int(not np.isfinite(array).all()),
                        json.dumps(self.meta[i]) if self.meta and self.meta[i] else None,
                    )
                )
        return rows


TENSOR_COLUMNS = (
    "name",
    "architecture",
    "timestamp",
    "image_path",
    "image_id",
    "prompt",
    "label",
    "layer",
    "pooling_method",
    "tensor_dim",
    "tensor",
    "input_id",
    "module",
    "layer_index",
    "dtype",
    "shape",
    "nonfinite",
    "meta",
)


def label_text(label: Any) -> str | None:
    """Labels are stored as text (VLM-Lens's ``label TEXT``): ints, strings, numpy scalars.

    Example:
        >>> label_text(3), label_text("cat"), label_text(None), label_text(np.int64(2))
        ('3', 'cat', None, '2')
    """
    if label is None:
        return None
    if hasattr(label, "item") and getattr(label, "ndim", 0) == 0:
        label = label.item()
    return str(label)


def labels_array(values: list[str | None]) -> np.ndarray:
    """Stored labels back as an array: ints when every label is an integer, else strings.

    Example:
        >>> labels_array(["2", "10"]).tolist(), labels_array(["cat", None]).tolist()
        ([2, 10], ['cat', ''])
    """
    if values and all(v is not None and re.fullmatch(r"-?\d+", v) for v in values):
        return np.array([int(v) for v in values if v is not None], dtype=np.int64)
    return np.array(["" if v is None else v for v in values], dtype=object)


def stack_rows(
    blobs: list[bytes], dtypes: list[str], shapes: list[str], where: str
) -> tuple[np.ndarray, np.ndarray]:
    """Raw blobs of equal-width vectors -> ``(X [rows, d], rows_per_input)``.

    A ``[d]`` blob is one row; a ``[n, d]`` blob (``pool="none"``) is ``n`` rows.
    """
    if not blobs:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    dtype = dtypes[0]
    if any(d != dtype for d in dtypes):
        raise StoreError(f"{where}: rows of different dtypes {sorted(set(dtypes))}")
    distinct = {text: json.loads(text) for text in set(shapes)}  # usually one shape
    parsed = [distinct[s] for s in shapes]
    width = parsed[0][-1]
    if any(p[-1] != width for p in parsed):
        raise StoreError(f"{where}: rows of different widths {sorted({p[-1] for p in parsed})}")
    counts = np.array([1 if len(p) == 1 else p[0] for p in parsed], dtype=np.int64)
    data = np.frombuffer(b"".join(blobs), dtype=np.dtype(dtype).newbyteorder("<"))
    if data.size != counts.sum() * width:
        raise StoreError(f"{where}: {data.size} values for {int(counts.sum())} x {width}")
    return data.reshape(-1, width).astype(np.dtype(dtype)), counts


def raw_bytes(blob: bytes, blob_format: str) -> bytes:
    """The vector's little-endian bytes from a stored blob: ``raw`` as it is, ``torch`` (a
    ``torch.save`` file, as VLM-Lens writes) read from its zip without importing torch.

    Example:
        >>> raw_bytes(b"\\x00\\x01", "raw")
        b'\\x00\\x01'
    """
    if blob_format == "raw":
        return blob
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        name = next(n for n in archive.namelist() if n.endswith("/data/0"))
        return archive.read(name)
