"""Hidden states of a VLM run's modules at image positions, and a dual encoder's patch maps.

The torch side of the Features and Prompts tabs (``widgets/`` gets numpy only):

- ``module_features(run, modules)``: runs the run's model again on the run's inputs with the
  named modules' outputs recorded (paths, or globs where ``*`` is one path part:
  ``"model.language_model.layers.*"`` is the layers), and lays them on the image: a
  ``FeatureSet``.
- ``default_modules(run)``: every block of the vision tower and of the language model (the
  parents of the attention modules the run recorded).
- ``prompt_maps(run)``: CLIP / SigLIP, the similarity of each text prompt to each patch in
  the joint space, and the zero-shot scores.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from .feature_records import FeatureSet, ModuleFeatures, PromptMaps, Surface
from .recording.vision.vlm_towers import tower_of
from .vision_records import UInt8Array, VisionInfo
from .vlm_records import TEXT


def _info(run: Any, what: str) -> Any:
    info = getattr(run, "vlm", None)
    if info is None:
        tokens = getattr(run, "tokens", None) or []
        shown = f" (tokens {', '.join(map(repr, tokens[:3]))}...)" if tokens else ""
        raise TypeError(
            f"{what} needs a vision-language run, lens(image=..., text=...) on a VLM (LLaVA, "
            f"Qwen2-VL, Idefics3, PaliGemma, BLIP-2, CLIP...); got {type(run).__name__}{shown}, "
            "which has no image tokens"
        )
    return info


def default_modules(run: Any) -> list[str]:
    """The blocks of the vision tower (its first input's layers) and of the language model
    whose hidden states can be drawn: parents of the attention modules the run recorded.

    Example:
        >>> default_modules(run)[:2]  # doctest: +SKIP
        ['model.vision_tower.encoder.layers.0', 'model.vision_tower.encoder.layers.1']
    """
    info = _info(run, "default_modules")
    names = run.attention.layer_names or []
    out: list[str] = []
    for name in names:
        parent = name.rsplit(".", 1)[0] if "." in name else name
        tower = tower_of(name)
        if tower == "qformer" or (tower == "text" and not info.positions):
            continue  # no place on the image (Q-Former queries; a text tower; BLIP-2's LM)
        if parent not in out:
            out.append(parent)
    return out


def split_names(modules: str | Iterable[str]) -> list[str]:
    """``"a.*, b.0"`` or a list -> ``["a.*", "b.0"]`` (commas and white space separate).

    Example:
        >>> split_names("model.layers.*,  vision.blocks.0")
        ['model.layers.*', 'vision.blocks.0']
    """
    items = [modules] if isinstance(modules, str) else list(modules)
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"modules are paths or globs (str), not {type(item).__name__}")
        out += [part for part in re.split(r"[,\s]+", item) if part]
    if not out:
        raise ValueError("modules: give at least one module path or glob")
    return out


def expand_names(model: torch.nn.Module, names: list[str]) -> list[str]:
    """Globs where ``*`` stands for one path part: ``model.language_model.layers.*`` is the
    layers, not every module inside them. A glob that matches no path that way is kept as it
    is (a capture's ``modules=`` glob, where ``*`` spans parts); other names are kept.

    Example:
        >>> from collections import OrderedDict
        >>> block = lambda: torch.nn.Sequential(OrderedDict(mlp=torch.nn.Linear(2, 2)))
        >>> model = torch.nn.Sequential(OrderedDict(layers=torch.nn.Sequential(block(), block())))
        >>> expand_names(model, ["layers.*", "layers.*.mlp", "*mlp"])
        ['layers.0', 'layers.1', 'layers.0.mlp', 'layers.1.mlp', '*mlp']
    """
    paths = [path for path, _ in model.named_modules() if path]
    out: list[str] = []
    for name in names:
        if not any(c in name for c in "*?["):
            out.append(name)
            continue
        parts = name.split(".")
        found = [
            path
            for path in paths
            if len(path.split(".")) == len(parts)
            and all(fnmatch.fnmatchcase(p, q) for p, q in zip(path.split("."), parts, strict=True))
        ]
        out += found or [name]
    return list(dict.fromkeys(out))


def _sequence_inputs(run: Any) -> dict[str, Any]:
    """The run's inputs; after a generation, the prompt and every token fed."""
    inputs = dict(run.inputs)
    if run.generated and isinstance(run.outputs, torch.Tensor):
        ids = run.outputs[:, : len(run.tokens)]
        inputs["input_ids"] = ids
        inputs["attention_mask"] = torch.ones_like(ids)
    return inputs


def record_outputs(run: Any, modules: str | Iterable[str]) -> dict[str, torch.Tensor]:
    """``{path: output}`` of the modules ``modules`` selects, from one more forward of the
    run's model on its inputs (eval, no grad; the model is left as it was)."""
    lens = getattr(run, "lens", None)
    if lens is None or run.model is None:
        raise ValueError(
            "the run has no lens to run its model again: make it with aw.wrap(model, "
            "processor)(image=..., text=...)"
        )
    names = expand_names(run.model, split_names(modules))
    override: dict[str, Any] = dict(
        attention=False, scores=False, norms=False, qkv=False, residual=False, layers=None
    )
    with lens._capturing(modules=names, **override) as (cap, _notes):
        run.model(**_sequence_inputs(run))
    assert cap.modules is not None
    return dict(cap.modules.outputs)


def module_features(run: Any, modules: str | Iterable[str] | None = None) -> FeatureSet:
    """The hidden states of ``modules`` (default: ``default_modules(run)``) on the run's
    images: a ``FeatureSet`` (``feature_records``). Modules whose output has no place on the
    image (a projector's, the Q-Former's) are listed in ``skipped`` with the reason.

    Example:
        >>> fs = module_features(run, "model.language_model.layers.*")  # doctest: +SKIP
        >>> fs.pca_rgb(0, 0)[0].shape  # doctest: +SKIP
        (7, 7, 3)
    """
    info = _info(run, "module_features")
    names = default_modules(run) if modules is None else split_names(modules)
    outputs = record_outputs(run, names)
    images, surfaces = _surfaces(run, info)
    lengths = [len(v.tokens) for v in info.vision]
    kept: list[ModuleFeatures] = []
    skipped: dict[str, str] = {}
    for path, tensor in outputs.items():
        tower = "vision" if tower_of(path) == "vision" else "text"
        hidden, why = _hidden(tensor, tower, lengths, len(run.tokens), bool(info.positions))
        if hidden is None:
            skipped[path] = why
        else:
            kept.append(ModuleFeatures(path, tower, hidden))
    if not kept:
        reasons = "; ".join(f"{path}: {why}" for path, why in list(skipped.items())[:4])
        raise ValueError(
            f"modules {names!r}: no output can be laid on the image ({reasons}). Pick blocks of "
            "the vision tower or of the language model (e.g. default_modules(run))"
        )
    return FeatureSet(kept, surfaces, images, list(run.tokens), list(run.modality), skipped)


def _hidden(
    tensor: torch.Tensor, tower: str, lengths: list[int], sequence: int, has_grid: bool
) -> tuple[np.ndarray | None, str]:
    shape = tuple(tensor.shape)
    if not tensor.is_floating_point():
        return None, f"its output is {tensor.dtype}, not hidden states"
    if tower == "vision":
        total = sum(lengths)
        if tensor.ndim == 3 and shape[0] == len(lengths) and all(n == shape[1] for n in lengths):
            return tensor.reshape(total, shape[2]).float().numpy(), ""
        if tensor.ndim == 2 and shape[0] == total:
            return tensor.float().numpy(), ""
        if tensor.ndim == 3 and shape[0] == 1 and shape[1] == total:
            return tensor[0].float().numpy(), ""
        return None, (
            f"output {list(shape)} does not match the vision tower's {len(lengths)} input(s) of "
            f"{lengths} positions"
        )
    if not has_grid:
        return None, "the language model's sequence has no image tokens on a grid"
    if tensor.ndim == 3 and shape[0] == 1 and shape[1] == sequence:
        return tensor[0].float().numpy(), ""
    return None, f"output {list(shape)} is not [1, {sequence}, dim] (the language model's sequence)"


def _surfaces(run: Any, info: Any) -> tuple[list[UInt8Array], list[Surface]]:
    images: list[UInt8Array] = []

    def image_index(image: UInt8Array | None, grid: tuple[int, int]) -> int:
        if image is None:
            image = np.full((grid[0] * 8, grid[1] * 8, 3), 128, np.uint8)
        for index, seen in enumerate(images):
            if seen is image or (seen.shape == image.shape and np.array_equal(seen, image)):
                return index
        images.append(image)
        return len(images) - 1

    surfaces: list[Surface] = []
    for image in info.images:  # the language model's image tokens, per image and view
        for view in image.views:
            index = np.full(view.grid[0] * view.grid[1], -1, np.int64)
            for position, (r, c) in info.grid_index(image.index, view.name).items():
                index[r * view.grid[1] + c] = position
            if not (index >= 0).any():
                continue  # BLIP-2: the language model reads query tokens, not patches
            name = f"image {image.index}" + (f" · {view.name}" if len(image.views) > 1 else "")
            surfaces.append(Surface(name, TEXT, image_index(image.image, view.grid), view.grid,
                                    index))  # fmt: skip
    offset = 0
    counts = {i: info.vision_images.count(i) for i in set(info.vision_images)}
    seen: dict[int, int] = {}
    for j, vision in enumerate(info.vision):
        owner = info.vision_images[j] if j < len(info.vision_images) else 0
        k = seen[owner] = seen.get(owner, -1) + 1
        surfaces.append(_vision_surface(vision, owner, k, counts.get(owner, 1), offset, info,
                                        image_index))  # fmt: skip
        offset += len(vision.tokens)
    return images, surfaces


def _vision_surface(
    vision: VisionInfo, owner: int, k: int, count: int, offset: int, info: Any, image_index: Any
) -> Surface:
    rows, cols = vision.patch_grid
    index = np.full(rows * cols, -1, np.int64)
    for position, cell in enumerate(vision.positions):
        if cell is not None:
            index[cell[0] * cols + cell[1]] = offset + position
    names = info.images[owner].tile_names if owner < len(info.images) else ()
    part = names[k] if k < len(names) else f"input {k}"
    name = f"image {owner}" + (f" · {part}" if count > 1 else "")
    return Surface(name, "vision", image_index(vision.image, (rows, cols)), (rows, cols), index)


def prompt_maps(run: Any) -> PromptMaps:
    """CLIP / SigLIP: each prompt's cosine similarity to each patch in the joint space
    ``[prompts, rows, cols]``, and the zero-shot scores (CLIP: softmax over the prompts of the
    logits ``logit_scale * cos``; SigLIP: a sigmoid per prompt of ``logit_scale * cos +
    logit_bias``), from the run's own outputs.

    Patch embeddings: CLIP ``visual_projection(post_layernorm(patch))``, the path its [CLS]
    token takes; SigLIP: its pooling head applied to each patch alone (the pooled embedding
    when the probe attends to that patch only).
    """
    info = _info(run, "prompt_maps")
    if info.family not in ("clip", "siglip"):
        raise ValueError(
            f"prompt maps are for dual encoders (CLIP, SigLIP); this run is {info.family}, whose "
            "text reads the image through attention (see the Cross-modal tab)"
        )
    model, outputs = run.model, run.outputs
    vision = info.vision[0]
    hidden = outputs.vision_model_output.last_hidden_state[0]  # [N, d]
    cells = [(i, p) for i, p in enumerate(vision.positions) if p is not None]
    with torch.no_grad():
        patches = hidden[[i for i, _ in cells]]
        if info.family == "clip":
            embeds = model.visual_projection(model.vision_model.post_layernorm(patches))
        else:
            embeds = model.vision_model.head(patches[:, None, :])  # each patch alone: [P, d]
        embeds = torch.nn.functional.normalize(embeds.float(), dim=-1)
        text = torch.nn.functional.normalize(outputs.text_embeds.float(), dim=-1)
        cos = (text @ embeds.mT).numpy()  # [P, patches]
        logits = outputs.logits_per_image[0].float()
        scores = logits.softmax(-1) if info.family == "clip" else torch.sigmoid(logits)
    rows, cols = vision.patch_grid
    maps = np.full((cos.shape[0], rows * cols), np.nan, np.float32)
    for column, (_, (r, c)) in enumerate(cells):
        maps[:, r * cols + c] = cos[:, column]
    scale = float(model.logit_scale.detach().exp())
    bias = float(model.logit_bias.detach()) if hasattr(model, "logit_bias") else None
    image = vision.image
    if image is None:
        image = np.full(
            (rows * vision.patch_size[0], cols * vision.patch_size[1], 3), 128, np.uint8
        )
    return PromptMaps(
        prompts=_prompt_texts(run),
        maps=maps.reshape(-1, rows, cols),
        scores=scores.numpy().astype(np.float32),
        logits=logits.numpy().astype(np.float32),
        kind="softmax" if info.family == "clip" else "sigmoid",
        logit_scale=scale,
        logit_bias=bias,
        image=image,
        family=info.family,
    )


def _prompt_texts(run: Any) -> list[str]:
    """Each prompt as text (decoded without padding and special tokens)."""
    tokenizer = getattr(getattr(run, "lens", None), "tokenizer", None)
    tokenizer = getattr(tokenizer, "tokenizer", tokenizer)  # a processor's tokenizer
    ids, mask = run.inputs.get("input_ids"), run.inputs.get("attention_mask")
    if tokenizer is None or ids is None or not hasattr(tokenizer, "decode"):
        return ["".join(tokens) for tokens in run.prompt_tokens]
    out = []
    for p in range(ids.shape[0]):
        kept = ids[p] if mask is None else ids[p][mask[p].bool()]
        out.append(str(tokenizer.decode(kept.tolist(), skip_special_tokens=True)))
    return out
