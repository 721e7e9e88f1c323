"""Images and text in: ``lens(image=img, text=...)`` on a vision-language model.

``vlm_call`` is what ``Lens.__call__`` asks first: a ``VLMRun`` for a VLM (LLaVA, LLaVA-NeXT,
Idefics3 / SmolVLM, Qwen2-VL / Qwen2.5-VL, PaliGemma, BLIP-2, CLIP / SigLIP dual encoders),
None for other models, and a clear error for an image given to a text-only model.
``vlm_generate`` is what ``Lens.generate`` asks first: greedy generation streamed like text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from .lens import Lens, check_length
from .recording.attention.generation import AttentionCall
from .recording.vision.images import ImageInputError, is_image_like
from .recording.vision.layout import FAMILIES, takes_pixels_only
from .recording.vision.vlm_layout import SUPPORTED, VLMFamily, describe, find_vlm_family
from .recording.vision.vlm_towers import Towers, split_towers
from .records import AttentionRecord
from .run import Run, dense_record
from .vision_records import HeadChoice, UInt8Array
from .vlm_inputs import vlm_inputs
from .vlm_records import TEXT, ImagePosition, VLMImage, VLMInfo

if TYPE_CHECKING:
    from .recording import Capture
    from .stacks import Stack

_KINDS = ("probability", "scores", "scaled", "masked")


@dataclass
class VLMRun(Run):
    """A ``Run`` of a vision-language model on one prompt with its images.

    ``tokens`` names image positions ``<img 0 (r, c)>`` (``<img 0 global (r, c)>`` for a second
    view, ``<img 0 [CLS]>``, ``<img 0 newline 3>``, ``<img 0 query 5>``); ``modality`` is
    ``"text"`` / ``"image"`` per position; ``image_positions`` maps image tokens to
    ``ImagePosition(image, row, col, view)``; ``images`` holds each image as the model saw it;
    ``image_map(query, layer, head)`` is a text token's attention over the image.
    ``attention`` holds the vision tower's layers for its first input, the Q-Former's (BLIP-2)
    and the language model's (``run.stacks`` splits them); ``vision_attention(i)`` gives the
    tower's layers for input ``i`` (a tile, or another image).
    """

    vlm: VLMInfo | None = field(default=None, repr=False)
    towers: Towers | None = field(default=None, repr=False)
    text_layers: list[int] = field(default_factory=list, repr=False)
    prompt_tokens: list[list[str]] = field(default_factory=list, repr=False)
    """Dual encoders: the labels of each text prompt (padding left out); ``towers.text[p]``
    holds prompt ``p``'s layers."""

    def _info(self) -> VLMInfo:
        if self.vlm is None:
            raise ValueError("this run has no image layout")
        return self.vlm

    @property
    def modality(self) -> list[str]:
        """``"text"`` or ``"image"`` per position (generated tokens are text)."""
        own = self._info().modality
        return own + [TEXT] * (len(self.tokens) - len(own))

    @property
    def image_positions(self) -> dict[int, ImagePosition]:
        """Sequence index -> ``(image, row, col, view)`` for every image token on a grid."""
        return self._info().positions

    @property
    def images(self) -> list[VLMImage]:
        return self._info().images

    @property
    def image(self) -> UInt8Array | None:
        """The first image as the model saw it, uint8 ``[H, W, 3]`` (None without an image)."""
        images = self._info().images
        return images[0].image if images else None

    def vision_attention(self, index: int = 0, kind: str = "probability") -> AttentionRecord:
        """The vision tower's layers ``[heads, N, N]`` for tower input ``index`` (``vlm.vision
        [index]`` names its positions; ``vlm.vision_images[index]`` is its image)."""
        towers = self.towers
        if towers is None or not towers.vision:
            raise ValueError("this run recorded no vision tower")
        if not 0 <= index < len(towers.vision):
            raise IndexError(f"vision input {index} out of range: 0..{len(towers.vision) - 1}")
        return towers.vision[index][kind]

    def image_map(
        self,
        query: int,
        layer: int,
        head: HeadChoice = "mean",
        image: int = 0,
        view: str | None = None,
    ) -> Any:
        """``[rows, cols]``: how much position ``query`` attends to each token of ``image``
        (in ``view``, default its finest grid) in language-model layer ``layer`` (0 = the
        language model's first), one head or ``"mean"`` / ``"max"`` / ``"min"`` over heads.

        Example:
            >>> run.image_map(query=-1, layer=1, head="mean").shape  # doctest: +SKIP
            (7, 7)
        """
        info = self._info()
        if not info.positions:
            raise ValueError(self._no_map_reason())
        if not -len(self.text_layers) <= layer < len(self.text_layers):
            raise IndexError(
                f"layer {layer} out of range: the language model has layers "
                f"0..{len(self.text_layers) - 1}"
            )
        weights = self.attention[self.text_layers[layer]]
        return info.image_map(weights, query % weights.shape[1], head, image, view)

    def widget(self, layer: int = 0, head: int = 0) -> Any:
        """The tabs of ``Run.widget`` plus "Cross-modal", "Features" and, for CLIP / SigLIP,
        "Prompts" (``vlm_views``)."""
        shown = super().widget(layer=layer, head=head)
        if self.vlm is None:
            return shown
        from .vlm_views import with_vlm_tabs

        return with_vlm_tabs(self, shown)

    def _no_map_reason(self) -> str:
        family = self._info().family
        if family in ("clip", "siglip"):
            return (
                f"{family} is a dual encoder: its text tower never attends to the image (no "
                "cross attention); compare the towers' embeddings instead"
            )
        if family == "blip-2":
            return (
                "BLIP-2's language model attends to the Q-Former's query tokens, which have no "
                "place on the image; the queries' attention to patches is run.stacks['qformer "
                "cross']"
            )
        return "this run has no image tokens (no image was given)"

    @property
    def stacks(self) -> dict[str, Stack]:
        """``vision`` (the tower's first input, patches named), ``qformer`` / ``qformer cross``
        (BLIP-2) and ``text`` (the language model, image tokens named)."""
        from .stacks import label_stacks, split_stacks

        info = self._info()
        labels: dict[str, list[str]] = {"text": self.tokens, "tokens": self.tokens}
        if info.vision:
            labels["vision"] = info.vision[0].tokens
        queries = [t for t, m in zip(info.tokens, info.modality, strict=True) if "query" in t]
        if queries:
            labels["qformer"] = queries
        generated_from = len(self.tokens) - len(self.generated) + 1 if self.generated else -1
        return label_stacks(
            split_stacks(dense_record(self.attention), self.scores),
            labels,
            missing=self._missing_labels(),
            generated_from=generated_from,
        )


