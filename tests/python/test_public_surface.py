"""The public surface: ``__all__`` is what a user needs and every name in it works, ``dir()``
lists the names imported on first use, and the notebooks and the README use public names only."""

from __future__ import annotations

import json
import re
from pathlib import Path

import attnwidgets as aw

REPO = Path(__file__).resolve().parents[2]
PUBLIC_MODULES = {"attnwidgets", "attnwidgets.positions", "attnwidgets.demo"}
PUBLIC_MODULES |= {"attnwidgets.features"}  # features at scale (issue 17): its data helpers
IMPORT = re.compile(
    r"^\s*(?:from\s+(attnwidgets[\w.]*)\s+import\s+([\w, ()]+)|import\s+(attnwidgets[\w.]*))", re.M
)
DOTTED = re.compile(r"\baw\.(\w+)")


def test_every_public_name_works_and_dir_lists_them() -> None:
    for name in aw.__all__:
        assert getattr(aw, name) is not None, name
    assert set(aw.__all__) <= set(dir(aw))
    assert {"wrap", "capture", "TrainingMonitor", "record_memory"} <= set(dir(aw))
    assert "record_memory" not in aw.__all__  # a tuning object: public, not in __all__
    assert aw.record_memory.budget == 0.5  # the default memory budget of a capture


def code_of_notebooks() -> str:
    sources = []
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        sources += ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    return "\n".join(sources)


def code_of_readme() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return "\n".join(re.findall(r"```python\n(.*?)```", text, re.S))


def test_notebooks_and_readme_use_public_names_only() -> None:
    for code in (code_of_notebooks(), code_of_readme()):
        for module, names, plain in IMPORT.findall(code):
            assert (module or plain) in PUBLIC_MODULES, module or plain
            if module == "attnwidgets":
                imported = {n.strip() for n in names.strip("()").split(",") if n.strip()}
                assert imported <= set(dir(aw)), imported - set(dir(aw))
        for name in DOTTED.findall(code):
            assert name in dir(aw), f"aw.{name}"


def test_the_python_and_npm_versions_agree() -> None:
    package = json.loads((REPO / "package.json").read_text(encoding="utf-8"))
    assert package["version"] == aw.__version__


def test_the_feature_names_are_public() -> None:
    """Issue 17's names are in ``__all__``; what the notebooks take from
    ``attnwidgets.features`` is in its ``__all__``."""
    from attnwidgets import features

    new = {"extract", "FeatureStore", "pca", "probe", "neuron_view"}
    assert new | {"FeatureMap", "ProbeView", "NeuronView"} <= set(aw.__all__)
    for module, names, _ in IMPORT.findall(code_of_notebooks()):
        if module == "attnwidgets.features":
            imported = {n.strip() for n in names.strip("()").split(",") if n.strip()}
            assert imported <= set(features.__all__), imported - set(features.__all__)
