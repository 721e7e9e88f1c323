"""The package as a user installs it: ``python -m build`` makes the sdist, then the wheel FROM
the sdist (``npm install`` + ``npm run build`` run there: the sdist holds no built JavaScript);
the wheel goes into fresh virtual environments whose PATH has no node or npm:

- the wheel alone (``--no-deps``) in a venv that also sees the dev venv's packages (torch,
  transformers, ipykernel, nbclient: installing torch again would take minutes and GBs): a
  notebook showing every widget runs under nbclient with no error, each widget's view in the
  outputs, and ``save_html`` writes a page there (the offline scripts come from the wheel);
- the wheel with its dependencies from the package index, no torch: the widgets and
  ``save_html`` work on numpy data, and torch is never loaded.

The ``[torch]`` extra is checked in the wheel's metadata (torch and transformers).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PINS = REPO / "requirements-dev.txt"
VIEW = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"
BUNDLES = [
    "attention_view.js",
    "norm_view.js",
    "position_view.js",
    "step_view.js",
    "training_monitor_view.js",
    "image_attention_view.js",
    "patching_view.js",
    "prediction_grid_view.js",
    "offline/require.js",
    "offline/embed-amd.js",
]


def run(
    command: list[str], timeout: float = 600, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert result.returncode == 0, f"{command}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist, and the wheel built from it (node on PATH here: the sdist builds the JS)."""
    out = tmp_path_factory.mktemp("dist")
    assert shutil.which("npm"), "building the wheel from the sdist needs npm"
    env = {**os.environ, "npm_config_prefer_offline": "true", "npm_config_audit": "false"}
    run([sys.executable, "-m", "build", "--no-isolation", "-o", str(out), str(REPO)], env=env)
    (sdist,) = out.glob("attnwidgets-*.tar.gz")
    (wheel,) = out.glob("attnwidgets-*.whl")
    return {"sdist": sdist, "wheel": wheel}


