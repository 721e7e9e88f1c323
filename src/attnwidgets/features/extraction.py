"""``aw.extract``: named modules' outputs over a dataset, pooled, into a feature store.

The loop: a batch of inputs -> the processor -> one forward inside ``aw.capture(model,
modules=...)`` -> each module's output pooled over its real tokens -> one write of the whole
batch. Nothing but the current batch is held, so memory stays flat however long the data;
inputs already in the store are skipped, so a second run resumes where the first stopped.
Under ``accelerate launch`` / ``torchrun`` (``RANK`` and ``WORLD_SIZE`` set), each process
takes every ``WORLD_SIZE``-th batch and writes its own part.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..recording import Capture, capture
from .encode import encode, thumbnail
from .pooling import check_pool, pool_output
from .schema import STORAGE_DTYPES, BatchRows, StoreError, StoreInfo, label_text
from .sources import Batch, Source, make_source
from .store import FeatureStore, is_parquet, parts_info, rank_path, stored_ids


def extract(
    model: torch.nn.Module,
    data: Any,
    modules: str | Iterable[str],
    *,
    processor: Any = None,
    pool: str = "mean",
    store: str | os.PathLike[str] = "features.sqlite",
    batch_size: int = 32,
    dtype: str = "float16",
    text: str | None = None,
    image: str | None = None,
    label: str | None = None,
    labels: Sequence[Any] | None = None,
    prompt: str | None = None,
    max_length: int | None = None,
    progress: bool = True,
    blob: str = "raw",
    rank: int | None = None,
    world_size: int | None = None,
) -> FeatureStore:
    """Extract ``modules``' outputs over ``data`` into ``store``; returns the ``FeatureStore``.

    ``data``: a list of texts or images, a Hugging Face dataset (columns ``text=``,
    ``image=``, ``label=``; guessed when unnamed), a DataFrame, a dict of columns, an
    iterable of row dicts, or a torch ``DataLoader``. ``labels``: one label per item of a
    list. ``modules``: paths, globs or TransformerLens aliases, as in ``aw.capture``.
    ``processor``: the tokenizer, image processor or multimodal processor; ``prompt``: the
    text given with every image to a VLM. ``pool``: ``"mean"``, ``"first"``, ``"last"``,
    ``"cls"`` or ``"none"`` (every token), padding excluded. ``store``: a ``.sqlite`` file
    (VLM-Lens's ``tensors`` table) or a ``.parquet`` folder. ``dtype``: storage dtype
    (float16, float32, float64). ``blob="torch"`` stores each tensor as ``torch.save`` bytes,
    which VLM-Lens's readers ``torch.load`` (``"raw"``: plain little-endian bytes).

    A second call with the same store skips the inputs already there; a store written by
    another model, or with other modules, pooling or dtype, is refused. ``rank`` and
    ``world_size`` default to the ``RANK`` / ``WORLD_SIZE`` that ``accelerate launch`` sets.

    Example:
        >>> import tempfile, attnwidgets as aw
        >>> from transformers import BertConfig, BertModel
        >>> model = BertModel(BertConfig(num_hidden_layers=2, hidden_size=16, num_attention_heads=2,
        ...                              intermediate_size=32, vocab_size=30)).eval()
        >>> batches = [{"input_ids": torch.tensor([[1, 2, 3], [4, 5, 0]]),
        ...             "attention_mask": torch.tensor([[1, 1, 1], [1, 1, 0]]), "label": [0, 1]}]
        >>> path = tempfile.mkdtemp() + "/f.sqlite"
        >>> store = aw.extract(model, torch.utils.data.DataLoader(batches, batch_size=None),
        ...                    "encoder.layer.?", store=path, progress=False)
        >>> X, meta = store.load("encoder.layer.*", 1)
        >>> store.modules, store.layers("encoder.layer.*"), X.shape, meta["label"].tolist()
        (['encoder.layer.*'], [0, 1], (2, 16), [0, 1])
    """
    check_pool(pool)
    if dtype not in STORAGE_DTYPES:
        raise ValueError(f"dtype={dtype!r}: store features as one of {STORAGE_DTYPES}")
    if blob not in ("raw", "torch"):
        raise ValueError(f"blob={blob!r}: use 'raw' (plain bytes) or 'torch' (torch.save)")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}: give a positive integer")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"extract() takes a torch.nn.Module, not {type(model).__name__}")
    source = make_source(data, text=text, image=image, label=label, labels=labels, prompt=prompt)
    shard = _shard(rank, world_size)
    path = Path(store)
    with capture(model, attention=False, modules=modules) as cap:
        paths = _matched(cap)
        info = StoreInfo(
            name=_model_name(model),
            architecture=type(model).__name__,
            fingerprint=fingerprint(model),
            modules=paths,
            pool=pool,
            dtype=dtype,
            blob=blob,
        )
        for part, existing in parts_info(path):
            existing.refuse_append(info, str(part))
        done = stored_ids(path)
        writer = _writer(path, info, shard[0])
        bar = _progress(progress, source, batch_size, done, shard)
        try:
            run = _Run(model, cap, paths, processor, pool, np.dtype(dtype), blob, max_length)
            for batch in source.batches(batch_size, done, shard):
                writer.write(*run.rows(batch))
                if bar is not None:
                    bar.update(batch.size)
        finally:
            writer.close()
            if bar is not None:
                bar.close()
    return FeatureStore(path)


def _matched(cap: Capture) -> list[str]:
    """The module paths that ``capture(modules=...)`` matched, in the model's order (its
    ``recording.activations.ModuleRecorder``; a name that matches nothing raised already)."""
    if cap.modules is None or not cap.modules.paths:
        raise ValueError("modules=: name at least one module path, glob or alias to extract")
    return list(cap.modules.paths)


class _Run:
    """One forward per batch, then its rows: pooled features, blobs, texts, thumbnails."""

    def __init__(
        self,
        model: torch.nn.Module,
        cap: Capture,
        paths: list[str],
        processor: Any,
        pool: str,
        dtype: np.dtype[Any],
        blob: str,
        max_length: int | None,
    ) -> None:
        self.model, self.cap, self.paths, self.processor = model, cap, paths, processor
        self.pool, self.dtype, self.blob, self.max_length = pool, dtype, blob, max_length
        self.device = _device(model)
        self.previous: dict[str, Any] = {}

    def rows(self, batch: Batch) -> tuple[BatchRows, dict[str, list[bytes]]]:
        inputs, mask = encode(self.processor, batch, self.device, self.max_length)
        with torch.inference_mode():
            self.model(**inputs)
        features: dict[str, list[np.ndarray]] = {}
        for path in self.paths:
            try:
                output = self.cap[path]
            except KeyError as error:
                raise StoreError(f"{path} did not run in the forward of this batch") from error
            if output is self.previous.get(path):
                raise StoreError(
                    f"{path} did not run in the forward of batch starting at input "
                    f"{batch.ids[0]} (e.g. a vision module given no image); pick modules "
                    "that every input runs through"
                )
            self.previous[path] = output
            pooled = pool_output(output, mask, self.pool, path, batch.size)
            features[path] = [p.to(torch.float64).numpy().astype(self.dtype) for p in pooled]
        blobs = {path: [_blob(a, self.blob) for a in arrays] for path, arrays in features.items()}
        return self._rows(batch, inputs, features), blobs

    def _rows(
        self, batch: Batch, inputs: dict[str, Any], features: dict[str, list[np.ndarray]]
    ) -> BatchRows:
        n = batch.size
        texts = list(batch.texts) if batch.texts is not None else self._decoded(inputs, n)
        images = batch.images
        return BatchRows(
            ids=list(batch.ids),
            texts=[str(t) for t in texts],
            labels=[label_text(v) for v in batch.labels]
            if batch.labels is not None
            else [None] * n,
            image_paths=[str(Path(i).resolve()) if isinstance(i, Path) else None for i in images]
            if images is not None
            else [None] * n,
            thumbnails=[thumbnail(i) for i in images] if images is not None else [None] * n,
            meta=batch.meta,
            features=features,
        )

    def _decoded(self, inputs: dict[str, Any], n: int) -> list[str]:
        ids = inputs.get("input_ids")
        tokenizer = getattr(self.processor, "tokenizer", self.processor)
        if ids is None or not hasattr(tokenizer, "decode"):
            return [""] * n
        mask = inputs.get("attention_mask")
        rows = [ids[i][mask[i].bool()] if mask is not None else ids[i] for i in range(n)]
        return [tokenizer.decode(row.tolist(), skip_special_tokens=True) for row in rows]


def _blob(array: np.ndarray, blob: str) -> bytes:
    data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    if blob == "raw":
        return data.tobytes()
    buffer = io.BytesIO()
    torch.save(torch.from_numpy(data.copy()), buffer)
    return buffer.getvalue()


def _writer(path: Path, info: StoreInfo, rank: int) -> Any:
    if is_parquet(path):
        from .parquet_store import ParquetWriter

        return ParquetWriter(path, info, rank)
    from .sqlite_store import SQLiteWriter

    path.parent.mkdir(parents=True, exist_ok=True)
    return SQLiteWriter(rank_path(path, rank), info, rank)


def _shard(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """``(rank, world_size)``: given, else from ``RANK`` / ``WORLD_SIZE`` (accelerate, torchrun).

    Example:
        >>> _shard(1, 2)
        (1, 2)
    """
    world = world_size if world_size is not None else _env_int(WORLD_VARS, 1)
    index = rank if rank is not None else _env_int(RANK_VARS, 0)
    if world < 1 or not 0 <= index < world:
        raise ValueError(f"rank={index}, world_size={world}: need 0 <= rank < world_size")
    return index, world


RANK_VARS = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK")  # torchrun/accelerate, MPI launches
WORLD_VARS = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE")


def _env_int(names: tuple[str, ...], default: int) -> int:
    for name in names:
        if os.environ.get(name, "").strip():
            return int(os.environ[name])
    return default


def _progress(show: bool, source: Source, size: int, done: set[int], shard: tuple[int, int]) -> Any:
    if not show:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    total = None
    if source.length is not None and source.kind != "loader":
        rank, world = shard
        total = sum(
            1
            for k, start in enumerate(range(0, source.length, size))
            if k % world == rank
            for i in range(start, min(start + size, source.length))
            if i not in done
        )
    label = "extract" if shard[1] == 1 else f"extract [rank {shard[0]}]"
    return tqdm(total=total, desc=label, unit="input", position=shard[0])


def _device(model: torch.nn.Module) -> torch.device:
    for parameter in model.parameters():
        return parameter.device
    return torch.device("cpu")


def _model_name(model: torch.nn.Module) -> str:
    config = getattr(model, "config", None)
    name = getattr(config, "_name_or_path", "") or getattr(config, "name_or_path", "")
    return str(name) if name else type(model).__name__


VOLATILE = {
    "_name_or_path",
    "name_or_path",
    "transformers_version",
    "torch_dtype",
    "dtype",
    "_attn_implementation",
    "_attn_implementation_autoset",
    "attn_implementation",
    "output_attentions",
    "output_hidden_states",
    "use_cache",
    "return_dict",
}


def fingerprint(model: torch.nn.Module) -> str:
    """A short hash of the model's config and weights (names, shapes, first values of each).

    Example:
        >>> fingerprint(torch.nn.Linear(2, 2)) == fingerprint(torch.nn.Linear(2, 2))
        False
    """
    digest = hashlib.sha1(type(model).__name__.encode())
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "to_dict"):
        settings = {k: v for k, v in config.to_dict().items() if k not in VOLATILE}
        digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            digest.update(f"{name}{tuple(parameter.shape)}".encode())
            sample = parameter.detach().reshape(-1)[:16].to("cpu", torch.float32)
            digest.update(np.round(sample.numpy(), 4).tobytes())
    return digest.hexdigest()[:16]
