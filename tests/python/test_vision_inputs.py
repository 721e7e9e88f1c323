"""Images in: every accepted form gives the same run; every refused one says what is accepted."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers as tf
from PIL import Image
from vision_cases import CASES, photo

import attnwidgets as aw
from attnwidgets.recording.vision.images import ImageInputError

ACCEPTED = r"a PIL image, an HxWx3 uint8 array, a 3xHxW tensor"


@pytest.fixture(scope="module")
def lens():
    case = CASES["vit"]
    return aw.wrap(case.build(), case.processor((32, 48)))


def test_pil_path_array_and_tensors_give_the_same_run(lens, tmp_path):
    picture = photo()
    path = tmp_path / "chelsea.png"
    Image.fromarray(picture).save(path)
    reference = lens(picture)
    for given in (
        Image.fromarray(picture),
        path,
        str(path),
        torch.from_numpy(picture).permute(2, 0, 1),  # 3xHxW uint8
        torch.from_numpy(picture).permute(2, 0, 1).float() / 255.0,  # 3xHxW float in [0, 1]
        np.ascontiguousarray(picture.transpose(2, 0, 1)),  # a 3xHxW numpy array
    ):
        run = lens(given)
        assert np.array_equal(run.image, reference.image), type(given).__name__
        assert np.abs(run.attention[1] - reference.attention[1]).max() <= 1e-6


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p[:, :, 0], r"shape \[300, 451\] \(grayscale: repeat it"),
        (lambda p: p[:, :, :1], r"shape \[300, 451, 1\] \(grayscale"),
        (
            lambda p: np.concatenate([p, p[:, :, :1]], -1),
            r"\(RGBA: drop alpha, image\[\.\.\., :3\]",
        ),
        (lambda p: Image.fromarray(p).convert("RGBA"), r"mode 'RGBA'.*image.convert\('RGB'\)"),
        (lambda p: Image.fromarray(p).convert("L"), r"mode 'L'; this model takes 3-channel"),
        (lambda p: p[:5, :7], r"5x7 px, smaller than one 8x8 patch"),
        (lambda p: torch.zeros(1, 8, 3, 32, 32), r"\[1, 8, 3, 32, 32\], a video"),
        (lambda p: np.zeros((8, 32, 32, 3), np.uint8), r"a batch of images or a video.*list"),
        (lambda p: p.astype(np.float32), r"float32 with values outside \[0, 1\]"),
        (lambda p: p.astype(bool), r"dtype bool; give uint8"),
        (lambda p: np.zeros(100, np.uint8), r"shape \[100\], not an image shape"),
        (lambda p: 7, r"of type int; give " + ACCEPTED),
        (lambda p: [], r"an empty list"),
        (lambda p: "a photo of a cat", r"is a vision model and 'a photo of a cat' is text"),
        (lambda p: "missing/cat.png", r"no image file at 'missing/cat.png'"),
    ],
)
def test_bad_images_say_what_is_accepted(lens, make, message):
    lens.model.train()
    with pytest.raises(ImageInputError, match=message):
        lens(make(photo()))
    assert lens.model.training  # left as it was


@pytest.mark.parametrize(
    ("pixels", "message"),
    [
        (torch.zeros(1, 2, 3, 32, 32), r"a video \[batch, frames, C, H, W\]"),
        (torch.zeros(3, 32, 32), r"add the batch dimension: pixel_values\[None\]"),
        (torch.zeros(1, 1, 32, 32), r"takes \[batch, 3, height, width\]"),
        (torch.zeros(1, 3, 4, 4), r"4x4 px, smaller than one 8x8 patch"),
        (torch.zeros(1, 3, 32, 32, dtype=torch.uint8), r"dtype torch.uint8"),
        (np.zeros((1, 3, 32, 32), np.float32), r"must be a torch tensor"),
    ],
)
def test_bad_pixel_values_say_the_shape_expected(lens, pixels, message):
    with pytest.raises(ImageInputError, match=message):
        lens(pixel_values=pixels)


def test_an_image_the_processor_cannot_take_names_the_processor():
    case = CASES["vit"]
    processor = case.processor((32, 48))
    processor.image_mean = [0.5, 0.5]  # two channels of mean for RGB images
    with pytest.raises(ImageInputError, match=r"ViTImageProcessorPil could not take image 0"):
        aw.wrap(case.build(), processor)(photo())


def test_images_the_processor_leaves_at_different_sizes_cannot_share_a_batch():
    case = CASES["vit"]
    processor = case.processor((32, 48))
    processor.do_resize = False
    with pytest.raises(ImageInputError, match=r"different sizes"):
        aw.wrap(case.build(), processor)([photo()[:40, :48], photo()[:48, :40]])


def test_images_without_a_processor_ask_for_one():
    with pytest.raises(ImageInputError, match=r"no image processor.*pixel_values="):
        aw.wrap(CASES["vit"].build())(photo())


def test_input_ids_to_a_vision_model_are_refused():
    with pytest.raises(ImageInputError, match=r"vision model: it takes images, not input_ids"):
        aw.wrap(CASES["vit"].build())(input_ids=torch.tensor([[1, 2, 3]]))


def test_an_image_given_to_a_text_model_is_refused():
    config = tf.BertConfig(
        num_hidden_layers=1,
        hidden_size=16,
        num_attention_heads=2,
        intermediate_size=32,
        vocab_size=30,
    )
    with pytest.raises(ImageInputError, match=r"BertModel takes text, not images .*ndarray"):
        aw.wrap(tf.BertModel(config))(photo())
    with pytest.raises(ImageInputError, match=r"takes text, not images \(got Image"):
        aw.wrap(tf.BertModel(config))(Image.fromarray(photo()))


def test_an_image_alone_given_to_a_two_tower_model_points_to_its_vision_tower():
    small = dict(num_hidden_layers=1, hidden_size=16, num_attention_heads=2, intermediate_size=32)
    config = tf.CLIPConfig(
        text_config=dict(small, vocab_size=30, bos_token_id=0, eos_token_id=1, pad_token_id=1),
        vision_config=dict(small, image_size=32, patch_size=8),
        projection_dim=8,
    )
    with pytest.raises(ImageInputError, match=r"wrap its vision tower.*model.vision_model"):
        aw.wrap(tf.CLIPModel(config))(photo())


def test_a_failing_forward_leaves_the_model_as_it_was():
    case = CASES["vit"]
    model = case.build().train()
    implementation = model.config._attn_implementation
    lens = aw.wrap(model)
    with pytest.raises(ValueError, match="doesn't match model"):
        lens(pixel_values=torch.randn(1, 3, 32, 48), interpolate_pos_encoding=False)
    assert model.training
    assert model.config._attn_implementation == implementation


def test_a_one_channel_model_takes_grayscale_in_every_form_and_refuses_rgb():
    """A Fashion-MNIST-shaped ViT: 28x28 grayscale, 4x4 patches."""
    config = tf.ViTConfig(
        num_hidden_layers=1,
        num_attention_heads=2,
        hidden_size=16,
        intermediate_size=32,
        image_size=28,
        patch_size=4,
        num_channels=1,
    )
    processor = tf.ViTImageProcessorPil(
        size={"height": 28, "width": 28}, image_mean=[0.5], image_std=[0.5], do_convert_rgb=False
    )
    lens = aw.wrap(tf.ViTModel(config), processor)
    gray = photo()[:28, :28, 1]
    for given in (gray, gray[:, :, None], Image.fromarray(gray), torch.from_numpy(gray)[None]):
        run = lens(given)
        assert run.patch_grid == (7, 7)
        assert np.array_equal(run.image, np.repeat(gray[:, :, None], 3, axis=-1))
    with pytest.raises(ImageInputError, match=r"\(3 channels\); this model takes 1-channel"):
        lens(photo()[:28, :28])


def test_scores_follow_the_patch_layers(lens):
    case = CASES["siglip"]
    run = aw.wrap(case.build(), case.processor((32, 32)), scores=True)(photo())
    assert sorted(run.scores) == ["masked", "scaled", "scores"]
    assert run.scores["scaled"].shape == run.attention.shape == (2, 4, 16, 16)
