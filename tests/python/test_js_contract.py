"""The Python/JS contract, checked: every trait name a view's JavaScript reads, writes or
watches is a synced trait of its widget, every synced trait is used by the JavaScript, and the
view's JSDoc ``@typedef`` of its model lists exactly the synced traits. A trait renamed on one
side fails here instead of in a user's notebook.

Names are read from the source of each ``js/*_view.js`` and of every module it imports:
``model.get("x")``, ``model.set("x", ...)``, ``setTrait(model, "x", ...)``,
``onChange(model, ["x", ...], ...)`` and ``"change:x"``. A name computed at run time would
escape that reading, so none is allowed (``js/shared/model.js`` holds the one place where a
name is a variable).
"""

from __future__ import annotations

import re
from pathlib import Path

import anywidget
import pytest

from attnwidgets import (
    AttentionView,
    CrossModalView,
    DualEncoderView,
    FeatureHeatmapView,
    ImageAttentionView,
    NormView,
    PatchingView,
    PositionView,
    StepView,
    TokenizerView,
)
from attnwidgets.widgets import PredictionGridView, RowView, TrainingMonitorView
from attnwidgets.widgets.features import NeuronView, SelectionList

JS = Path(__file__).resolve().parents[2] / "js"
WIDGETS = {
    "attention_view.js": AttentionView,
    "cross_modal_view.js": CrossModalView,
    "dual_encoder_view.js": DualEncoderView,
    "feature_heatmap_view.js": FeatureHeatmapView,
    "image_attention_view.js": ImageAttentionView,
    "norm_view.js": NormView,
    "patching_view.js": PatchingView,
    "position_view.js": PositionView,
    "prediction_grid_view.js": PredictionGridView,
    "row_view.js": RowView,
    "step_view.js": StepView,
    "tokenizer_view.js": TokenizerView,
    "training_monitor_view.js": TrainingMonitorView,
    # features at scale (issue 17): the list beside FeatureMap's bqplot scatter, NeuronView
    "feature_map_view.js": SelectionList,
    "neuron_view.js": NeuronView,
}
MODEL_HELPERS = JS / "shared" / "model.js"
BASE_TRAITS = set(anywidget.AnyWidget.class_trait_names(sync=True))

IMPORT = re.compile(r'from\s+"(\.{1,2}/[^"]+\.js)"')
USES = [
    re.compile(r'\bmodel\.get\(\s*"(\w+)"'),
    re.compile(r'\bmodel\.set\(\s*"(\w+)"'),
    re.compile(r'\bsetTrait\(\s*model,\s*"(\w+)"'),
    re.compile(r'"change:(\w+)"'),
]
WATCHED = re.compile(r"\bonChange\(\s*model,\s*\[([^\]]*)\]", re.S)
DYNAMIC = re.compile(
    r"\bmodel\.(?:get|set)\(\s*[^\s\"]"
    r"|\bsetTrait\(\s*model,\s*[^\s\"]"
    r"|\bonChange\(\s*model,\s*[^\s\[]"
    r"|[`\"']change:\$\{"
)
COMMENT = re.compile(r"/\*.*?\*/|(?<![:\"'\w])//[^\n]*", re.S)
TYPEDEF = re.compile(r"@typedef \{object\} (\w+Model)\n((?: \* @property [^\n]*\n)+)")
PROPERTY = re.compile(r"@property \{[^}]*\} (\w+)")


def code(path: Path) -> str:
    """The module's source without comments (a comment naming a trait uses nothing)."""
    return COMMENT.sub("", path.read_text(encoding="utf-8"))


def module_graph(entry: Path) -> list[Path]:
    """``entry`` and every module it imports, directly or not (relative imports)."""
    seen: list[Path] = []
    todo = [entry.resolve()]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.append(path)
        todo.extend((path.parent / name).resolve() for name in IMPORT.findall(code(path)))
    return seen


def used_names(source: str) -> set[str]:
    names: set[str] = set()
    for pattern in USES:
        names.update(pattern.findall(source))
    for block in WATCHED.findall(source):
        names.update(re.findall(r'"(\w+)"', block))
    return names


def js_names(entry: str) -> set[str]:
    return set().union(*(used_names(code(path)) for path in module_graph(JS / entry)))


def typedef_names(entry: str) -> set[str]:
    found = TYPEDEF.findall((JS / entry).read_text(encoding="utf-8"))
    assert len(found) == 1, f"{entry} declares its model in one @typedef {{object}} ...Model"
    return set(PROPERTY.findall(found[0][1]))


def synced(widget: type) -> set[str]:
    return set(widget.class_trait_names(sync=True)) - BASE_TRAITS


def test_every_view_entry_module_has_its_widget() -> None:
    assert sorted(path.name for path in JS.glob("*_view.js")) == sorted(WIDGETS)


@pytest.mark.parametrize("entry", sorted(WIDGETS))
def test_every_name_the_js_uses_is_a_synced_trait(entry: str) -> None:
    unknown = js_names(entry) - synced(WIDGETS[entry])
    assert not unknown, f"{entry} uses traits that {WIDGETS[entry].__name__} does not sync"


@pytest.mark.parametrize("entry", sorted(WIDGETS))
def test_every_synced_trait_is_used_by_the_js(entry: str) -> None:
    unused = synced(WIDGETS[entry]) - js_names(entry)
    assert not unused, f"{WIDGETS[entry].__name__} syncs traits that {entry} never uses"


@pytest.mark.parametrize("entry", sorted(WIDGETS))
def test_the_typedef_of_the_model_lists_the_synced_traits(entry: str) -> None:
    assert typedef_names(entry) == synced(WIDGETS[entry])


@pytest.mark.parametrize("entry", sorted(WIDGETS))
def test_no_trait_name_is_computed(entry: str) -> None:
    for path in module_graph(JS / entry):
        if path == MODEL_HELPERS.resolve():
            continue
        found = [m.group(0) for m in DYNAMIC.finditer(code(path))]
        assert not found, f"{path.relative_to(JS)} computes trait names: {found}"


def test_the_reading_catches_renames_and_computed_names() -> None:
    source = """
      // model.get("in_a_comment") uses nothing
      const a = model.get("layer") + model.get('x');
      model.set("head", 1); setTrait(model, "focus_token", -1);
      const stop = onChange(model, ["chunk", "tile0"], draw);
      const events = [["change:data_version", reset]];
    """
    assert used_names(COMMENT.sub("", source)) == {
        "layer", "head", "focus_token", "chunk", "tile0", "data_version",
    }  # fmt: skip
    dynamic = "model.get(name); model.set(`n_${x}s`, 1); onChange(model, names, f); `change:${n}`"
    assert len(DYNAMIC.findall(dynamic)) == 4
    assert "layerz" in used_names('model.get("layerz")') - synced(AttentionView)
