"""Images in (issue 15): each vision family against eager attention, on real photos.

For every family built from config: ``aw.wrap(model, processor)(photo)`` records attention equal
to the eager twin's ``output_attentions`` (<= 1e-5), square and non-square, at the pre-training
size and another (position embeddings interpolated); tokens, grid and ``run.image`` (the
processor's resize / crop with the normalisation undone) are checked against independent
references. Swin's windows are checked against attention computed over the whole grid with the
window rule written independently. timm is not covered: it needs torchvision, whose wheel does
not load beside torch 2.13.0 CPU here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers as tf
from PIL import Image
from vision_cases import CASES, VISION, eager_attention, photo

import attnwidgets as aw
from attnwidgets.vision_records import patch_label


def _patches(rows: int, cols: int) -> list[str]:
    return [patch_label(r, c) for r in range(rows) for c in range(cols)]


@pytest.mark.parametrize("size", [(32, 32), (32, 48), (48, 24)])
@pytest.mark.parametrize("name", sorted(CASES))
def test_family_matches_eager_attention_on_a_photo(name, size):
    case = CASES[name]
    model = case.build()
    picture = photo("astronaut" if size == (48, 24) else "chelsea")
    run = aw.wrap(model, case.processor(size))(picture)

    expected = eager_attention(case, model, run.inputs)
    assert len(expected) == len(run.attention)
    for layer, reference in enumerate(expected):
        if case.hooks:  # Swin, Swin v2: [windows, heads, w*w, w*w] -> the stage grid
            reference = run.vision.windows[layer].to_dense(reference.numpy())
        else:
            reference = reference[0].numpy()
        assert np.abs(run.attention[layer] - reference).max() <= 1e-5, (name, layer)
        spread = np.abs(reference - reference.mean(-1, keepdims=True)).max()
        assert spread > 1e-2, f"{name}: eager attention is near uniform, the check proves little"

    patch = 2 if name.startswith("swin") else 8
    rows, cols = size[0] // patch, size[1] // patch
    assert run.patch_grid == (rows, cols)
    assert run.patch_size == (patch, patch)
    assert run.tokens == [*case.before, *_patches(rows, cols)]
    assert run.attention[0].shape[-1] == len(run.tokens)

    undone = case.processor(size)
    undone.do_rescale, undone.do_normalize = False, False
    resized = undone(images=picture, return_tensors="pt")["pixel_values"][0].permute(1, 2, 0)
    assert run.image.dtype == np.uint8 and run.image.shape == (*size, 3)
    assert np.abs(run.image.astype(np.float64) - resized.numpy()).max() <= 1.0


@pytest.mark.parametrize("name", ["vit", "deit", "beit", "swin"])
def test_logits_and_top_k_are_the_model_s_own(name):
    case = CASES[name]
    model = case.build()
    run = aw.wrap(model, case.processor((32, 48)))(photo())
    with torch.no_grad():
        logits = model(**run.inputs).logits[0]
    assert np.allclose(run.logits, logits.numpy(), atol=1e-6)
    probabilities = torch.softmax(logits.double(), -1)
    best = probabilities.argsort(descending=True)[:2].tolist()
    labels = {0: "cat", 1: "rocket", 2: "astronaut"}
    assert [label for label, _ in run.top_k(2)] == [labels[i] for i in best]
    assert [p for _, p in run.top_k(2)] == pytest.approx(probabilities[best].tolist())


def test_vit_image_is_the_bilinear_resize_of_the_photo():
    """Independent of the processor: PIL's bilinear resize, which ViT's processor uses."""
    case = CASES["vit"]
    run = aw.wrap(case.build(), case.processor((32, 48)))(photo())
    resized = np.asarray(Image.fromarray(photo()).resize((48, 32), Image.Resampling.BILINEAR))
    assert np.abs(run.image.astype(int) - resized.astype(int)).max() <= 1


def test_model_without_head_has_no_logits_and_says_so():
    case = CASES["dinov2"]
    run = aw.wrap(case.build(), case.processor((32, 32)))(photo())
    assert run.logits is None
    with pytest.raises(ValueError, match="Dinov2Model has no classification head"):
        run.top_k(3)


def test_dinov2_interpolates_positions_for_another_size_like_eager():
    """DINOv2 interpolates its position table by itself: no flag, and eager agrees."""
    case = CASES["dinov2-registers"]
    model = case.build()
    run = aw.wrap(model)(pixel_values=torch.randn(1, 3, 56, 40))
    assert "interpolate_pos_encoding" not in run.inputs
    assert run.patch_grid == (7, 5)
    assert run.tokens[:6] == ["[CLS]", "[REG0]", "[REG1]", "[REG2]", "[REG3]", "(0, 0)"]
    for layer, reference in enumerate(eager_attention(case, model, run.inputs)):
        assert np.abs(run.attention[layer] - reference[0].numpy()).max() <= 1e-5


def test_vitmae_names_the_patches_it_kept_in_their_shuffled_order():
    config = tf.ViTMAEConfig(**{**CASES["vit"].config().to_dict(), "mask_ratio": 0.5})
    model = tf.ViTMAEModel(config).eval()
    noise = torch.rand(1, 16, generator=torch.Generator().manual_seed(3))
    run = aw.wrap(model)(pixel_values=torch.randn(1, 3, 32, 32), noise=noise)
    kept = torch.argsort(noise[0])[:8].tolist()  # the MAE rule: lowest noise is kept, in order
    assert run.tokens == ["[CLS]", *(patch_label(*divmod(i, 4)) for i in kept)]
    assert run.vision.positions[1:] == [divmod(i, 4) for i in kept]


def test_siglip_keeps_its_pooling_probe_apart_from_the_layers():
    case = CASES["siglip"]
    run = aw.wrap(case.build(), case.processor((32, 48)))(photo())
    assert len(run.attention) == 2  # the encoder layers; the probe is not a square layer
    assert run.vision.pooling.shape == (4, 24)
    assert np.allclose(run.vision.pooling.sum(-1), 1.0, atol=1e-5)


def test_a_list_gives_one_run_per_image_equal_to_single_runs():
    case = CASES["deit"]
    lens = aw.wrap(case.build(), case.processor((32, 48)))
    first, second = lens([photo("chelsea"), photo("astronaut")])
    alone = lens(photo("astronaut"))
    assert second.tokens == alone.tokens
    assert np.array_equal(second.image, alone.image)
    for layer in range(len(alone.attention)):
        assert np.abs(second.attention[layer] - alone.attention[layer]).max() <= 1e-5
    assert not np.array_equal(first.image, second.image)


def test_swin_batch_splits_windows_per_image():
    case = CASES["swin"]
    lens = aw.wrap(case.build(), case.processor((32, 48)))
    runs = lens([photo("chelsea"), photo("astronaut")])
    alone = lens(photo("astronaut"))
    for layer in range(len(alone.attention)):
        assert np.abs(runs[1].attention[layer] - alone.attention[layer]).max() <= 1e-5


def test_pixel_values_without_processor_stretches_the_image_and_says_the_grid():
    case = CASES["vit"]
    pixels = torch.linspace(-1, 1, 3 * 32 * 48).reshape(1, 3, 32, 48)
    run = aw.wrap(case.build())(pixel_values=pixels)
    assert run.image.min() == 0 and run.image.max() == 255
    assert run.patch_grid == (4, 6)


def test_pixel_values_with_the_processor_undo_its_normalisation():
    case = CASES["clip"]
    processor = case.processor((32, 32))
    pixels = processor(images=photo(), return_tensors="pt")["pixel_values"]
    from_pixels = aw.wrap(case.build(), processor)(pixel_values=pixels)
    from_photo = aw.wrap(case.build(), processor)(photo())
    assert np.array_equal(from_pixels.image, from_photo.image)


def test_yolos_detection_tokens_come_after_the_patches():
    config = tf.YolosConfig(**{**VISION, "image_size": [32, 32]}, num_detection_tokens=2)
    model = tf.YolosModel(config).eval()
    run = aw.wrap(model)(pixel_values=torch.randn(1, 3, 32, 48))
    assert run.tokens == ["[CLS]", *_patches(4, 6), "[DET0]", "[DET1]"]
    twin = tf.YolosModel._from_config(config, attn_implementation="eager").eval()
    twin.load_state_dict(model.state_dict())
    with torch.no_grad():
        expected = twin(**run.inputs, output_attentions=True).attentions
    for layer, reference in enumerate(expected):
        assert np.abs(run.attention[layer] - reference[0].numpy()).max() <= 1e-5
