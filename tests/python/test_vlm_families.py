"""Vision-language models (issue 16): each family against transformers' eager attention.

Every family is built from a small config with a processor assembled offline and run on a real
photo with ``aw.wrap(model, processor)(image=photo, text=...)``. The eager twin (same weights,
``attn_implementation="eager"``) runs the same inputs; the weights each of its
``eager_attention_forward`` calls returns are the reference, for the vision tower (every
tile / image; Qwen2.5-VL's windows), BLIP-2's Q-Former and the language model (also against
its ``output_attentions``). Max abs difference <= 1e-5 everywhere.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import vlm_cases as vc

import attnwidgets as aw
from attnwidgets.recording.vision.vlm_towers import tower_of

FAMILIES = {
    "llava": (vc.llava, ("clip", "llama")),
    "llava-full": (lambda: vc.llava("full"), ("clip", "llama")),
    "llava_next": (vc.llava_next, ("clip", "llama")),
    "idefics3": (vc.idefics3, ("idefics3", "llama")),
    "smolvlm": (lambda: vc.idefics3("smolvlm"), ("smolvlm", "llama")),
    "qwen2_vl": (lambda: vc.qwen2_vl("2"), ("qwen2_vl",)),
    "qwen2_5_vl": (lambda: vc.qwen2_vl("2.5"), ("qwen2_5_vl",)),
    "paligemma": (vc.paligemma, ("siglip", "gemma")),
    "blip-2": (vc.blip2, ("blip_2", "opt")),
    "clip": (vc.dual, ("clip",)),
    "siglip": (lambda: vc.dual("siglip"), ("siglip",)),
}
TEXT = {"clip": ["a photo of a cat", "an astronaut"], "siglip": ["a cat", "an astronaut"]}


def eager_reference(model, modules, inputs):
    """Per tower: module path -> the weights of each of its eager calls, in call order."""
    twin = vc.eager_twin(model)
    with vc.eager_weights(twin, modules) as kept, torch.no_grad():
        out = twin(**inputs, output_attentions=True)
    towers: dict[str, dict[str, list[torch.Tensor]]] = {"vision": {}, "qformer": {}, "text": {}}
    for path, weights in kept:
        towers[tower_of(path)].setdefault(path, []).append(weights)
    return towers, out


def vision_reference(calls: list[torch.Tensor], sizes: list[int]) -> list[np.ndarray]:
    """One module's eager calls -> ``[heads, N, N]`` per tower input: a batch of inputs, or
    consecutive chunks (per image, per window) laid on the diagonal, zero elsewhere."""
    if len(calls) == 1 and calls[0].shape[0] == len(sizes):
        return [calls[0][i].numpy() for i in range(len(sizes))]
    blocks, call = [], 0
    for size in sizes:
        dense = np.zeros((calls[0].shape[1], size, size), np.float32)
        row = 0
        while row < size:
            chunk = calls[call][0].numpy()
            dense[:, row : row + chunk.shape[-1], row : row + chunk.shape[-1]] = chunk
            row, call = row + chunk.shape[-1], call + 1
        blocks.append(dense)
    return blocks


def worst(ours: np.ndarray, reference: np.ndarray) -> float:
    assert ours.shape == reference.shape
    return float(np.abs(ours - reference).max())


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_matches_eager_in_every_tower(name):
    build, modules = FAMILIES[name]
    model, processor = build()
    text = TEXT.get(name, "What is in the picture?")
    run = aw.wrap(model, processor)(image=vc.photo("astronaut", (60, 90)), text=text)
    towers, out = eager_reference(model, modules, run.inputs)
    assert towers["vision"] and towers["text"]
    diffs = []

    sizes = [len(v.tokens) for v in run.vlm.vision]
    assert len(run.towers.vision) == len(sizes) >= 1
    for layer, calls in enumerate(towers["vision"].values()):
        for index, reference in enumerate(vision_reference(calls, sizes)):
            diffs.append(worst(run.vision_attention(index)[layer], reference))
    assert len(run.vision_attention(0)) == len(towers["vision"])

    stacks = run.stacks
    if name == "blip-2":
        qformer = [stacks["qformer"].record, stacks["qformer cross"].record]
        expected = [c[0][0] for c in towers["qformer"].values()]
        ours = [qformer[0][0], qformer[1][0], qformer[0][1]]  # self 0, cross 0, self 1
        diffs += [worst(o, r.numpy()) for o, r in zip(ours, expected, strict=True)]

    text_calls = list(towers["text"].values())
    prompts = len(run.towers.text)
    assert len(run.text_layers) == len(text_calls)
    for layer, calls in enumerate(text_calls):
        assert len(calls) == 1
        for prompt in range(prompts):
            ours = run.towers.text[prompt]["probability"][layer]
            reference = calls[0][prompt].numpy()
            if name in TEXT:  # dual encoders: each prompt without its padding
                kept = run.inputs["attention_mask"][prompt].bool().numpy()
                reference = reference[:, kept][:, :, kept]
            diffs.append(worst(ours, reference))
        assert np.array_equal(
            run.attention[run.text_layers[layer]], run.towers.text[0]["probability"][layer]
        )
    lm = getattr(out, "text_model_output", None)
    lm_attentions = (lm.attentions if lm is not None else None) or getattr(out, "attentions", None)
    if name == "blip-2":
        lm_attentions = out.language_model_outputs.attentions
    if lm_attentions and name not in TEXT:
        for layer, reference in enumerate(lm_attentions):
            diffs.append(worst(run.attention[run.text_layers[layer]], reference[0].numpy()))
    assert max(diffs) <= 1e-5, (name, max(diffs))
    spread = max(float((c[0] - c[0].mean(-1, keepdim=True)).abs().max()) for c in text_calls[0])
    assert spread > 1e-2, f"{name}: eager attention is near uniform, the check proves little"