def fresh_venv(folder: Path, *install: str, see_dev_packages: bool = False) -> dict[str, str]:
    """A new virtual environment where ``pip install <install>`` ran (pinned by
    requirements-dev.txt); returns the environment to run its Python in: its bin/ alone on PATH
    (no node, no npm).

    ``see_dev_packages``: a .pth file puts this interpreter's site-packages (the dev venv, with
    torch and transformers) on the new one's path, after its own: torch is not installed twice.
    Only the folder is added, none of its .pth files run, so the dev venv's editable attnwidgets
    stays invisible."""
    run([sys.executable, "-m", "venv", str(folder)])
    python = str(folder / "bin" / "python")
    if see_dev_packages:
        site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
        dev_site = sysconfig.get_paths()["purelib"]
        (Path(site.stdout.strip()) / "dev_packages.pth").write_text(dev_site + "\n")
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run([*pip, "-c", str(PINS), *install], timeout=900)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH", "NODE_PATH")
    }
    env.update(PATH=str(folder / "bin"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    assert shutil.which("node", path=env["PATH"]) is None
    assert shutil.which("npm", path=env["PATH"]) is None
    return env


def test_the_sdist_has_sources_only_and_its_wheel_carries_the_bundles(
    dist: dict[str, Path],
) -> None:
    import tarfile

    with tarfile.open(dist["sdist"]) as sdist:
        names = [name.split("/", 1)[1] for name in sdist.getnames() if "/" in name]
    assert "package.json" in names and "package-lock.json" in names
    assert "scripts/offline_assets.mjs" in names and "js/attention_view.js" in names
    assert not [name for name in names if "/static/" in name], "built JS in the sdist"
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        files = set(wheel.namelist())
    missing = [b for b in BUNDLES if f"attnwidgets/static/{b}" not in files]
    assert not missing, f"the wheel built from the sdist lacks {missing}"
    assert "attnwidgets/export/replay.js" in files
    assert "attnwidgets/demo_models/fashion_vit/model.safetensors" in files
    (meta,) = [name for name in files if name.endswith(".dist-info/METADATA")]
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        requires = [
            line.split(":", 1)[1].strip()
            for line in wheel.read(meta).decode().splitlines()
            if line.startswith("Requires-Dist:")
        ]
    plain = {r.split(";")[0].split(">")[0].strip() for r in requires if "extra ==" not in r}
    torch_extra = {r.split(">")[0].strip() for r in requires if "extra == 'torch'" in r}
    assert plain == {"anywidget", "ipywidgets", "numpy", "traitlets"}, requires
    assert torch_extra == {"torch", "transformers"}, requires


EVERY_WIDGET = [
    """\
import shutil, sys
import numpy as np
import torch
import attnwidgets as aw
from transformers import BertConfig, BertModel

assert shutil.which("node") is None and shutil.which("npm") is None
assert aw.__file__.startswith(sys.prefix), aw.__file__  # the wheel, in this venv
torch.manual_seed(0)
torch.set_num_threads(1)
bert = BertModel(BertConfig(num_hidden_layers=2, num_attention_heads=2, hidden_size=32,
                            intermediate_size=64, vocab_size=50)).eval()
run = aw.wrap(bert, qkv=True)(input_ids=torch.tensor([[1, 5, 7, 9, 11, 2]]))
run.widget()  # tabs: Attention, Norms, Steps, Positions""",
    "aw.attention_explorer(run)",
    "aw.AttentionView(run, show_overview=True, show_metrics=True)",
    "aw.head_view(run.attention, run.tokens)",
    "aw.model_view(run.attention, run.tokens)",
    "aw.norm_panel(run.norms)",
    "aw.StepView(run.qkv)",
    "aw.position_panel(aw.extract_positions(bert))",
    "aw.compare_positions(aw.positions.sinusoidal(16, length=32), aw.positions.rotary(16))",
    """\
monitor = aw.TrainingMonitor(bert)
bert(input_ids=torch.tensor([[1, 2, 3]]))
monitor.step(loss=1.0)
monitor""",
    """\
model, processor, images, labels = aw.demo.load_fashion_vit(limit=64)
vision = aw.wrap(model, processor)(images[0])
vision.widget()  # tabs: ..., Image attention, Patching""",
    "aw.ImageAttentionView(vision)",
    "aw.patching_view(vision)",
    "aw.PredictionGrid(model, processor, images, labels)",
    "aw.save_html(run, 'run.html')",
]
EXPECTED_VIEWS = {
    "AttentionView",
    "NormView",
    "PositionView",
    "StepView",
    "TrainingMonitorView",
    "ImageAttentionView",
    "PatchingView",
    "PredictionGridView",
}


@pytest.fixture(scope="session")
def torch_venv(tmp_path_factory: pytest.TempPathFactory, dist: dict[str, Path]) -> dict[str, Any]:
    """The wheel alone (``--no-deps``) in a fresh venv that sees the dev venv's torch,
    transformers, ipykernel and nbclient (installing torch again would take minutes and GBs)."""
    folder = tmp_path_factory.mktemp("venv-torch")
    env = fresh_venv(folder / "venv", "--no-deps", str(dist["wheel"]), see_dev_packages=True)
    return {"python": str(folder / "venv" / "bin" / "python"), "env": env, "folder": folder}


def test_every_widget_runs_from_the_wheel_without_node(torch_venv: dict[str, Any]) -> None:
    import nbformat

    folder: Path = torch_venv["folder"]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in EVERY_WIDGET]
    nbformat.write(nb, folder / "every_widget.ipynb")
    script = """\
import sys
import nbformat
from nbclient import NotebookClient
nb = nbformat.read("every_widget.ipynb", as_version=4)
NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
               store_widget_state=True, resources={"metadata": {"path": "."}}).execute()
nbformat.write(nb, "executed.ipynb")
"""
    run([torch_venv["python"], "-c", script], env=torch_venv["env"], cwd=folder, timeout=600)
    done = nbformat.read(folder / "executed.ipynb", as_version=4)
    errors = [
        f"cell {i}: {out.get('ename')}: {out.get('evalue')}"
        for i, cell in enumerate(done.cells)
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors, "\n".join(errors)
    shown = [
        i
        for i, cell in enumerate(done.cells)
        if any(VIEW in out.get("data", {}) for out in cell.get("outputs", []))
    ]
    assert shown == list(range(len(EVERY_WIDGET) - 1)), shown  # every cell but save_html's
    state = done.metadata["widgets"][STATE]["state"]
    classes = {
        str(model["state"].get("_anywidget_id", "")).rsplit(".", 1)[-1] for model in state.values()
    }
    assert classes >= EXPECTED_VIEWS, EXPECTED_VIEWS - classes
    printed = "".join(out.get("text", "") for out in done.cells[-1].get("outputs", []))
    assert "wrote run.html" in printed and (folder / "run.html").stat().st_size > 1e6


NO_TORCH = """\
import sys
import numpy as np
import attnwidgets as aw
att = np.full((2, 3, 4, 4), 0.25, np.float32)
view = aw.AttentionView(att, ["a", "b", "c", "d"])
box = aw.attention_explorer(view)
aw.norm_panel
aw.position_panel(aw.positions.sinusoidal(8, length=16))
aw.save_html(box, "page.html")
assert "torch" not in sys.modules and "transformers" not in sys.modules, "torch was loaded"
print(view.n_layers, view.n_heads)
"""


def test_the_widgets_alone_need_no_torch(
    tmp_path_factory: pytest.TempPathFactory, dist: dict[str, Path]
) -> None:
    folder = tmp_path_factory.mktemp("venv-bare")
    env = fresh_venv(folder / "venv", str(dist["wheel"]))
    python = str(folder / "venv" / "bin" / "python")
    found = run([python, "-c", "import importlib.util as u; print(u.find_spec('torch'))"], env=env)
    assert found.stdout.strip() == "None", "torch is installed: not a bare environment"
    result = run([python, "-c", NO_TORCH], env=env, cwd=folder)
    assert result.stdout.splitlines()[-1] == "2 3"
    assert "wrote page.html" in result.stdout
    page = (folder / "page.html").read_text(encoding="utf-8")
    assert 'data-amd-module="anywidget"' in page  # found without jupyter_core
