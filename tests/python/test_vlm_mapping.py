"""Image tokens mapped back to the image (issue 16), checked by a model forced to look at one
known patch.

The vision tower is made local (attention and MLP outputs zeroed, no position embeddings), so
each token's feature depends on its own pixels only. The image is black with one white patch.
Among the language model's inputs at image positions, the black tokens share one vector; a
token that differs carries the white patch (tiled families: a tile token, and global / base
tokens over the squashed, blurred image). Layer 0, head 0 of the language model is then set
so that the last text token attends (almost) only to the position holding that vector (rotary
turned off, a key along that vector, a large query). ``run.image_map`` must light exactly the
cell over the white patch: for Qwen2-VL's 2 x 2 merge and Idefics3's pixel shuffle, the lit cell
covers the merged block (2 x 2 patches of 8 px; 2 x 2 patches of 4 px).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import vlm_cases as vc

import attnwidgets as aw

_OUTPUTS = ("out_proj", "proj", "fc2", "down_proj", "o_proj")


def make_local(model: torch.nn.Module) -> None:
    """Each vision token's output depends on its own patch only."""
    with torch.no_grad():
        for path, module in model.named_modules():
            tower = any(w in path for w in ("vision_tower", "vision_model", "visual"))
            in_layers = ".layers." in path or ".blocks." in path
            if tower and in_layers and path.rsplit(".", 1)[-1] in _OUTPUTS:
                for parameter in module.parameters():
                    parameter.zero_()
            if tower and path.endswith("position_embedding"):
                for parameter in module.parameters():
                    parameter.zero_()


def language_model(model: torch.nn.Module) -> torch.nn.Module:
    for path in ("model.language_model", "model.text_model", "language_model"):
        found = model.get_submodule(path) if _has(model, path) else None
        if found is not None:
            return found
    raise AssertionError("no language model")


def _has(model: torch.nn.Module, path: str) -> bool:
    try:
        model.get_submodule(path)
    except AttributeError:
        return False
    return True


def layer0_inputs(model: torch.nn.Module, inputs: dict) -> torch.Tensor:
    """What layer 0's attention reads (after its input norm): ``[positions, hidden]``."""
    seen = []
    attention = language_model(model).layers[0].self_attn
    handle = attention.register_forward_pre_hook(
        lambda _m, args, kwargs: seen.append(
            kwargs.get("hidden_states", args[0] if args else None)
        ),
        with_kwargs=True,
    )
    try:
        with torch.no_grad():
            model(**inputs)
    finally:
        handle.remove()
    return seen[0][0].detach().clone()


def force_attention(model: torch.nn.Module, target: torch.Tensor, query: torch.Tensor) -> None:
    """Layer 0 head 0: the query whose input is ``query`` attends to the key closest in
    direction to ``target`` (no rotary; q and k along one dimension)."""
    lm = language_model(model)
    attention = lm.layers[0].self_attn
    with torch.no_grad():
        for buffer in ("inv_freq", "original_inv_freq"):
            if hasattr(lm.rotary_emb, buffer):
                getattr(lm.rotary_emb, buffer).zero_()
        for projection, row in (
            (attention.k_proj, target / target.norm()),
            (attention.q_proj, 2000.0 * query / query.norm() ** 2),
        ):
            projection.weight.zero_()
            projection.weight[0] = row
            if projection.bias is not None:
                projection.bias.zero_()


def black_with_white(height: int, width: int, box: tuple[int, int, int, int]) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    top, left, bottom, right = box
    image[top:bottom, left:right] = 255
    return image


CASES = {  # family: builder, image size, white box (pixels), view, lit cell, lit pixel block
    "llava": (vc.llava, (32, 32), (8, 16, 16, 24), "image", (1, 2), (8, 16, 16, 24)),
    "paligemma": (vc.paligemma, (32, 32), (24, 0, 32, 8), "image", (3, 0), (24, 0, 32, 8)),
    "qwen2_vl": (
        lambda: vc.qwen2_vl("2"),
        (64, 96),
        (24, 40, 32, 48),
        "image",
        (1, 2),
        (16, 32, 32, 48),
    ),
    "qwen2_5_vl": (
        lambda: vc.qwen2_vl("2.5"),
        (64, 96),
        (48, 8, 56, 16),
        "image",
        (3, 0),
        (48, 0, 64, 16),
    ),
    "idefics3": (vc.idefics3, (64, 64), (40, 12, 44, 16), "tiles", (5, 1), (40, 8, 48, 16)),
    "smolvlm": (
        lambda: vc.idefics3("smolvlm"),
        (64, 64),
        (4, 52, 8, 56),
        "tiles",
        (0, 6),
        (0, 48, 8, 56),
    ),
    "llava_next": (vc.llava_next, (32, 64), (8, 40, 16, 48), "tiles", (1, 5), (8, 40, 16, 48)),
    # 16 x 64 px is padded to the 32 x 64 resolution, then the grid's rows 0 and 3 are unpadded
    "llava_next-unpad": (vc.llava_next, (16, 64), (0, 16, 8, 24), "tiles", (0, 2), (0, 16, 8, 24)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_image_map_lights_the_patch_the_model_was_forced_to_read(name):
    build, size, box, view, cell, block = CASES[name]
    model, processor = build()
    make_local(model)
    lens = aw.wrap(model, processor)
    image = black_with_white(*size, box)
    text = "What is in the picture?"
    first = lens(image=image, text=text)
    assert first.image.shape == (*size, 3)
    assert np.array_equal(first.image, image), "the processor changed the pixels"

    ids = first.inputs["input_ids"][0]
    hidden = layer0_inputs(model, first.inputs)
    image_rows = (ids == model.config.image_token_id).nonzero().flatten()
    vectors = hidden[image_rows]
    distinct, counts = torch.unique(vectors.round(decimals=4), dim=0, return_counts=True)
    black = distinct[counts.argmax()]
    odd = [v for v in distinct if not torch.equal(v, black)]
    assert odd, "every image token is the same: the white patch did not reach the language model"

    lit_blocks = []
    for vector in odd:
        force_attention(model, vector, hidden[-1])
        run = lens(image=image, text=text)
        found = [(v.name, run.image_map(-1, 0, head=0, view=v.name)) for v in run.images[0].views]
        lit = [(v, m) for v, m in found if m.max() > 0.99]
        if not lit:  # a blurred global / base token whose direction another token shares
            continue
        assert len(lit) == 1, f"{name}: attention should land on one token"
        shown, grid = lit[0]
        assert grid.sum() > 0.99 and int((grid > 1e-3).sum()) == 1
        pixels = run.images[0].pixel_map(grid, view=shown) > 0.5
        rows, cols = np.nonzero(pixels)
        region = (rows.min(), cols.min(), rows.max() + 1, cols.max() + 1)
        top, left, bottom, right = box
        if shown != view:  # the global / base image: resized, so blur reaches its neighbours
            continue
        assert region[0] <= top and region[1] <= left and region[2] >= bottom and region[3] >= right
        lit_blocks.append(
            (
                shown,
                tuple(int(x) for x in np.unravel_index(grid.argmax(), grid.shape)),
                tuple(int(x) for x in region),
            )
        )
    assert (view, cell, block) in lit_blocks, lit_blocks
