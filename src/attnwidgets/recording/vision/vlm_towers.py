"""A VLM capture's attention calls, sorted into towers and per vision input.

The vision tower sees every tile or image of a prompt at once: as a batch (LLaVA, Idefics3,
PaliGemma, BLIP-2, CLIP), or concatenated and cut per image (Qwen2-VL calls the attention
once per image, Qwen2.5-VL once per window in its windowed layers). ``split_towers`` gives one
record per tower input (windows put back as a dense ``[heads, N, N]``, zero across windows),
the Q-Former's layers (BLIP-2) and the language model's (or the text tower's) layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ...records import AttentionRecord
from ...stacks import path_role
from ..attention.generation import AttentionCall, is_generation, merge_steps
from ..session import CaptureError

_FILL = {"probability": 0.0}


@dataclass
class Towers:
    """``vision[i]``: kind -> record of tower input ``i``; ``qformer`` and ``text``: kind ->
    record of every prompt (index ``[p]`` of the batch)."""

    vision: list[dict[str, AttentionRecord]]
    qformer: list[dict[str, AttentionRecord]]
    text: list[dict[str, AttentionRecord]]


def tower_of(name: str) -> str:
    """``vision``, ``qformer`` or ``text`` (the language model or a text tower)."""
    tower, _ = path_role(name)
    return tower if tower in ("vision", "qformer") else "text"


def split_towers(calls: list[AttentionCall], kinds: list[str], inputs: list[int]) -> Towers:
    """``inputs``: the length of each vision-tower input's sequence (its tokens), in order."""
    groups: dict[str, list[AttentionCall]] = {"vision": [], "qformer": [], "text": []}
    for call in calls:
        groups[tower_of(call.name)].append(call)
    text = groups["text"]
    if is_generation(text):  # chunked vision calls keep the capture from merging the steps
        text = merge_steps(text)
    return Towers(
        _vision(groups["vision"], kinds, inputs),
        _batched(groups["qformer"], kinds),
        _batched(text, kinds),
    )


def _batched(calls: list[AttentionCall], kinds: list[str]) -> list[dict[str, AttentionRecord]]:
    if not calls:
        return []
    names = [c.name for c in calls]
    batch = int(calls[0].kept["probability"].shape[0])
    return [
        {k: AttentionRecord([c.kept[k][b].numpy() for c in calls], names, kind=k) for k in kinds}
        for b in range(batch)
    ]


def _vision(
    calls: list[AttentionCall], kinds: list[str], inputs: list[int]
) -> list[dict[str, AttentionRecord]]:
    by_module: dict[str, list[AttentionCall]] = {}
    for call in calls:
        if call.queries == 1 and call.keys != 1:
            continue  # a pooling probe (SigLIP's head): no layer of the sequence
        by_module.setdefault(call.name, []).append(call)
    per_input: list[dict[str, list[np.ndarray]]] = [{k: [] for k in kinds} for _ in inputs]
    names = list(by_module)
    for name, parts in by_module.items():
        for kind in kinds:
            for index, layer in enumerate(_per_input(name, parts, kind, inputs)):
                per_input[index][kind].append(layer)
    return [{k: AttentionRecord(layers[k], names, kind=k) for k in kinds} for layers in per_input]


def _per_input(
    name: str, parts: list[AttentionCall], kind: str, inputs: list[int]
) -> list[np.ndarray]:
    """One ``[heads, N, N]`` per tower input from a module's calls in one forward."""
    if len(parts) == 1 and parts[0].kept[kind].shape[0] == len(inputs) > 0:
        block = parts[0].kept[kind]
        if all(n == block.shape[-1] for n in inputs):
            return [block[i].numpy() for i in range(len(inputs))]
    if all(p.kept[kind].shape[0] == 1 for p in parts):  # one call per image or per window
        sizes = [p.queries for p in parts]
        if sum(sizes) == sum(inputs):
            return _dense(parts, kind, inputs)
    shapes = [tuple(p.kept[kind].shape) for p in parts]
    raise CaptureError(
        f"{name}: recorded calls {shapes} do not fit vision inputs of {inputs} tokens"
    )


def _dense(parts: list[AttentionCall], kind: str, inputs: list[int]) -> list[np.ndarray]:
    """Calls over consecutive chunks of the concatenated inputs -> one dense block per input."""
    fill = _FILL.get(kind, float("-inf"))
    heads = int(parts[0].kept[kind].shape[1])
    blocks = []
    call = 0
    for length in inputs:
        dense = torch.full((heads, length, length), fill, dtype=parts[0].kept[kind].dtype)
        row = 0
        while row < length:
            chunk = parts[call].kept[kind][0]
            size = int(chunk.shape[-1])
            if row + size > length:
                raise CaptureError("a vision attention call spans two images")
            dense[:, row : row + size, row : row + size] = chunk
            row += size
            call += 1
        blocks.append(dense.numpy())
    return blocks
