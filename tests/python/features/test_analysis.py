"""PCA, probes and neurons against independent references, and the views' Python state."""

# ruff: noqa: F811  (pytest fixtures imported from a module, then used as arguments)

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import traitlets
from feature_fixtures import fashion_vit, minilm, snippets  # noqa: F401
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import attnwidgets as aw
from attnwidgets.features import pca, top_inputs


@pytest.fixture(scope="module")
def fashion_store(fashion_vit: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    model, processor, images, labels = fashion_vit
    names = [model.config.id2label[int(i)] for i in labels]
    path = tmp_path_factory.mktemp("a") / "fashion.sqlite"
    return aw.extract(
        model,
        images,
        "vit.layers.?",
        processor=processor,
        labels=names,
        pool="cls",
        store=path,
        batch_size=50,
        progress=False,
    )


@pytest.fixture(scope="module")
def text_store(minilm: Any, snippets: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    model, tokenizer = minilm
    texts, labels = snippets
    path = tmp_path_factory.mktemp("t") / "text.parquet"
    return aw.extract(
        model,
        texts,
        "encoder.layer.?",
        processor=tokenizer,
        labels=labels,
        store=path,
        dtype="float32",
        progress=False,
    )


def test_pca_matches_scikit_learn(fashion_store: Any) -> None:
    X, _ = fashion_store.load("vit.layers.*", 3)
    ours = pca(X, 2)
    theirs = PCA(2).fit(X.astype(np.float64))
    signs = np.sign((ours.components * theirs.components_).sum(axis=1))
    np.testing.assert_allclose(ours.components, theirs.components_ * signs[:, None], atol=1e-4)
    np.testing.assert_allclose(ours.coords, theirs.transform(X) * signs, atol=1e-3)
    np.testing.assert_allclose(ours.explained, theirs.explained_variance_ratio_, rtol=1e-4)


def test_probe_per_layer_matches_a_direct_cross_validation(fashion_store: Any) -> None:
    result = aw.probe(fashion_store, "vit.layers.*", folds=4)
    assert [s.layer for s in result.layers] == [0, 1, 2, 3]
    X, meta = fashion_store.load("vit.layers.*", 3)
    split = StratifiedKFold(4, shuffle=True, random_state=0)
    direct = cross_val_score(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, tol=1e-3)),
        X.astype(np.float32),
        meta["label"],
        cv=split,
    )
    np.testing.assert_allclose(result.layers[3].accuracy, direct)
    last = result.table()[-1]
    assert last["accuracy"] > 0.7  # a trained ViT's [CLS] knows the class
    counts = np.unique(meta["label"], return_counts=True)[1]
    assert last["majority"] == pytest.approx(counts.max() / counts.sum(), abs=0.02)
    assert last["control"] < 0.35 and last["selectivity"] > 0.4
    view = result.widget()
    np.testing.assert_allclose(np.asarray(view.accuracy.y), [r["accuracy"] for r in result.table()])
    assert "<td>3</td>" in view.table.value


def test_probe_table_escapes_what_it_shows(fashion_store: Any) -> None:
    from attnwidgets.widgets.features.probe_view import table_html

    row = {
        "layer": "<img src=x onerror=alert(1)>",
        "accuracy": 0.5,
        "std": 0,
        "majority": 0.1,
        "control": 0.1,
        "control_std": 0,
        "selectivity": 0.4,
        "n": 1,
        "skipped": 0,
    }
    assert "<img" not in table_html([row]) and "&lt;img" in table_html([row])


