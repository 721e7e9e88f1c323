"""Feature heatmaps: hidden states read from a VLM's modules (checked against the model's own
``output_hidden_states``), laid on the grid (checked against ``run.image_positions``), and
each map against an independent computation: PCA against scikit-learn and a numpy SVD, cosine
and norms by hand. The view's requests, its module box and bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import traitlets
import vlm_cases as vc
from sklearn.decomposition import PCA

import attnwidgets as aw
from attnwidgets.feature_records import FeatureSet, ModuleFeatures, Surface, pca
from attnwidgets.vlm_features import default_modules, module_features
from attnwidgets.widgets.vlm import FeatureHeatmapView


@pytest.fixture(scope="module")
def llava() -> Any:
    model, processor = vc.llava()
    run = aw.wrap(model, processor)(image=vc.photo("chelsea", (32, 32)), text="What is it?")
    return run, module_features(run)


def synthetic(seed: int = 0, dim: int = 6) -> FeatureSet:
    """Two surfaces of one text module: a 2 x 3 grid (one empty cell) and a 1 x 2 grid."""
    rng = np.random.default_rng(seed)
    hidden = rng.normal(size=(10, dim)).astype(np.float32)
    big = Surface("image 0 · tiles", "text", 0, (2, 3), np.array([1, 2, 3, 4, 5, -1]))
    small = Surface("image 0 · base", "text", 0, (1, 2), np.array([6, 7]))
    modality = ["text", *["image"] * 7, "text", "text"]
    tokens = [f"t{i}" for i in range(10)]
    image = np.zeros((8, 12, 3), np.uint8)
    return FeatureSet([ModuleFeatures("lm.0", "text", hidden)], [big, small], [image], tokens,
                      modality)  # fmt: skip


def test_pca_matches_scikit_learn_and_numpy_svd() -> None:
    rng = np.random.default_rng(1)
    for n, dim in ((40, 12), (7, 30)):  # the covariance and the Gram paths
        x = rng.normal(size=(n, dim)) @ rng.normal(size=(dim, dim))
        mean, comps, ratio = pca(x, 3)
        reference = PCA(n_components=3, svd_solver="full").fit(x)
        assert np.allclose(mean, reference.mean_, atol=1e-5)
        assert np.allclose(comps, reference.components_, atol=1e-4)
        assert np.allclose(ratio, reference.explained_variance_ratio_, atol=1e-5)
        _, s, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
        assert np.allclose(np.abs(comps), np.abs(vt[:3]), atol=1e-4)
        assert np.allclose(ratio, (s[:3] ** 2) / (s**2).sum(), atol=1e-5)


def test_pca_rgb_is_the_scaled_projection_fitted_over_every_image_position() -> None:
    fs = synthetic()
    fitted = fs.modules[0].hidden[[1, 2, 3, 4, 5, 6, 7]].astype(np.float64)
    reference = PCA(n_components=3, svd_solver="full").fit(fitted)
    scores = reference.transform(fitted)
    lo, hi = scores.min(axis=0), scores.max(axis=0)
    for surface, rows in ((0, [1, 2, 3, 4, 5]), (1, [6, 7])):
        rgb, ratio = fs.pca_rgb(0, surface)
        expected = (reference.transform(fs.modules[0].hidden[rows]) - lo) / (hi - lo)
        flat = rgb.reshape(-1, 3)
        assert np.allclose(flat[: len(rows)], expected, atol=1e-5)
        assert np.allclose(ratio, reference.explained_variance_ratio_, atol=1e-5)
    assert np.isnan(fs.pca_rgb(0, 0)[0][1, 2]).all()  # the empty cell


def test_norm_channel_and_cosine_maps_by_hand() -> None:
    fs = synthetic()
    h = fs.modules[0].hidden.astype(np.float64)
    index = [1, 2, 3, 4, 5]
    norm = fs.norm_map(0, 0).reshape(-1)
    assert np.allclose(norm[:5], [np.sqrt((h[i] ** 2).sum()) for i in index], atol=1e-5)
    assert np.isnan(norm[5])
    assert np.allclose(fs.channel_map(0, 0, 4).reshape(-1)[:5], h[index, 4])

    def cos(a: np.ndarray, b: np.ndarray) -> float:
        return float(a @ b / np.sqrt((a @ a) * (b @ b)))

    patch = fs.cosine_map(0, 0, cell=4).reshape(-1)  # cell (1, 1) holds position 5
    assert np.allclose(patch[:5], [cos(h[i], h[5]) for i in index], atol=1e-6)
    assert patch[4] == pytest.approx(1.0)
    text = fs.cosine_map(0, 1, token=9).reshape(-1)
    assert np.allclose(text, [cos(h[6], h[9]), cos(h[7], h[9])], atol=1e-6)
    with pytest.raises(IndexError, match="token 3 is not a text position; text positions: "):
        fs.cosine_map(0, 0, token=3)
    with pytest.raises(IndexError, match=r"patch \(1, 2\) has no token on 'image 0 · tiles'"):
        fs.cosine_map(0, 0, cell=5)
    with pytest.raises(IndexError, match=r"channel 6 out of range: lm\.0 has channels 0\.\.5"):
        fs.channel_map(0, 0, 6)


def test_hidden_states_are_the_models_own_on_the_runs_grid(llava: Any) -> None:
    run, fs = llava
    assert (
        [m.path for m in fs.modules]
        == default_modules(run)
        == [
            "model.vision_tower.encoder.layers.0",
            "model.vision_tower.encoder.layers.1",
            "model.language_model.layers.0",
            "model.language_model.layers.1",
        ]
    )
    with torch.no_grad():
        out = run.model(**run.inputs, output_hidden_states=True)
        tower = run.model.model.vision_tower(run.inputs["pixel_values"], output_hidden_states=True)
    text = [s for s in fs.surfaces if s.tower == "text"]
    vision = [s for s in fs.surfaces if s.tower == "vision"]
    assert len(text) == len(vision) == 1
    lm1 = fs.modules[3].hidden  # the last layer's output: hidden_states[-1] is after the norm
    lm0 = fs.modules[2].hidden
    assert np.allclose(lm0, out.hidden_states[1][0].numpy(), atol=1e-5)
    for cell, position in enumerate(text[0].index):
        p = run.image_positions[int(position)]
        assert (p.row, p.col) == divmod(cell, 4)
    assert lm1.shape == (len(run.tokens), 32)
    v0 = fs.modules[0].hidden
    assert np.allclose(v0, tower.hidden_states[1][0].numpy(), atol=1e-5)
    for cell, position in enumerate(vision[0].index):
        assert run.vlm.vision[0].positions[int(position)] == divmod(cell, 4)


def test_the_model_is_left_as_it_was(llava: Any) -> None:
    run, _ = llava
    model = run.model

    def hooks() -> dict[str, tuple[Any, ...]]:  # transformers keeps hooks of its own
        return {name: (*m._forward_hooks, *m._forward_pre_hooks)
                for name, m in model.named_modules()}  # fmt: skip

    before = hooks()
    implementation = model.config._attn_implementation
    model.train()
    try:
        module_features(run, "model.language_model.layers.*")
        assert model.training and all(m.training for m in model.modules())
        assert hooks() == before
        assert model.config._attn_implementation == implementation
    finally:
        model.eval()


def test_skipped_and_bad_module_names(llava: Any) -> None:
    run, _ = llava
    fs = module_features(run, "model.multi_modal_projector, model.language_model.layers.1")
    assert [m.path for m in fs.modules] == ["model.language_model.layers.1"]
    assert "does not match" not in fs.skipped["model.multi_modal_projector"]
    assert "is not [1, " in fs.skipped["model.multi_modal_projector"]
    with pytest.raises(ValueError, match="no output can be laid on the image"):
        module_features(run, "model.multi_modal_projector")
    with pytest.raises(ValueError, match=r"'model\.languag_model\.layers\.\*' matches no module"):
        module_features(run, "model.languag_model.layers.*")


def test_tiles_and_merged_tokens_get_their_own_surfaces() -> None:
    model, processor = vc.qwen2_vl()
    run = aw.wrap(model, processor)(image=vc.photo("chelsea", (48, 64)), text="What is it?")
    fs = module_features(run)
    text = [s for s in fs.surfaces if s.tower == "text"]
    vision = [s for s in fs.surfaces if s.tower == "vision"]
    assert [s.grid for s in text] == [(3, 4)] and [s.grid for s in vision] == [(6, 8)]
    tower = next(m for m in fs.modules if m.tower == "vision")
    assert tower.hidden.shape[0] == 48 and sorted(vision[0].index.tolist()) == list(range(48))
    model, processor = vc.idefics3()
    run = aw.wrap(model, processor)(image=vc.photo("chelsea", (64, 64)), text="What is it?")
    fs = module_features(run, "model.vision_model.encoder.layers.1")
    assert [s.name for s in fs.surfaces if s.tower == "vision"] == [
        "image 0 · tile (0, 0)", "image 0 · tile (0, 1)", "image 0 · tile (1, 0)",
        "image 0 · tile (1, 1)", "image 0 · global",
    ]  # fmt: skip
    offsets = [int(s.index.min()) for s in fs.surfaces if s.tower == "vision"]
    assert offsets == [0, 64, 128, 192, 256]


def reply_map(view: FeatureHeatmapView, **request: Any) -> tuple[dict[str, Any], np.ndarray]:
    reply, buffers = view.answer({"type": "request_map", "id": 1, **request})
    assert reply["type"] == "map", reply
    return reply, np.frombuffer(bytes(buffers[0]), np.float32).reshape(reply["shape"])


def test_view_replies_carry_the_maps() -> None:
    fs = synthetic()
    view = FeatureHeatmapView(fs)
    assert view.first_map["measure"] == "pca" and view.first_map["shape"] == [2, 3, 3]
    reply, values = reply_map(view, module=0, measure="norm", surface=1)
    assert np.allclose(values, fs.norm_map(0, 1))
    assert reply["lo"] == pytest.approx(float(values.min()))
    reply, values = reply_map(view, module=0, measure="pca", surface=0)
    assert reply["fitted"] == 7 and len(reply["ratio"]) == 3
    _, values = reply_map(view, module=0, measure="patch", surface=0, patch=[1, 1])
    assert np.allclose(values, fs.cosine_map(0, 0, cell=4), equal_nan=True)
    _, values = reply_map(view, module=0, measure="text", surface=1, token=8)
    assert np.allclose(values, fs.cosine_map(0, 1, token=8))
    _, values = reply_map(view, module=0, measure="channel", surface=0, channel=2)
    assert np.allclose(values, fs.channel_map(0, 0, 2), equal_nan=True)
    chosen = FeatureHeatmapView(fs, measure="text", text_token=8, surface=1)
    assert (chosen.first_map["token"], chosen.first_map["surface"]) == (8, 1)
    first = np.frombuffer(bytes(chosen.first_map["value"]), np.float32)
    assert np.allclose(first, fs.cosine_map(0, 1, token=8).reshape(-1))


def test_bad_map_requests_name_the_field() -> None:
    fs = synthetic()
    vision = ModuleFeatures("tower.0", "vision", fs.modules[0].hidden)
    fs.modules.append(vision)
    fs.surfaces.append(Surface("image 0", "vision", 0, (1, 2), np.array([0, 1])))
    view = FeatureHeatmapView(fs)
    cases = [
        (
            {"module": 2, "measure": "norm", "surface": 0},
            "module: 2 is out of range; modules are 0..1",
        ),
        ({"module": 0, "measure": "mean", "surface": 0}, "measure: 'mean' is not one of norm,"),
        (
            {"module": 0, "measure": "norm", "surface": 2},
            "surface: 2 shows vision-tower positions; module 0 (lm.0) needs one of [0, 1]",
        ),
        (
            {"module": 0, "measure": "norm", "surface": 9},
            "surface: 9 is out of range; surfaces are 0..2",
        ),
        (
            {"module": 0, "measure": "channel", "surface": 0, "channel": 6},
            "channel: 6 is out of range; channels are 0..5",
        ),
        (
            {"module": 0, "measure": "patch", "surface": 0, "patch": []},
            "patch: None is not [row, col] on the 2 x 3 grid",
        ),
        ({"module": 0, "measure": "patch", "surface": 0, "patch": [1, 2]}, "has no token"),
        (
            {"module": 1, "measure": "text", "surface": 2, "token": 8},
            "needs a language-model module; tower.0 is in the vision tower",
        ),
        (
            {"module": 0, "measure": "text", "surface": 0, "token": 2},
            "token 2 is not a text position",
        ),
    ]
    for content, message in cases:
        reply, buffers = view.answer({"type": "request_map", "id": "r", **content})
        assert reply["type"] == "error" and message in reply["message"], reply
        assert reply["id"] == "r" and buffers == []
    assert "is not 'request_map'" in view.answer({"type": "x"})[0]["message"]
    with pytest.raises(traitlets.TraitError, match=r"patch: \[3, 0, 2, 3\] is not"):
        view.patch = [3, 0, 2, 3]
    with pytest.raises(traitlets.TraitError, match="text_token: 1 is not a text position"):
        view.text_token = 1
    with pytest.raises(TypeError, match="FeatureHeatmapView takes a FeatureSet"):
        FeatureHeatmapView({"a": 1})  # type: ignore[arg-type]


def test_the_module_box_runs_the_model_again(llava: Any) -> None:
    from attnwidgets.vlm_views import feature_view

    run, _ = llava
    view = feature_view(run)
    assert view.editable and view.module_towers == ["vision", "vision", "text", "text"]
    view.module = 3
    version = view.data_version
    view.pattern = "model.language_model.layers.1, model.multi_modal_projector"
    assert view.modules == ["model.language_model.layers.1"]
    assert view.module == 0 and view.data_version == version + 1
    assert view.note.startswith("not drawn: model.multi_modal_projector: output [1, 16, 32]")
    view.pattern = "model.nothing.*"
    assert view.pattern == "model.language_model.layers.1, model.multi_modal_projector"
    assert "'model.nothing.*': modules=: 'model.nothing.*' matches no module" in view.note
    assert view.modules == ["model.language_model.layers.1"]


def test_feature_views_refuse_runs_without_images() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=50, bos_token_id=0,
                        eos_token_id=0)  # fmt: skip
    run = aw.wrap(GPT2LMHeadModel(config).eval())(input_ids=torch.tensor([[1, 2, 3]]))
    with pytest.raises(TypeError, match="module_features needs a vision-language run"):
        module_features(run)
    with pytest.raises(TypeError, match=r"got Run \(tokens '1', '2', '3'\.\.\.\), which has no"):
        default_modules(run)
