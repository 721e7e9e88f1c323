"""What ``aw.extract`` reads: one place turns the user's data into numbered batches.

Accepted: a list of texts (``str``), a list or array of images (``HxWx3`` uint8 arrays, PIL
images, ``pathlib.Path`` to image files), a Hugging Face ``datasets`` dataset or anything with
its column access (``column_names`` and ``data[start:stop]`` -> ``{column: values}``), a
pandas DataFrame, a dict of equal-length columns, or an iterable of row dicts (a streaming
dataset), and a torch ``DataLoader`` (batches that are dicts of columns, ready model inputs
such as ``input_ids`` / ``pixel_values``, or ``(inputs, labels)`` pairs).

Every input gets an id: its position in the data (for a DataLoader or an iterable, its
position in iteration order, so resuming needs the same order). Column names are checked
before the model runs, naming the columns that exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

TEXT_COLUMNS = ("text", "sentence", "prompt", "content")
IMAGE_COLUMNS = ("image", "img", "picture")
MODEL_INPUTS = ("input_ids", "pixel_values", "inputs_embeds")


class DataError(ValueError):
    """The data cannot be read as texts or images; the message names what is missing."""


@dataclass
class Batch:
    """Numbered inputs of one batch: ``texts`` and/or ``images``, or ready ``tensors``.

    Example:
        >>> Batch(ids=[0, 1], texts=["a", "b"]).size
        2
    """

    ids: list[int]
    texts: list[str] | None = None
    images: list[Any] | None = None
    labels: list[Any] | None = None
    tensors: dict[str, Any] | None = None
    meta: list[dict[str, Any]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.ids)

    def subset(self, keep: Sequence[int]) -> Batch:
        """The rows at positions ``keep`` (for ``tensors``, rows of every batched value)."""
        pick = list(keep)

        def rows(values: list[Any] | None) -> list[Any] | None:
            return None if values is None else [values[i] for i in pick]

        tensors = None
        if self.tensors is not None:
            tensors = {
                k: v[pick] if _is_batched(v, self.size) else v for k, v in self.tensors.items()
            }
        return Batch(
            ids=[self.ids[i] for i in pick],
            texts=rows(self.texts),
            images=rows(self.images),
            labels=rows(self.labels),
            tensors=tensors,
            meta=[self.meta[i] for i in pick] if self.meta else [],
        )


def _is_batched(value: Any, size: int) -> bool:
    shape = getattr(value, "shape", None)
    return shape is not None and len(shape) > 0 and shape[0] == size


@dataclass
class Source:
    """Numbered batches of the data, with the columns resolved and checked.

    ``length`` is None for iterables without ``len``. ``batches(size, skip)`` yields the
    global batches (positions ``k*size .. k*size+size-1``), each with the ids in ``skip``
    left out; ``shard=(rank, world)`` keeps the batches ``k % world == rank``.
    """

    data: Any
    kind: str  # "list", "columns", "rows", "loader"
    length: int | None
    text: str | None = None
    image: str | None = None
    label: str | None = None
    labels: Sequence[Any] | None = None
    prompt: str | None = None
    resolved: bool = False  # rows: columns checked against the first row

    def batches(
        self,
        size: int,
        skip: set[int] | frozenset[int] = frozenset(),
        shard: tuple[int, int] = (0, 1),
    ) -> Iterator[Batch]:
        rank, world = shard
        if self.kind == "loader":
            yield from self._loader_batches(skip, rank, world)
            return
        if self.length is not None:
            for k, start in enumerate(range(0, self.length, size)):
                if k % world != rank:
                    continue
                ids = [i for i in range(start, min(start + size, self.length)) if i not in skip]
                if ids:
                    yield self._fetch(ids)
            return
        yield from self._row_batches(size, skip, rank, world)

    def _fetch(self, ids: list[int]) -> Batch:
        contiguous = ids[-1] - ids[0] + 1 == len(ids)
        if self.kind == "list":
            return self._batch(ids, {"value": [self.data[i] for i in ids]})
        if isinstance(self.data, Mapping):
            columns = {name: [self.data[name][i] for i in ids] for name in self._wanted()}
            return self._batch(ids, columns)
        if hasattr(self.data, "iloc"):  # pandas
            frame = self.data.iloc[ids[0] : ids[-1] + 1] if contiguous else self.data.iloc[ids]
            return self._batch(ids, {name: list(frame[name]) for name in self._wanted()})
        if contiguous:
            chunk = self.data[ids[0] : ids[-1] + 1]
        else:
            try:
                chunk = self.data[ids]
            except (TypeError, KeyError, IndexError):
                rows = [self.data[i] for i in ids]
                chunk = {name: [row[name] for row in rows] for name in self._wanted()}
        return self._batch(ids, {name: list(chunk[name]) for name in self._wanted()})

    def _wanted(self) -> list[str]:
        return [n for n in (self.text, self.image, self.label) if n is not None]

    def _batch(self, ids: list[int], columns: dict[str, list[Any]]) -> Batch:
        if self.kind == "list":
            values = columns["value"]
            texts = values if self.text == "value" else None
            images = values if self.image == "value" else None
            labels = [self.labels[i] for i in ids] if self.labels is not None else None
        else:
            texts = columns[self.text] if self.text else None
            images = columns[self.image] if self.image else None
            labels = columns[self.label] if self.label else None
        if images is not None and self.prompt is not None and texts is None:
            texts = [self.prompt] * len(ids)
        return Batch(ids=ids, texts=texts, images=images, labels=labels)

    def _row_batches(self, size: int, skip: Any, rank: int, world: int) -> Iterator[Batch]:
        rows: list[tuple[int, Any]] = []
        k = 0
        for index, row in enumerate(self.data):
            rows.append((index, row))
            if len(rows) == size:
                yield from self._rows_batch(rows, k, skip, rank, world)
                rows, k = [], k + 1
        if rows:
            yield from self._rows_batch(rows, k, skip, rank, world)

    def _rows_batch(
        self, rows: list[tuple[int, Any]], k: int, skip: Any, rank: int, world: int
    ) -> Iterator[Batch]:
        if k % world != rank:
            return
        kept = [(i, row) for i, row in rows if i not in skip]
        if not kept:
            return
        if not self.resolved:
            self._resolve_row_columns(kept[0][1])
        columns = {name: [_column_of(row, name) for _, row in kept] for name in self._wanted()}
        yield self._batch([i for i, _ in kept], columns)

    def _resolve_row_columns(self, row: Any) -> None:
        if not isinstance(row, Mapping):
            raise DataError(
                f"data: rows of an iterable must be dicts of columns, not {type(row).__name__}"
            )
        self.text, self.image, self.label = resolve_columns(
            list(row), self.text, self.image, self.label
        )
        self.resolved = True

    def _loader_batches(self, skip: Any, rank: int, world: int) -> Iterator[Batch]:
        start = 0
        for k, raw in enumerate(self.data):
            batch = loader_batch(raw, start, self.text, self.image, self.label, self.prompt)
            start += batch.size
            if k % world != rank:
                continue
            keep = [i for i, id_ in enumerate(batch.ids) if id_ not in skip]
            if keep:
                yield batch if len(keep) == batch.size else batch.subset(keep)


def _column_of(row: Mapping[str, Any], name: str) -> Any:
    if name not in row:
        raise DataError(f"data: a row has no column {name!r} (its columns: {sorted(row)})")
    return row[name]


def resolve_columns(
    columns: Sequence[str],
    text: str | None,
    image: str | None,
    label: str | None,
) -> tuple[str | None, str | None, str | None]:
    """The text, image and label columns: named ones must exist; unnamed ones are guessed.

    Example:
        >>> resolve_columns(["sentence", "label"], None, None, None)
        ('sentence', None, 'label')
        >>> resolve_columns(["sentence"], "text", None, None)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        attnwidgets.features.sources.DataError: data has no column 'text' (columns: ['sentence'])...
    """
    names = list(columns)
    for what, name in (("text", text), ("image", image), ("label", label)):
        if name is not None and name not in names:
            raise DataError(
                f"data has no column {name!r} (columns: {names}); pass {what}='<one of them>'"
            )
    if text is None and image is None:
        image = next((n for n in IMAGE_COLUMNS if n in names), None)
        text = next((n for n in TEXT_COLUMNS if n in names), None)
        if text is None and image is None:
            raise DataError(
                f"data has no text or image column (columns: {names}); name one with "
                "text='<column>' or image='<column>'"
            )
    if label is None and "label" in names:
        label = "label"
    return text, image, label


def make_source(
    data: Any,
    *,
    text: str | None = None,
    image: str | None = None,
    label: str | None = None,
    labels: Sequence[Any] | None = None,
    prompt: str | None = None,
) -> Source:
    """Check ``data`` and its columns once, before any model call.

    Example:
        >>> src = make_source(["a cat", "a dog", "a bird"], labels=[0, 1, 0])
        >>> [(b.ids, b.texts, b.labels) for b in src.batches(2)]
        [([0, 1], ['a cat', 'a dog'], [0, 1]), ([2], ['a bird'], [0])]
        >>> make_source({"sentence": ["x"]}, text="text")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        attnwidgets.features.sources.DataError: data has no column 'text' (columns: ...
    """
    if _is_loader(data):
        return Source(data, "loader", _len_or_none(data), text, image, label, prompt=prompt)
    if isinstance(data, np.ndarray) and data.ndim in (3, 4) and data.dtype == np.uint8:
        data = list(data)
    if isinstance(data, (str, bytes)):
        raise DataError("data: give a list of texts, not one string (wrap it: [text])")
    if isinstance(data, (list, tuple)):
        return _list_source(list(data), labels, prompt)
    columns = _columns_of(data)
    if columns is None:
        if isinstance(data, Iterable):
            return Source(data, "rows", None, text, image, label, prompt=prompt)
        raise DataError(
            f"data: {type(data).__name__} is not a list of texts or images, a dataset with "
            "columns, a DataFrame, a dict of columns, an iterable of row dicts or a DataLoader"
        )
    if labels is not None:
        raise DataError("labels= is for lists; a dataset names its label column with label=")
    text, image, label = resolve_columns(columns, text, image, label)
    length = len(data[columns[0]]) if isinstance(data, Mapping) else len(data)
    if isinstance(data, Mapping) and any(len(data[c]) != length for c in columns):
        sizes = {c: len(data[c]) for c in columns}
        raise DataError(f"data: the columns differ in length: {sizes}")
    return Source(data, "columns", length, text, image, label, prompt=prompt)


def _list_source(items: list[Any], labels: Sequence[Any] | None, prompt: str | None) -> Source:
    if not items:
        raise DataError("data is empty: give at least one text or image")
    if labels is not None and len(labels) != len(items):
        raise DataError(f"labels has {len(labels)} values for {len(items)} inputs")
    if all(isinstance(item, str) for item in items):
        return Source(items, "list", len(items), text="value", labels=labels)
    first_bad = next((i for i, item in enumerate(items) if not _is_image(item)), None)
    if first_bad is not None:
        raise DataError(
            f"data[{first_bad}] is a {type(items[first_bad]).__name__}: give texts (str) or "
            "images (HxWx3 uint8 arrays, PIL images, pathlib.Path to image files), not a mix"
        )
    return Source(items, "list", len(items), image="value", labels=labels, prompt=prompt)


def _is_image(item: Any) -> bool:
    if isinstance(item, Path):
        return True
    if isinstance(item, np.ndarray):
        return item.ndim in (2, 3)
    return type(item).__module__.startswith("PIL.") or hasattr(item, "convert")


def _is_loader(data: Any) -> bool:
    return any(cls.__name__ == "DataLoader" for cls in type(data).__mro__)


def _len_or_none(data: Any) -> int | None:
    try:
        return len(data)
    except TypeError:
        return None


def _columns_of(data: Any) -> list[str] | None:
    if isinstance(data, Mapping):
        return [str(k) for k in data]
    names = getattr(data, "column_names", None)
    if (
        isinstance(names, (list, tuple))
        and hasattr(data, "__getitem__")
        and hasattr(data, "__len__")
    ):
        return [str(n) for n in names]
    if hasattr(data, "iloc") and hasattr(data, "columns"):
        return [str(c) for c in data.columns]
    return None


def loader_batch(
    raw: Any,
    start: int,
    text: str | None,
    image: str | None,
    label: str | None,
    prompt: str | None,
) -> Batch:
    """One DataLoader batch as a ``Batch`` numbered from ``start``.

    Example:
        >>> b = loader_batch({"text": ["a", "b"], "label": [3, 4]}, 10, None, None, None, None)
        >>> b.ids, b.texts, b.labels
        ([10, 11], ['a', 'b'], [3, 4])
    """
    if isinstance(raw, (tuple, list)) and len(raw) == 2:
        inputs, targets = raw
        raw = {"input": inputs, "label": targets}
        if isinstance(inputs, Mapping):
            raw = {**inputs, "label": targets}
    if not isinstance(raw, Mapping):
        raise DataError(
            f"DataLoader batches must be dicts of columns or (inputs, labels) pairs, "
            f"not {type(raw).__name__}"
        )
    names = list(raw)
    label_name = label if label is not None else ("label" if "label" in names else None)
    if label_name is not None and label_name not in names:
        raise DataError(f"DataLoader batch has no column {label_name!r} (columns: {names})")
    labels = _as_list(raw[label_name]) if label_name else None
    if any(key in raw for key in MODEL_INPUTS):
        tensors = {k: v for k, v in raw.items() if k != label_name}
        size = int(next(raw[k] for k in MODEL_INPUTS if k in raw).shape[0])
        return Batch(list(range(start, start + size)), labels=labels, tensors=tensors)
    if "input" in raw and text is None and image is None:
        values = raw["input"]
        if hasattr(values, "shape") and len(values.shape) == 4:  # pixel tensors, [b, c, h, w]
            return Batch(
                list(range(start, start + int(values.shape[0]))),
                labels=labels,
                tensors={"pixel_values": values},
            )
        text = "input" if all(isinstance(v, str) for v in values) else None
        image = None if text else "input"
    text, image, _ = resolve_columns(names, text, image, None)
    texts = _as_list(raw[text]) if text else None
    images = _as_list(raw[image]) if image else None
    size = len(texts if texts is not None else images or [])
    if images is not None and texts is None and prompt is not None:
        texts = [prompt] * size
    return Batch(list(range(start, start + size)), texts=texts, images=images, labels=labels)


def _as_list(values: Any) -> list[Any]:
    if hasattr(values, "tolist") and not isinstance(values, list):
        return list(values.tolist()) if getattr(values, "ndim", 1) == 1 else list(values)
    return list(values)
