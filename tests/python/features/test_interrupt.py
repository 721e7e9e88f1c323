"""An extraction killed mid-run: the store stays readable, holds whole batches, and a second
run completes it (a real process, killed with SIGKILL: no clean-up code runs)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import attnwidgets as aw
from attnwidgets.features import StoreError
from attnwidgets.features.store import stored_ids

HERE = Path(__file__).resolve().parent
N, BATCH = 240, 8


def started(store: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[2] / "src"), "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, str(HERE / "extract_job.py"), str(store), str(N), str(BATCH)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def stored_now(store: Path) -> int:
    try:
        return len(stored_ids(store))
    except (StoreError, OSError):
        return 0  # not created yet, or mid-rename


@pytest.mark.parametrize("suffix", [".sqlite", ".parquet"])
def test_killed_run_leaves_whole_batches_and_resumes(tmp_path: Path, suffix: str) -> None:
    store = tmp_path / f"k{suffix}"
    job = started(store)
    deadline = time.monotonic() + 120
    while stored_now(store) < 3 * BATCH and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert job.returncode == -signal.SIGKILL, job.stderr.read() if job.stderr else ""

    done = sorted(stored_ids(store))
    assert 3 * BATCH <= len(done) < N  # killed mid-run
    batches = {i // BATCH for i in done}
    assert len(done) == len(batches) * BATCH  # whole batches only: at most one batch lost
    opened = aw.FeatureStore(store)
    for module in ("encoder.layer.1", "encoder.layer.4"):
        X, meta = opened.load(module)
        assert meta["input_id"].tolist() == done  # every stored input has every module

    finish = started(store)
    assert finish.wait(timeout=300) == 0, finish.stderr.read() if finish.stderr else ""
    resumed = aw.FeatureStore(store)
    X, meta = resumed.load("encoder.layer.4")
    assert meta["input_id"].tolist() == list(range(N))
    assert len(set(meta["text"])) > N // 2
    first, _ = opened.load("encoder.layer.4")
    np.testing.assert_array_equal(X[done], first)  # the first run's rows, unchanged
