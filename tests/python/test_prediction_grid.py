"""aw.PredictionGrid on the shipped Fashion-MNIST ViT, and PredictionGridView on arrays: the
state the browser gets decodes to the images and the model's own predictions, filters and
confusion counts match plain loops, a click on a thumbnail is answered (also from another
thread) with the image's attention below the grid, and bad input gets clear errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import traitlets
from transformers import GPT2Config, GPT2LMHeadModel, ViTConfig, ViTModel

import attnwidgets as aw
from attnwidgets.predictions import predict
from attnwidgets.widgets.vision.image_attention import ImageAttentionView
from attnwidgets.widgets.vision.prediction_grid import PredictionGridView
from attnwidgets.widgets.vision.prediction_grid_data import thumbnails

N = 100  # not a multiple of the batch size below: the last batch is short


@pytest.fixture(scope="module")
def fashion():
    return aw.demo.load_fashion_vit(limit=N)


@pytest.fixture(scope="module")
def grid(fashion):
    model, processor, images, labels = fashion
    return aw.PredictionGrid(model, processor, images, labels, k=3, batch_size=32)


def unpack(payload: dict) -> dict[str, np.ndarray]:
    raw = bytes(payload["value"])
    kinds = {"int32": np.int32, "float32": np.float32, "uint8": np.uint8}
    return {
        name: np.frombuffer(raw, kinds[item["dtype"]], int(np.prod(item["shape"])), item["offset"])
        .reshape(item["shape"])
        for name, item in payload["arrays"].items()
    }  # fmt: skip


def decode(payload: dict) -> np.ndarray:
    kinds = {"int32": np.int32, "float32": np.float32, "uint8": np.uint8}
    return np.frombuffer(bytes(payload["value"]), kinds[payload["dtype"]]).reshape(payload["shape"])


def synthetic(n: int = 12, classes: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 6, 5, 3), dtype=np.uint8)
    logits = rng.normal(size=(n, classes))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = rng.integers(0, classes, n)
    return images, probs, labels


def test_predictions_are_the_models_own_one_image_at_a_time(grid, fashion):
    model, processor, images, labels = fashion
    lens = aw.wrap(model, processor)
    for index in (0, 31, 32, 99):  # both sides of a batch boundary, and the short last batch
        run = lens(images[index])
        top = run.top_k(3)
        names = grid.grid.class_names
        assert [names[c] for c in np.argsort(-grid.probabilities[index])[:3]] == [
            label for label, _ in top
        ]
        np.testing.assert_allclose(
            np.sort(grid.probabilities[index])[::-1][:3], [p for _, p in top], atol=1e-5
        )
    assert grid.probabilities.shape == (N, 10)
    assert grid.accuracy == pytest.approx(np.mean(grid.predicted == labels))
    assert grid.accuracy > 0.8  # a model that learned something (88% on the whole split)


def test_state_decodes_to_the_images_labels_and_top_k(grid, fashion):
    _, _, images, labels = fashion
    view = grid.grid
    sent = decode(view.images)
    assert sent.shape == (N, 28, 28, 3) and np.array_equal(sent, images)
    packed = unpack(view.predictions)
    assert packed["labels"].tolist() == labels.tolist()
    expected = np.argsort(-grid.probabilities, axis=1, kind="stable")[:, :3]
    assert np.array_equal(packed["classes"], expected)
    np.testing.assert_allclose(
        packed["probabilities"], np.take_along_axis(grid.probabilities, expected, 1)
    )
    assert view.class_names[9] == "Ankle boot" and view.n_images == N
    assert view.can_open and view.thumb == 62  # 28 px drawn twice as large, 3 px frame


def test_confusion_counts_match_a_plain_loop(grid, fashion):
    _, _, _, labels = fashion
    expected = np.zeros((10, 10), np.int64)
    for true, guess in zip(labels, grid.probabilities.argmax(1), strict=True):
        expected[true, guess] += 1
    assert np.array_equal(grid.confusion, expected)
    assert np.array_equal(decode(grid.grid.confusion_counts), expected)
    assert expected.trace() == round(grid.accuracy * N)


def test_filters_and_pages_keep_what_plain_python_keeps():
    images, probs, labels = synthetic(n=40, classes=3, seed=1)
    view = PredictionGridView(images, probs, labels, ["a", "b", "c"], per_page=8)
    guess = probs.argmax(1)
    everything = list(range(40))
    assert view.shown().tolist() == everything
    view.correctness = "wrong"
    assert view.shown().tolist() == [i for i in everything if labels[i] != guess[i]]
    view.correctness = "right"
    assert view.shown().tolist() == [i for i in everything if labels[i] == guess[i]]
    view.correctness = "all"
    view.true_class, view.predicted_class = 2, 1
    assert view.shown().tolist() == [i for i in everything if labels[i] == 2 and guess[i] == 1]
    view.true_class, view.predicted_class = -1, 0
    kept = [i for i in everything if guess[i] == 0]
    assert view.shown().tolist() == kept
    view.page = 1
    assert view.page_indices().tolist() == kept[8:16]
    view.page = 99  # past the end: the last page
    assert view.page_indices().tolist() == kept[(len(kept) - 1) // 8 * 8 :]


def test_a_click_is_answered_and_opens_the_images_attention_below(grid, fashion):
    _, _, images, _ = fashion
    sent: list[dict] = []
    grid.grid.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    grid.grid._handle_custom_msg({"type": "open", "id": 7, "index": 42}, [])
    assert sent == [{"type": "opened", "id": 7, "index": 42}]
    first = grid.attention
    assert isinstance(first, ImageAttentionView)
    assert grid.children[1].children == (first,)
    assert grid.grid.selected == grid.grid.opened == 42
    shown = decode(first.image)  # the image the model saw, normalisation undone
    assert np.abs(shown.astype(int) - images[42].astype(int)).max() <= 1
    assert first.tokens[0] == "[CLS]" and first.n_layers == 4

    done = threading.Event()  # JupyterLab delivers comm messages on another thread
    worker = threading.Thread(
        target=lambda: (
            grid.grid._handle_custom_msg({"type": "open", "id": "x", "index": 3}, []),
            done.set(),
        )
    )
    worker.start()
    worker.join(60)
    assert done.is_set() and sent[-1] == {"type": "opened", "id": "x", "index": 3}
    assert grid.attention is not first and grid.children[1].children == (grid.attention,)
    assert first.comm is None  # the previous view was closed
    assert np.abs(decode(grid.attention.image).astype(int) - images[3].astype(int)).max() <= 1


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ({"type": "open", "id": 1, "index": N}, "IndexError: index: 100 is not an image"),
        ({"type": "open", "id": 2, "index": True}, "index: 'True' is not an image index"),
        ({"type": "close", "id": 3, "index": 0}, "type: 'close' is not 'open'"),
        ({"type": "open", "id": "y" * 300, "index": "0"}, "index: '0' is not an image index"),
    ],
)
def test_bad_clicks_are_refused_naming_the_field(grid, content, said):
    sent: list[dict] = []
    grid.grid.send = lambda reply, buffers=None: sent.append(reply)  # type: ignore[method-assign]
    before = grid.grid.opened
    grid.grid._handle_custom_msg(content, [])
    assert sent[0]["type"] == "error" and said in sent[0]["message"]
    assert sent[0]["id"] == (content["id"] if len(str(content["id"])) <= 200 else None)
    assert grid.grid.opened == before


def test_a_grid_without_a_model_says_how_to_get_attention():
    images, probs, labels = synthetic()
    view = PredictionGridView(images, probs, labels)
    sent: list[dict] = []
    view.send = lambda reply, buffers=None: sent.append(reply)  # type: ignore[method-assign]
    view._handle_custom_msg({"type": "open", "id": 1, "index": 0}, [])
    assert "aw.PredictionGrid(model, processor, images, labels)" in sent[0]["message"]
    assert not view.can_open


def test_large_images_are_sent_as_block_means():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (2, 200, 300, 3), dtype=np.uint8)
    view = PredictionGridView(images, [[1.0], [1.0]], [0, 0])
    sent = decode(view.images)
    assert sent.shape == (2, 50, 75, 3)  # 300 px / 4 <= 96
    block = images[1, 8:12, 20:24, :].astype(float).mean(axis=(0, 1))
    assert np.array_equal(sent[1, 2, 5], np.rint(block).astype(np.uint8))
    assert thumbnails(images[:, :90, :90]) is not None
    assert decode(PredictionGridView(images[:, :90, :90], [[1.0], [1.0]], [0, 0]).images).shape == (
        2, 90, 90, 3,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("images", "labels", "said"),
    [
        (np.zeros((4, 28, 28, 3), np.uint8), [0, 1, 2], "images 4, labels 3"),
        (np.zeros((4, 28, 28, 3), np.float32), [0] * 4, "(images * 255).round().astype"),
        (np.zeros((4, 28, 28), np.uint8), [0] * 4, "np.repeat(images[..., None], 3"),
        (np.zeros((4, 3, 28, 28), np.uint8), [0] * 4, "images.transpose(0, 2, 3, 1)"),
        (np.zeros((4, 28, 28, 3), np.uint8), [0.0, 1.0, 2.0, 3.0], "labels: float64 [4]"),
        (np.zeros((4, 28, 28, 3), np.uint8), [0, 1, 12, 3], "labels: 12 is not a class"),
    ],
)
def test_bad_images_or_labels_are_refused_before_and_after_the_model(fashion, images, labels, said):
    model, processor, _, _ = fashion
    with pytest.raises(ValueError) as raised:
        aw.PredictionGrid(model, processor, images, labels)
    assert said in str(raised.value)


def test_a_text_model_or_a_model_without_a_head_is_refused_and_left_as_it_was(fashion):
    _, processor, images, labels = fashion
    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=50)).train()
    with pytest.raises(TypeError, match=r"needs an image classifier .* GPT2LMHeadModel takes text"):
        aw.PredictionGrid(gpt2, processor, images[:4], labels[:4])
    assert gpt2.training
    config = ViTConfig(num_hidden_layers=1, hidden_size=16, num_attention_heads=2,
                       intermediate_size=32, image_size=28, patch_size=4)  # fmt: skip
    trunk = ViTModel(config).train()
    state = {k: v.clone() for k, v in trunk.state_dict().items()}
    with pytest.raises(TypeError, match="gave no logits"):
        aw.PredictionGrid(trunk, processor, images[:4], labels[:4])
    assert trunk.training and all(m.training for m in trunk.modules())
    assert all(torch.equal(state[k], v) for k, v in trunk.state_dict().items())
    model = fashion[0]
    with pytest.raises(TypeError, match="needs the model's image processor"):
        aw.PredictionGrid(model, None, images[:4], labels[:4])


def test_a_training_model_runs_in_eval_and_comes_back_training(fashion):
    model, processor, images, labels = fashion
    model.train()
    try:
        grid = aw.PredictionGrid(model, processor, images[:8], labels[:8])
        assert model.training and all(m.training for m in model.modules())
    finally:
        model.eval()
    reference = aw.PredictionGrid(model, processor, images[:8], labels[:8])
    np.testing.assert_allclose(grid.probabilities, reference.probabilities, atol=1e-6)


def test_traits_are_checked_naming_the_field():
    images, probs, labels = synthetic(classes=4)
    view = PredictionGridView(images, probs, labels)
    with pytest.raises(traitlets.TraitError, match="true_class: 4 is not a class"):
        view.true_class = 4
    with pytest.raises(traitlets.TraitError, match="selected: 12 is not an image"):
        view.selected = 12
    with pytest.raises(ValueError, match="class_names: 2 names for 4 classes"):
        PredictionGridView(images, probs, labels, ["a", "b"])
    with pytest.raises(ValueError, match="k: 0"):
        PredictionGridView(images, probs, labels, k=0)
    with pytest.raises(ValueError, match="probabilities: 11 rows for 12 images"):
        PredictionGridView(images, probs[:11], labels)


def test_probabilities_computed_before_are_taken_as_they_are(grid, fashion):
    model, processor, images, labels = fashion
    probabilities = predict(model, processor, images[:20], batch_size=7)
    np.testing.assert_allclose(probabilities, grid.probabilities[:20], atol=1e-6)
    given = aw.PredictionGrid(model, processor, images[:20], labels[:20],
                              probabilities=probabilities)  # fmt: skip
    assert given.probabilities is not probabilities
    assert np.array_equal(given.probabilities, probabilities)
    with pytest.raises(ValueError, match="probabilities: 19 rows for 20 images"):
        aw.PredictionGrid(model, processor, images[:20], labels[:20],
                          probabilities=probabilities[:19])  # fmt: skip
