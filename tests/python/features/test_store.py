"""The store: resuming, refusing mismatched appends, damage, NaN flags, DuckDB, VLM-Lens."""

# ruff: noqa: F811  (pytest fixtures imported from a module, then used as arguments)

from __future__ import annotations

import io
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from feature_fixtures import minilm  # noqa: F401

import attnwidgets as aw
from attnwidgets.features import StoreError

TEXTS = [f"def f{i}(x):\n    return [x] * {i}" for i in range(30)]


class Counting:
    """Counts the inputs the model sees (a forward pre-hook), to prove what was skipped."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.seen = 0
        self.handle = model.register_forward_pre_hook(self.count, with_kwargs=True)

    def count(self, module: Any, args: Any, kwargs: Any) -> None:
        self.seen += int(kwargs["input_ids"].shape[0])


@pytest.mark.parametrize("suffix", [".sqlite", ".parquet"])
def test_second_run_skips_stored_inputs(minilm: Any, tmp_path: Path, suffix: str) -> None:
    model, tokenizer = minilm
    path = tmp_path / f"r{suffix}"
    counter = Counting(model)
    try:
        aw.extract(
            model,
            TEXTS[:12],
            "encoder.layer.1",
            processor=tokenizer,
            store=path,
            batch_size=5,
            progress=False,
        )
        assert counter.seen == 12
        store = aw.extract(
            model,
            TEXTS,
            "encoder.layer.1",
            processor=tokenizer,
            store=path,
            batch_size=5,
            progress=False,
        )
        assert counter.seen == 30  # only the 18 new inputs ran
        again = aw.extract(
            model,
            TEXTS,
            "encoder.layer.1",
            processor=tokenizer,
            store=path,
            batch_size=5,
            progress=False,
        )
        assert counter.seen == 30
    finally:
        counter.handle.remove()
    X, meta = store.load("encoder.layer.1")
    assert meta["input_id"].tolist() == list(range(30)) and len(again) == 30
    fresh = aw.extract(
        model,
        TEXTS,
        "encoder.layer.1",
        processor=tokenizer,
        batch_size=7,
        store=tmp_path / f"fresh{suffix}",
        progress=False,
    ).load("encoder.layer.1")[0]
    np.testing.assert_allclose(X.astype(np.float32), fresh.astype(np.float32), atol=2e-3)


def test_refuses_another_model_or_other_modules(minilm: Any, tmp_path: Path) -> None:
    model, tokenizer = minilm
    path = tmp_path / "s.sqlite"
    aw.extract(model, TEXTS[:4], "encoder.layer.1", processor=tokenizer, store=path, progress=False)
    before = path.read_bytes()
    with pytest.raises(
        StoreError, match=r"holds other modules: this run adds \['encoder\.layer\.2'\]"
    ):
        aw.extract(model, TEXTS, "encoder.layer.2", processor=tokenizer, store=path, progress=False)
    with pytest.raises(StoreError, match=r"written with pool='mean', this run asks pool='cls'"):
        aw.extract(
            model,
            TEXTS,
            "encoder.layer.1",
            processor=tokenizer,
            pool="cls",
            store=path,
            progress=False,
        )
    other = type(model)(model.config).eval()  # same architecture, other (random) weights
    with pytest.raises(StoreError, match=r"written by another model \(BertModel .*fingerprint"):
        aw.extract(other, TEXTS, "encoder.layer.1", processor=tokenizer, store=path, progress=False)
    assert path.read_bytes() == before


def test_truncated_sqlite_store_gives_a_clear_error(minilm: Any, tmp_path: Path) -> None:
    model, tokenizer = minilm
    path = tmp_path / "t.sqlite"
    aw.extract(
        model,
        TEXTS,
        "encoder.layer.1",
        processor=tokenizer,
        store=path,
        batch_size=4,
        dtype="float32",
        progress=False,
    )
    data = path.read_bytes()
    path.write_bytes(data[: 2 * len(data) // 3])  # the last third of the pages gone
    with pytest.raises(StoreError, match=r"t\.sqlite: not a readable feature store .*truncated"):
        aw.FeatureStore(path).load("encoder.layer.1")
    with pytest.raises(StoreError, match=r"truncated or corrupted"):
        aw.extract(model, TEXTS, "encoder.layer.1", processor=tokenizer, store=path, progress=False)
    with pytest.warns(UserWarning, match="reading what is intact"):
        X, meta = aw.FeatureStore(path, damaged="skip").load("encoder.layer.1")
    assert 0 < len(X) < 30  # the rows before the damage, intact
    full = aw.extract(
        model,
        TEXTS,
        "encoder.layer.1",
        processor=tokenizer,
        dtype="float32",
        store=tmp_path / "full.sqlite",
        progress=False,
    ).load("encoder.layer.1")[0]
    np.testing.assert_array_equal(X, full[meta["input_id"]])
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match=r"t\.sqlite"):
        aw.FeatureStore(path)


def test_damaged_parquet_file_others_stay_readable(minilm: Any, tmp_path: Path) -> None:
    model, tokenizer = minilm
    path = tmp_path / "d.parquet"
    aw.extract(
        model,
        TEXTS[:8],
        "encoder.layer.1",
        processor=tokenizer,
        store=path,
        batch_size=4,
        progress=False,
    )  # two batches -> merged into one part
    aw.extract(
        model,
        TEXTS[:12],
        "encoder.layer.1",
        processor=tokenizer,
        store=path,
        batch_size=4,
        progress=False,
    )  # a third batch, its own file
    last = path / "tensors" / "rank=0" / "b000000008.parquet"
    last.write_bytes(last.read_bytes()[:100])
    with pytest.raises(StoreError, match=rf"{last.name}: a damaged Parquet file"):
        aw.FeatureStore(path).load("encoder.layer.1")
    with pytest.warns(UserWarning):
        _, meta = aw.FeatureStore(path, damaged="skip").load("encoder.layer.1")
    assert meta["input_id"].tolist() == list(range(8))  # what was written before the damage


def test_nan_features_are_stored_flagged_and_skipped_by_probes(minilm: Any, tmp_path: Path) -> None:
    model, tokenizer = minilm
    poisoned = {3, 7}
    texts = TEXTS[:16]

    def poison(module: Any, args: Any, output: torch.Tensor) -> torch.Tensor:
        ids = args[0] if args else None
        del ids
        out = output.clone()
        for row in range(out.shape[0]):
            if poison.offset + row in poisoned:
                out[row, 0, 5] = float("nan")
        poison.offset += out.shape[0]
        return out

    poison.offset = 0  # type: ignore[attr-defined]
    handle = model.encoder.layer[1].output.register_forward_hook(poison)
    try:
        store = aw.extract(
            model,
            texts,
            "encoder.layer.1.output",
            processor=tokenizer,
            labels=[i % 2 for i in range(16)],
            store=tmp_path / "n.sqlite",
            batch_size=8,
            progress=False,
        )
    finally:
        handle.remove()
    X, meta = store.load("encoder.layer.1.output")
    assert np.flatnonzero(meta["nonfinite"]).tolist() == [3, 7]
    assert np.isnan(X[3, 5]) and np.isfinite(X[4]).all()
    with pytest.warns(UserWarning, match=r"skipped 2 of 16 rows of encoder\.layer\.1\.output"):
        result = aw.probe(store, "encoder.layer.*.output", folds=2)
    assert result.layers[0].n == 14


def test_duckdb_queries_sqlite_and_parquet_as_they_are(minilm: Any, tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    model, tokenizer = minilm
    labels = ["even" if i % 2 == 0 else "odd" for i in range(10)]
    for suffix in (".sqlite", ".parquet"):
        store = aw.extract(
            model,
            TEXTS[:10],
            "encoder.layer.?",
            processor=tokenizer,
            labels=labels,
            store=tmp_path / f"q{suffix}",
            dtype="float32",
            progress=False,
        )
        query = (
            "SELECT layer, label, count(*) AS n FROM tensors "
            "WHERE layer_index = 2 GROUP BY ALL ORDER BY ALL"
        )
        assert store.duckdb().sql(query).fetchall() == [
            ("encoder.layer.2", "even", 5),
            ("encoder.layer.2", "odd", 5),
        ]
    # the documented query on the Parquet folder, with plain DuckDB
    sql = (
        "SELECT avg(list_avg(tensor)) FROM read_parquet("
        f"'{tmp_path}/q.parquet/tensors/**/*.parquet', hive_partitioning = true) "
        "WHERE layer = 'encoder.layer.3' AND rank = 0"
    )
    X, _ = aw.FeatureStore(tmp_path / "q.parquet").load("encoder.layer.3")
    assert duckdb.sql(sql).fetchone()[0] == pytest.approx(float(X.mean(dtype=np.float64)), rel=1e-5)


def test_vlm_lens_readers_work_on_a_torch_blob_store(minilm: Any, tmp_path: Path) -> None:
    model, tokenizer = minilm
    path = tmp_path / "vlm_lens.sqlite"
    store = aw.extract(
        model,
        TEXTS[:6],
        "encoder.layer.4",
        processor=tokenizer,
        blob="torch",
        labels=list("abcabc"),
        store=path,
        dtype="float32",
        progress=False,
    )
    X, _ = store.load("encoder.layer.4")
    db = sqlite3.connect(path)
    columns = [row[1] for row in db.execute("PRAGMA table_info(tensors)")]
    vlm_lens = [
        "id",
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
    ]
    assert columns[: len(vlm_lens)] == vlm_lens
    # what VLM-Lens's own scripts do: SELECT layer, tensor, label ... torch.load(BytesIO(blob))
    rows = db.execute("SELECT layer, tensor, label FROM tensors ORDER BY image_id").fetchall()
    loaded = [torch.load(io.BytesIO(blob), map_location="cpu") for _, blob, _ in rows]
    assert [r[0] for r in rows] == ["encoder.layer.4"] * 6 and [r[2] for r in rows] == list(
        "abcabc"
    )
    np.testing.assert_array_equal(torch.stack(loaded).numpy(), X)