def test_top_inputs_and_unit_values_over_tokens(minilm: Any, text_store: Any) -> None:
    model, tokenizer = minilm
    X, meta = text_store.load("encoder.layer.*", 4)
    expected = meta["input_id"][np.argsort(-X[:, 17], kind="stable")[:5]].tolist()
    assert [i for i, _ in top_inputs(text_store, "encoder.layer.*", 4, unit=17, k=5)] == expected
    view = aw.neuron_view(
        model, tokenizer, text_store, "encoder.layer.*", 4, unit=17, text="print((1, [2]))", k=5
    )
    assert [item["input_id"] for item in view.top] == expected
    enc = tokenizer(["print((1, [2]))"], return_tensors="pt")
    with torch.no_grad():
        hidden = model(**enc, output_hidden_states=True).hidden_states[5][0]
    values = np.frombuffer(bytes(view.text_values["value"]), "<f4")
    np.testing.assert_allclose(values, hidden[:, 17].numpy(), atol=1e-5)
    assert view.text_tokens == [tokenizer.decode([i]) for i in enc["input_ids"][0].tolist()]
    tops = np.frombuffer(bytes(view.top_values["value"]), "<f4")
    assert view.scale == pytest.approx(max(np.abs(tops).max(), np.abs(values).max()))
    view.unit = 18  # what the view's unit box does
    again = top_inputs(text_store, "encoder.layer.*", 4, unit=18, k=5)
    assert [item["input_id"] for item in view.top] == [i for i, _ in again]
    with pytest.raises(traitlets.TraitError, match=r"unit 384 is outside 0\.\.383"):
        view.unit = 384


def test_probe_direction_ranks_inputs_by_projection(minilm: Any, text_store: Any) -> None:
    model, tokenizer = minilm
    result = aw.probe(text_store, "encoder.layer.*", layers=[5], folds=3)
    direction = result.direction(5, target="3+")
    X, meta = text_store.load("encoder.layer.*", 5)
    projected = X @ direction
    view = aw.neuron_view(
        model, tokenizer, text_store, "encoder.layer.*", 5, direction=direction, k=10
    )
    assert [it["input_id"] for it in view.top] == meta["input_id"][
        np.argsort(-projected)[:10]
    ].tolist()
    deep = np.mean([it["label"] == "3+" for it in view.top])
    assert deep > 0.5  # the probe's direction points at deeply nested code


