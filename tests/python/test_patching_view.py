"""The Patching view and what it reads from the model: the patch projection's output (checked
against the model's own patch-embedding module), the position embeddings the model adds
(checked against its embeddings' output at the pre-training size and at another size), the
cosine table, the tabs ``run.show()`` opens for an image run, and clear errors for text."""

from __future__ import annotations

import ipywidgets
import numpy as np
import pytest
import torch
import traitlets
from transformers import GPT2Config, GPT2LMHeadModel
from vision_cases import CASES, photo

import attnwidgets as aw
from attnwidgets.recording.vision.patch_embeddings import patch_embeddings, position_embeddings
from attnwidgets.vision_records import VisionInfo
from attnwidgets.vision_views import patching_view
from attnwidgets.widgets.vision.patching import PatchingView, cosine_table


def run_of(name: str, size: tuple[int, int]) -> tuple[torch.nn.Module, aw.lens.Run]:
    case = CASES[name]
    model = case.build()
    return model, aw.wrap(model, case.processor(size), norms=False)(photo())


def hooks(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.mark.parametrize(
    ("name", "size"), [("vit", (32, 48)), ("swin", (30, 34)), ("clip", (32, 32))]
)
def test_patch_embeddings_are_the_patch_modules_output(name, size):
    model, run = run_of(name, size)
    before = hooks(model)
    got = patch_embeddings(model, run.inputs)
    assert hooks(model) == before
    pixels = run.inputs["pixel_values"]
    with torch.no_grad():
        if name == "vit":
            expected = model.vit.embeddings.patch_embeddings(pixels)[0]
        elif name == "swin":  # pads the image to whole patches, then projects
            expected = model.swin.embeddings.patch_embeddings(pixels)[0][0]
        else:
            conv = model.embeddings.patch_embedding
            expected = conv(pixels)[0].flatten(1).T
    rows, cols = run.patch_grid
    assert got.shape == (rows, cols, expected.shape[-1])
    np.testing.assert_allclose(got.reshape(rows * cols, -1), expected.numpy(), atol=1e-6)
    with torch.no_grad():  # the model still runs as before
        again = model(**run.inputs)
    name_ = "logits" if hasattr(again, "logits") else "last_hidden_state"
    assert torch.equal(getattr(again, name_), getattr(run.outputs, name_))


def _added_positions(
    model: torch.nn.Module, embeddings: torch.nn.Module, run: aw.lens.Run
) -> np.ndarray:
    """What the embeddings module added to the projected patches: its output minus the input."""
    kept: list[torch.Tensor] = []
    handle = embeddings.register_forward_hook(lambda _m, _a, out: kept.append(out))
    try:
        with torch.no_grad():
            model(**run.inputs)
    finally:
        handle.remove()
    patches = patch_embeddings(model, run.inputs).reshape(-1, kept[0].shape[-1])
    return kept[0][0, -patches.shape[0] :].numpy() - patches


@pytest.mark.parametrize(
    ("name", "size"),
    [("vit", (32, 32)), ("vit", (40, 56)), ("dinov2", (40, 48)), ("siglip", (48, 32))],
)
def test_position_embeddings_are_what_the_model_adds(name, size):
    model, run = run_of(name, size)
    owner = {"vit": lambda: model.vit.embeddings, "dinov2": lambda: model.embeddings,
             "siglip": lambda: model.embeddings}[name]()  # fmt: skip
    got = position_embeddings(model, run.patch_grid, size)
    assert not isinstance(got, str)
    rows, cols = run.patch_grid
    expected = _added_positions(model, owner, run)
    np.testing.assert_allclose(got.reshape(rows * cols, -1), expected, atol=1e-5)


def test_relative_position_models_say_they_have_no_table():
    model, run = run_of("beit", (32, 32))
    note = position_embeddings(model, run.patch_grid, (32, 32))
    assert isinstance(note, str) and "relative position bias" in note


def test_cosine_table_matches_numpy():
    table = np.random.default_rng(0).normal(size=(6, 5))
    got = cosine_table(table).astype(float) / 127.5 - 1
    unit = table / np.linalg.norm(table, axis=1, keepdims=True)
    np.testing.assert_allclose(got, unit @ unit.T, atol=1 / 127.5)
    assert cosine_table(np.zeros((2, 3)))[0, 1] == 128  # a zero vector: cosine 0


def test_patching_view_of_a_run():
    model, run = run_of("dinov2-registers", (32, 48))
    view = patching_view(run)
    rows, cols = run.patch_grid
    assert view.tokens[:5] == ["[CLS]", "[REG0]", "[REG1]", "[REG2]", "[REG3]"]
    assert view.image_layout["positions"][5] == [0, 0] and view.image_layout["patch_grid"] == [
        rows,
        cols,
    ]
    norms = np.frombuffer(bytes(view.norms["value"]), np.float32).reshape(rows, cols)
    expected = np.linalg.norm(patch_embeddings(model, run.inputs), axis=-1)
    np.testing.assert_allclose(norms, expected, rtol=1e-6)
    table = np.frombuffer(bytes(view.similarity["value"]), np.uint8).reshape(rows * cols, -1)
    positions = position_embeddings(model, run.patch_grid, (32, 48))
    assert np.array_equal(table, cosine_table(positions.reshape(rows * cols, -1)))
    assert view.patch == run.tokens.index(f"({rows // 2}, {cols // 2})")
    view.patch = 5
    with pytest.raises(traitlets.TraitError, match="patch: 0 is not a patch token"):
        view.patch = 0


def test_patching_view_notes_what_it_could_not_read():
    _, run = run_of("swin", (32, 32))
    view = patching_view(run)
    assert view.similarity == {} and "relative position bias" in view.similarity_note
    assert view.norms["shape"] == list(run.patch_grid)
    info = VisionInfo.build("vit", None, (2, 2), (4, 4), ["[CLS]"])
    bare = PatchingView(info)
    assert bare.norms == {} and bare.norms_note == "no patch embeddings were given"
    with pytest.raises(ValueError, match=r"embeddings has shape \[3, 3\]; expected \[2, 2, dim\]"):
        PatchingView(info, embeddings=np.zeros((3, 3)))


def test_text_runs_are_refused():
    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=32))
    run = aw.wrap(model)(input_ids=torch.tensor([[1, 2, 3]]))
    with pytest.raises(TypeError, match="needs a vision run"):
        patching_view(run)
    with pytest.raises(TypeError, match="PatchingView shows how an image becomes a sequence"):
        PatchingView(run)


def test_show_on_an_image_run_adds_the_vision_tabs():
    _, run = run_of("vit", (32, 32))
    tab = run.widget(layer=1, head=2)
    assert isinstance(tab, ipywidgets.Tab)
    assert tab.titles[0] == "Attention" and tab.titles[-2:] == ("Image attention", "Patching")
    assert tab.selected_index == 0
    image, patching = tab.children[-2:]
    assert (image.layer, image.head, image.heads) == (1, 2, "one")
    assert isinstance(patching, PatchingView) and run.widget().children[-2].heads == "mean"
    text = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=32))
    shown = aw.wrap(text)(input_ids=torch.tensor([[1, 2, 3]])).widget()
    titles = getattr(shown, "titles", ())
    assert "Image attention" not in titles


def test_show_on_pixel_values_without_a_processor():
    case = CASES["vit"]
    run = aw.wrap(case.build(), norms=False)(pixel_values=torch.randn(1, 3, 32, 32))
    tab = run.widget()
    assert tab.titles[-2:] == ("Image attention", "Patching")
    assert tab.children[-2].image["shape"] == [32, 32, 3]
