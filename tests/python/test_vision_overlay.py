"""The overlay: a query's attention drawn over the image lights exactly the patch it attends to.

The model is a real ViT whose first layer's weights are set so that [CLS] attends to the one
white patch of an otherwise black image: the patch embedding sums the pixels into channel 0, so
after LayerNorm the white patch's key is ``-key`` of every black patch; every query is the same
large multiple of the white patch's key. Nothing in attnwidgets knows where the patch is.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from vision_cases import CASES

import attnwidgets as aw
from attnwidgets.vision_records import VisionInfo


def _one_patch_vit() -> torch.nn.Module:
    model = CASES["vit"].build()
    with torch.no_grad():
        embeddings = model.vit.embeddings
        embeddings.cls_token.zero_()
        embeddings.position_embeddings.zero_()
        conv = embeddings.patch_embeddings.projection
        conv.weight.zero_()
        conv.bias.zero_()
        conv.weight[0] = 1.0  # channel 0 = sum of the patch's normalised pixels
        block = model.vit.layers[0]
        block.layernorm_before.weight.fill_(1.0)
        block.layernorm_before.bias.zero_()
        attention = block.attention
        attention.k_proj.weight.copy_(torch.eye(32))
        attention.k_proj.bias.zero_()
        white_key = block.layernorm_before(torch.eye(32)[0])  # LN of a positive channel 0
        attention.q_proj.weight.zero_()
        attention.q_proj.bias.copy_(200.0 * white_key)
    return model


@pytest.mark.parametrize("patch", [(0, 0), (2, 5), (3, 1)])
def test_cls_attention_over_the_image_lights_exactly_the_white_patch(patch):
    image = np.zeros((32, 48, 3), np.uint8)
    row, col = patch
    image[row * 8 : (row + 1) * 8, col * 8 : (col + 1) * 8] = 255
    processor = CASES["vit"].processor((32, 48))
    run = aw.wrap(_one_patch_vit(), processor)(image)

    expected = np.zeros((4, 6), np.float32)
    expected[patch] = 1.0
    for head in (0, 3, "mean", "max"):
        grid_map = run.vision.query_map(run.attention[0], query=0, head=head)
        assert np.abs(grid_map - expected).max() < 1e-4, head
    assert run.vision.special_share(run.attention[0][0, 0]) == {"[CLS]": pytest.approx(0, abs=1e-4)}

    pixels = run.vision.pixel_map(run.vision.query_map(run.attention[0], 0))
    assert pixels.shape == (32, 48)
    lit = pixels > 0.5
    assert np.array_equal(lit, image[:, :, 0] == 255)  # the same pixels, not one more


def test_pixel_map_leaves_pixels_no_patch_covers_dark():
    """A 30x21 image with 8x8 patches: a 3x2 grid covers 24x16 pixels; the rest stay 0."""
    info = VisionInfo.build("vit", np.zeros((30, 21, 3), np.uint8), (3, 2), (8, 8), ["[CLS]"])
    pixels = info.pixel_map(np.ones((3, 2), np.float32))
    assert pixels.shape == (30, 21)
    assert pixels[:24, :16].min() == 1.0
    assert pixels[24:].max() == 0.0 and pixels[:, 16:].max() == 0.0


def test_to_map_refuses_a_row_of_the_wrong_length():
    info = VisionInfo.build("vit", None, (2, 2), (8, 8), ["[CLS]"])
    with pytest.raises(ValueError, match=r"layer None has 5 positions"):
        info.to_map(np.zeros(4))