def vlm_call(lens: Lens, text: Any, inputs: dict[str, Any]) -> Any:
    """``lens(image=..., text=...)`` / ``lens(**processor(...))`` on a VLM -> ``VLMRun``;
    None for other models (an ``image=`` given to them is answered here)."""
    family = find_vlm_family(lens.model)
    image = inputs.pop("image", None)
    if image is None:
        image = inputs.pop("images", None)
    if family is None:
        if image is None:
            return None  # lens(img) on a ViT or a text model: vision_call answers
        if takes_pixels_only(lens.model):  # a ViT: lens(image=img) as lens(img)
            from .vision_run import vision_call

            return vision_call(lens, image, inputs)
        raise ImageInputError(_not_a_vlm(lens.model))
    if image is None and text is not None and not isinstance(text, str) and is_image_like(text):
        image, text = text, None  # lens(img): the image given first
    if (
        "pixel_values" not in inputs
        and "input_ids" not in inputs
        and image is None
        and text is None
    ):
        return None
    model_inputs = vlm_inputs(lens, family, text, image, inputs)
    labels = lens._labels(model_inputs)
    info = describe(family, lens.model, model_inputs, lens.tokenizer, labels)
    with lens._capturing() as (cap, notes):
        outputs = lens.model(**model_inputs)
    run = _run(lens, family, cap, info, model_inputs, outputs, text)
    run.notes = notes
    return run


def _not_a_vlm(model: torch.nn.Module) -> str:
    name = type(model).__name__
    return (
        f"{name} takes no images (image= given): wrap a vision-language model ({SUPPORTED}) "
        f"with its processor, or a vision transformer ({FAMILIES}) with its image processor"
    )


def _kinds(cap: Capture) -> list[str]:
    return [k for k in _KINDS if k in cap.kinds]