def test_vit_unit_over_patches(fashion_vit: Any, fashion_store: Any) -> None:
    model, processor, images, _ = fashion_vit
    view = aw.neuron_view(model, processor, fashion_store, "vit.layers.*", -1, unit=5, k=3)
    first = view.top[0]
    assert first["grid"] == [7, 7] and first["length"] == 50  # [CLS] + 7 x 7 patches
    pixels = processor([images[first["input_id"]]], return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        hidden = model(pixel_values=pixels, output_hidden_states=True).hidden_states[4][0]
    values = np.frombuffer(bytes(view.top_values["value"]), "<f4")[:50]
    np.testing.assert_allclose(values, hidden[:, 5].numpy(), atol=1e-5)
    assert view.top_images["shape"] == [3, 28, 28, 3]


def test_feature_map_state(fashion_store: Any) -> None:
    fmap = aw.FeatureMap(fashion_store, "vit.layers.*")
    assert fmap.layer == 3
    X, meta = fashion_store.load("vit.layers.*", 3)
    np.testing.assert_allclose(np.asarray(fmap.scatter.x), pca(X, 2).coords[:, 0], rtol=1e-5)
    assert {e["name"] for e in fmap.panel.legend} == set(meta["label"].tolist())
    fmap.select_ids([0, 5, 9])
    assert fmap.selected_ids.tolist() == [0, 5, 9]
    assert np.asarray(fmap.scatter.selected).tolist() == [0, 5, 9]
    assert [i["input_id"] for i in fmap.panel.items] == [0, 5, 9]
    assert fmap.panel.items[1]["label"] == meta["label"][5]
    assert fmap.panel.thumbnails["shape"] == [3, 28, 28, 3]
    fmap.layer = 0
    X0, _ = fashion_store.load("vit.layers.*", 0)
    np.testing.assert_allclose(np.asarray(fmap.scatter.y), pca(X0, 2).coords[:, 1], rtol=1e-5)
    assert fmap.panel.selected_count == 0 and fmap.scatter.selected is None


def test_feature_map_brush_box_selects_in_the_kernel(fashion_store: Any) -> None:
    fmap = aw.FeatureMap(fashion_store, "vit.layers.*", selector="brush")
    coords = fmap.projection.coords
    # the scales are pinned to the points' range plus 5% each side
    (xl, xh), (yl, yh) = [
        (v.min() - 0.05 * np.ptp(v), v.max() + 0.05 * np.ptp(v)) for v in coords.T
    ]
    assert (fmap.x_scale.min, fmap.x_scale.max) == pytest.approx((xl, xh))
    assert (fmap.y_scale.min, fmap.y_scale.max) == pytest.approx((yl, yh))
    fmap.panel.box = [0.2, 0.3, 0.7, 0.9]  # what the page reads off the brush after a drag
    x0, x1 = xl + 0.2 * (xh - xl), xl + 0.7 * (xh - xl)
    y0, y1 = yh - 0.9 * (yh - yl), yh - 0.3 * (yh - yl)  # fractions count from the top
    x, y = coords[:, 0], coords[:, 1]
    expected = fmap.ids[(x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)]
    assert 0 < len(expected) < len(fmap.ids)
    assert fmap.selected_ids.tolist() == expected.tolist()
    assert fmap.panel.selected_count == len(expected)
    assert sorted(np.asarray(fmap.scatter.selected).tolist()) == sorted(
        np.flatnonzero(np.isin(fmap.ids, expected)).tolist()
    )
    fmap.scatter.selected = np.array([0])  # bqplot's own (in JupyterLab, empty) answer: ignored
    assert fmap.selected_ids.tolist() == expected.tolist()
    fmap.panel.box = []
    assert fmap.panel.selected_count == 0 and fmap.scatter.selected is None


def test_feature_map_lasso_selects_in_the_kernel(fashion_store: Any) -> None:
    fmap = aw.FeatureMap(fashion_store, "vit.layers.*")
    coords = fmap.projection.coords
    (xl, xh), (yl, yh) = (fmap.x_limits, fmap.y_limits)
    # a triangle: top-left corner, top-right corner, bottom middle of the plot
    fmap.panel.lasso = [0.0, 0.0, 1.0, 0.0, 0.5, 1.0]
    # by hand: inside iff below the top edge (always), and between the two slanted edges
    # from (xl, yh) and (xh, yh) down to ((xl + xh) / 2, yl)
    depth = (yh - coords[:, 1]) / (yh - yl)  # 0 at the top, 1 at the bottom
    half_width = (1 - depth) * (xh - xl) / 2
    centre = (xl + xh) / 2
    expected = fmap.ids[np.abs(coords[:, 0] - centre) < half_width]
    assert 0 < len(expected) < len(fmap.ids)
    assert fmap.selected_ids.tolist() == expected.tolist()
    fmap.clear.click()
    assert fmap.panel.lasso == [] and fmap.panel.selected_count == 0


def test_feature_map_lists_text_snippets(text_store: Any, snippets: Any) -> None:
    fmap = aw.FeatureMap(text_store, "encoder.layer.*", 2, max_points=50)
    assert len(fmap.scatter.x) == 50
    fmap.select_ids(fmap.ids[[1]])
    (item,) = fmap.panel.items
    text = snippets[0][item["input_id"]]
    assert item["text"] == (text if len(text) <= 163 else f"{text[:60]} … {text[-100:]}")


def test_views_never_import_torch() -> None:
    code = (
        "import sys; import attnwidgets.widgets.features, attnwidgets.features;"
        " print('torch' in sys.modules)"
    )
    src = Path(__file__).resolve().parents[3] / "src"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(src)},
        check=True,
    )
    assert out.stdout.strip() == "False"
