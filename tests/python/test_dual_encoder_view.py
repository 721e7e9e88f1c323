"""The Prompts view of CLIP / SigLIP runs: scores are the model's own (softmax over prompts for
CLIP, a sigmoid per prompt for SigLIP), patch maps against a hand computation from the weights
(CLIP) and against the model's pooling head run on one patch at a time (SigLIP)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import traitlets
import vlm_cases as vc

import attnwidgets as aw
from attnwidgets.vlm_features import prompt_maps
from attnwidgets.widgets.vlm import DualEncoderView

PROMPTS = ["a cat", "a dog on a mat", "<img src=x onerror=alert(1)>"]


def dual_run(kind: str) -> Any:
    model, processor = vc.dual(kind)
    return aw.wrap(model, processor)(image=vc.photo("chelsea", (32, 32)), text=PROMPTS)


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_clip_scores_and_patch_maps() -> None:
    run = dual_run("clip")
    maps = prompt_maps(run)
    logits = run.outputs.logits_per_image[0].detach().numpy()
    assert maps.kind == "softmax" and maps.prompts == PROMPTS
    assert np.allclose(maps.scores, np.exp(logits) / np.exp(logits).sum(), atol=1e-6)
    assert np.allclose(maps.logits, logits)
    model = run.model
    hidden = run.outputs.vision_model_output.last_hidden_state[0, 1:].detach().numpy()
    ln = model.vision_model.post_layernorm
    w, b = ln.weight.detach().numpy(), ln.bias.detach().numpy()
    normed = (hidden - hidden.mean(-1, keepdims=True)) / np.sqrt(
        hidden.var(-1, keepdims=True) + ln.eps
    ) * w + b
    patches = unit(normed @ model.visual_projection.weight.detach().numpy().T)
    text = unit(run.outputs.text_embeds.detach().numpy())
    assert maps.maps.shape == (3, 4, 4)
    assert np.allclose(maps.maps.reshape(3, 16), text @ patches.T, atol=1e-5)
    assert maps.logit_scale == pytest.approx(float(model.logit_scale.detach().exp()))


def test_siglip_scores_and_patches_through_its_own_pooling_head() -> None:
    run = dual_run("siglip")
    maps = prompt_maps(run)
    logits = run.outputs.logits_per_image[0].detach().numpy()
    assert maps.kind == "sigmoid"
    assert np.allclose(maps.scores, 1 / (1 + np.exp(-logits)), atol=1e-6)
    hidden = run.outputs.vision_model_output.last_hidden_state[0]
    text = unit(run.outputs.text_embeds.detach().numpy())
    with torch.no_grad():
        for cell in (0, 5, 15):  # the head on a one-patch sequence: the probe sees only it
            alone = run.model.vision_model.head(hidden[None, cell : cell + 1]).numpy()[0]
            expected = text @ unit(alone)
            assert np.allclose(maps.maps.reshape(3, 16)[:, cell], expected, atol=1e-5)
    assert maps.logit_bias == pytest.approx(float(run.model.logit_bias.detach()))


def test_view_state_and_checks() -> None:
    maps = prompt_maps(dual_run("clip"))
    view = DualEncoderView(maps)
    assert view.prompt == int(np.argmax(maps.scores))
    assert view.prompts == PROMPTS and view.grid == [4, 4] and view.score_kind == "softmax"
    assert view.score_note.startswith("softmax over the prompts of ")
    values = np.frombuffer(bytes(view.maps["value"]), np.float32).reshape(3, 4, 4)
    assert np.array_equal(values, maps.maps)
    assert view.maps["lo"] == pytest.approx(float(maps.maps.min()))
    with pytest.raises(traitlets.TraitError, match=r"prompt: 3 is out of range; valid: 0\.\.2"):
        view.prompt = 3
    with pytest.raises(TypeError, match="DualEncoderView takes PromptMaps"):
        DualEncoderView(np.zeros(3))  # type: ignore[arg-type]


def test_prompt_maps_refuse_models_that_are_not_dual_encoders() -> None:
    model, processor = vc.llava()
    run = aw.wrap(model, processor)(image=vc.photo("chelsea", (32, 32)), text="What is it?")
    with pytest.raises(ValueError, match=r"prompt maps are for dual encoders .* this run is llava"):
        prompt_maps(run)
