"""The package's import graph: no cycles (imports at module level and under TYPE_CHECKING, the
ones that run or are read when a module is loaded), the layering (widgets never import torch,
recording never imports widgets), and imports that load only what they need."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "attnwidgets"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imported(name: str) -> set[str]:
    """The package's modules ``name`` imports outside functions (TYPE_CHECKING included)."""
    path = MODULES[name]
    base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue  # imported when called, not when loaded
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = base[: len(base) - node.level + 1] if node.level > 1 else base
                    target = ".".join([*parts, *([node.module] if node.module else [])])
                else:
                    target = node.module or ""
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    found.add(sub if sub in MODULES else target)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            for field in ("body", "orelse", "finalbody"):  # if / try / with / class bodies
                children = getattr(node, field, None)
                if isinstance(children, list):
                    visit([child for child in children if isinstance(child, ast.stmt)])
            for handler in getattr(node, "handlers", None) or []:
                visit(handler.body)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return {target for target in found if target in MODULES and target != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    graph = {name: imported(name) for name in MODULES}
    assert cycles(graph) == []
    # the two that there were: lens <-> streaming (Run), attention view <-> live box
    assert "attnwidgets.lens" not in graph["attnwidgets.streaming"]
    assert "attnwidgets.widgets.attention.view" not in graph["attnwidgets.widgets.attention.live"]
    assert "attnwidgets.lens" in graph["attnwidgets.batches"]  # read under TYPE_CHECKING too


def test_the_reading_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def loaded_after(statement: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``statement``."""
    code = f"{statement}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return set(done.stdout.split())


@pytest.mark.parametrize(
    ("statement", "absent"),
    [
        ("import attnwidgets", {"numpy", "torch", "attnwidgets.widgets"}),
        ("from attnwidgets.widgets.norms import NormView", {"attnwidgets.widgets.attention"}),
        (
            "from attnwidgets.widgets.positions import PositionView",
            {"attnwidgets.widgets.attention"},
        ),
        ("from attnwidgets import AttentionView, head_view", {"torch", "attnwidgets.recording"}),
        ("from attnwidgets.run import Run, Runs", {"torch", "attnwidgets.widgets"}),
        (
            "from attnwidgets.widgets.vision import ImageAttentionView, PredictionGridView",
            {"torch", "attnwidgets.recording", "attnwidgets.widgets.attention"},
        ),
        ("from attnwidgets import PatchingView, rollout", {"torch", "attnwidgets.recording"}),
        (
            "from attnwidgets.widgets.tokens import TokenizerView",
            {"torch", "attnwidgets.recording", "attnwidgets.widgets.attention"},
        ),
        ("from attnwidgets.recording import capture", {"attnwidgets.widgets", "ipywidgets"}),
        # features at scale (issue 17): the store, PCA, probes and views are numpy-only
        (
            "from attnwidgets import FeatureStore, FeatureMap, NeuronView, ProbeView, pca, probe",
            {"torch", "attnwidgets.recording", "attnwidgets.widgets.attention"},
        ),
    ],
)
def test_imports_load_only_what_they_need(statement: str, absent: set[str]) -> None:
    assert not absent & loaded_after(statement)


def test_every_module_imports_alone() -> None:
    """Each module first in a fresh interpreter (one process for all: order-independent
    because each is imported right after the interpreter has nothing of the package)."""
    names = sorted(name for name in MODULES if not name.endswith("__main__"))
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    for loaded in [m for m in sys.modules if m.startswith('attnwidgets')]:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
    )
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]


def every_import(name: str) -> set[str]:
    """Absolute names of everything ``name`` imports, anywhere in it (functions too)."""
    path = MODULES[name]
    base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = base[: len(base) - node.level + 1] if node.level > 1 else base
            prefix = ".".join(parts) + "." if node.level else ""
            found.add(prefix + (node.module or ""))
    return found


def test_layers_widgets_never_import_torch_and_recording_never_imports_widgets() -> None:
    for name in MODULES:
        names = every_import(name)
        if name.startswith("attnwidgets.widgets"):
            assert not {n for n in names if n.split(".")[0] == "torch"}, name
        if name.startswith("attnwidgets.recording"):
            assert not {n for n in names if n.startswith("attnwidgets.widgets")}, name