def _run(
    lens: Lens,
    family: VLMFamily,
    cap: Capture,
    info: VLMInfo,
    inputs: dict[str, Any],
    outputs: Any,
    text: Any,
    sequences: torch.Tensor | None = None,
) -> VLMRun:
    calls: list[AttentionCall] = cap.calls
    if not calls or cap.unsupported:
        cap.records()  # raises the capture's own explanation
    kinds = _kinds(cap)
    lengths = [len(v.tokens) for v in info.vision]
    towers = split_towers(calls, kinds, lengths)
    prompts: list[list[str]] = []
    if family.dual:  # several texts, padded to one length: each prompt without its padding
        towers, info, prompts = _unpadded_prompts(lens, towers, info, inputs)
    parts = [towers.vision[0] if towers.vision else {}, *towers.qformer[:1], *towers.text[:1]]
    records = {
        kind: AttentionRecord(
            [layer for part in parts if kind in part for layer in part[kind]],
            [name for part in parts if kind in part for name in part[kind].layer_names],
            kind=kind,
        )
        for kind in kinds
    }
    text_count = len(towers.text[0]["probability"]) if towers.text else 0
    total = len(records["probability"])
    tokens = list(info.tokens)
    generated: list[str] = []
    if sequences is not None:  # generation: the prompt's labels, then the tokens fed so far
        prompt = int(inputs["input_ids"].shape[-1])
        fed = int(records["probability"][-1].shape[1]) if total else prompt
        generated = lens._labels({"input_ids": sequences[:, prompt:]})
        tokens = tokens + generated[: max(fed - prompt, 0)]
    return VLMRun(
        tokens,
        records.pop("probability"),
        inputs,
        outputs if sequences is None else sequences,
        lens.model,
        lens._norms(cap) if sequences is None else None,
        records,
        lens=lens,
        text=_text(lens, text, inputs, sequences),
        generated=generated,
        qkv=lens._qkv(cap),
        vlm=info,
        towers=towers,
        text_layers=list(range(total - text_count, total)),
        prompt_tokens=prompts,
    )


def _unpadded_prompts(
    lens: Lens, towers: Towers, info: VLMInfo, inputs: dict[str, Any]
) -> tuple[Towers, VLMInfo, list[list[str]]]:
    """Dual encoders: each prompt's text-tower records and labels without padded positions."""
    ids = inputs["input_ids"]
    mask = inputs.get("attention_mask")
    keep = [
        (mask[p] if mask is not None else torch.ones_like(ids[p])).bool().numpy()
        for p in range(ids.shape[0])
    ]
    prompts = [
        [t for t, k in zip(lens._labels({"input_ids": ids[p]}), keep[p], strict=True) if k]
        for p in range(ids.shape[0])
    ]
    text = [
        {
            kind: AttentionRecord(
                [layer[:, kept][:, :, kept] for layer in record], record.layer_names, kind=kind
            )
            for kind, record in per_kind.items()
        }
        for per_kind, kept in zip(towers.text, keep, strict=True)
    ]
    cut = VLMInfo.build(info.family, prompts[0], {}, [], None, info.vision, info.vision_images)
    return Towers(towers.vision, towers.qformer, text), cut, prompts


def _text(lens: Lens, text: Any, inputs: dict[str, Any], sequences: Any) -> str | None:
    if sequences is not None:
        return lens._decode(sequences)
    return text if isinstance(text, str) else lens._decode(inputs.get("input_ids"))


def _text_side(model: torch.nn.Module) -> torch.nn.Module:
    """A stand-in named like ``model`` whose config is its language model's (for
    ``check_length``: the limit is ``text_config.max_position_embeddings``)."""
    stand_in: torch.nn.Module = type(type(model).__name__, (torch.nn.Module,), {})()
    config: Any = getattr(model, "config", None)
    stand_in.config = config.get_text_config() if hasattr(config, "get_text_config") else config
    return stand_in


def vlm_generate(
    lens: Lens,
    text: str | None,
    inputs: dict[str, Any],
    max_new_tokens: int,
    view: Any = None,
    stream: bool = False,
    on_step: Callable[[Run, int], None] | None = None,
) -> VLMRun | None:
    """``lens.generate(image=..., text=...)`` on a VLM (greedy, KV cache); None for other
    models. Each new token is handed to ``view`` / ``stream`` / ``on_step`` as a ``VLMRun`` of
    what was fed so far, as for text."""
    from .streaming import StepStreamer, step_callbacks

    family = find_vlm_family(lens.model)
    if family is None:
        if "image" in inputs or "images" in inputs:
            raise ImageInputError(_not_a_vlm(lens.model))
        return None
    image = inputs.pop("image", None)
    if image is None:
        image = inputs.pop("images", None)
    model_inputs = vlm_inputs(lens, family, text, image, inputs)
    labels = lens._labels(model_inputs)
    info = describe(family, lens.model, model_inputs, lens.tokenizer, labels)
    check_length(_text_side(lens.model), model_inputs, max_new_tokens)
    callbacks = step_callbacks(view, stream, on_step, max_new_tokens)

    def step(ids: torch.Tensor) -> None:
        run = _run(lens, family, cap, info, model_inputs, None, text, ids)
        callbacks(run, len(run.generated))

    try:
        with lens._capturing(norms=False) as (cap, notes):
            streamer = StepStreamer(step)
            sequences = lens.model.generate(  # type: ignore[operator]
                **model_inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                streamer=streamer if callbacks else None,
            )
            run = _run(lens, family, cap, info, model_inputs, None, text, sequences)
            run.notes = notes
    except Exception as error:
        callbacks.fail(error)
        raise
    callbacks.finish(run)
    return run
