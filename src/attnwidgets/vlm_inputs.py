"""Text and images in for a vision-language model: the processor's chat template, the checks.

``vlm_inputs(lens, family, text, images, tensors)`` returns the tensors the model takes: those
given (``lens(**processor(...))``), or the processor's output for ``lens(image=..., text=...)``
(the text put in the processor's chat template as a user message holding the images, with
``add_generation_prompt=True``). Errors name what was expected: an image missing, more images
than placeholders, a processor from another model.
"""

from __future__ import annotations

from typing import Any

import torch

from .recording.vision.images import as_image_list
from .recording.vision.vlm_layout import VLMFamily, VLMInputError

_DROPPED = ("labels",)  # PaliGemma's processor adds labels; the lens shows attention, not loss


def image_token_of(processor: Any) -> str | None:
    """The placeholder string the processor expands into image tokens (``<image>``)."""
    token = getattr(processor, "image_token", None)
    return str(getattr(token, "content", token)) if token is not None else None


def check_processor(family: VLMFamily, model: torch.nn.Module, processor: Any) -> Any:
    """The processor, or a ``VLMInputError`` when it cannot make this model's inputs: none, a
    bare tokenizer (no image processor), or one whose image token is not the model's."""
    name = type(model).__name__
    if processor is None:
        raise VLMInputError(
            f"images and text given but no processor: wrap the model with its processor, "
            f"aw.wrap(model, AutoProcessor.from_pretrained(path)), or pass its tensors, "
            f"lens(**processor(images=..., text=..., return_tensors='pt')) ({name})"
        )
    if getattr(processor, "image_processor", None) is None:
        raise VLMInputError(
            f"{name} ({family.name}) needs its processor (an image processor and a tokenizer), "
            f"not {type(processor).__name__}: aw.wrap(model, AutoProcessor.from_pretrained(path))"
        )
    expected = family.image_token_id
    tokenizer = getattr(processor, "tokenizer", None)
    token = image_token_of(processor)
    if expected is not None and tokenizer is not None and token is not None:
        found = tokenizer.convert_tokens_to_ids(token)
        if found != expected:
            raise VLMInputError(
                f"the processor ({type(processor).__name__}) is not {name}'s: its image token "
                f"{token!r} has id {found}, the model's image token id is {expected} "
                f"(config.image_token_id). Use the processor saved with the model"
            )
    return processor


def check_ids(family: VLMFamily, model: torch.nn.Module, inputs: dict[str, Any]) -> None:
    """Tensors given: one prompt (dual encoders: any number of texts), ids the model knows,
    an image when the ids hold image tokens or the model needs one."""
    name = type(model).__name__
    ids = inputs.get("input_ids")
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2:
        raise VLMInputError(
            f"{name} takes input_ids [1, tokens] (give text, or the processor's tensors)"
        )
    if ids.shape[0] != 1 and not family.dual:
        raise VLMInputError(
            f"{name}: input_ids hold {ids.shape[0]} prompts; this lens reads one prompt at a "
            "time (call it once per prompt)"
        )
    vocab = _vocabulary(model)
    if vocab is not None and ids.numel() and int(ids.max()) >= vocab:
        raise VLMInputError(
            f"input_ids hold id {int(ids.max())} but {name} has {vocab} token embeddings: the "
            "tokenizer or processor is not this model's"
        )
    pixels = inputs.get("pixel_values")
    if family.image_token_id is not None and pixels is None:
        count = int((ids == family.image_token_id).sum())
        if count:
            raise VLMInputError(
                f"the text holds {count} image tokens (id {family.image_token_id}) but no image "
                f"was given: lens(image=..., text=...) or pixel_values=... ({name})"
            )
    if pixels is None and family.needs_image:
        raise VLMInputError(
            f"{name} ({family.name}) needs an image with the text: lens(image=img, text=...)"
        )
    if (
        pixels is not None
        and family.image_token_id is not None
        and not bool((ids == family.image_token_id).any())
    ):
        raise VLMInputError(
            f"an image was given but input_ids hold no image token (id "
            f"{family.image_token_id}, config.image_token_id): the text was not made by "
            f"{name}'s processor, or lacks its image placeholder"
        )


def _vocabulary(model: torch.nn.Module) -> int | None:
    """How many token embeddings the language model (or text tower) has, if it says."""
    try:
        embeddings = model.get_input_embeddings()  # type: ignore[operator]
    except (AttributeError, NotImplementedError, TypeError):
        return None
    count = getattr(embeddings, "num_embeddings", None)
    return count if isinstance(count, int) else None


def vlm_inputs(
    lens: Any, family: VLMFamily, text: Any, images: Any, tensors: dict[str, Any]
) -> dict[str, Any]:
    """The model's inputs for ``lens(image=..., text=...)`` or ``lens(**tensors)``."""
    model = lens.model
    if images is None and text is None:
        inputs = dict(tensors)
    else:
        if "input_ids" in tensors or "pixel_values" in tensors:
            raise VLMInputError("give image= and text=, or the processor's tensors, not both")
        if family.dual and (text is None or images is None):
            raise VLMInputError(
                f"{type(model).__name__} is a dual encoder: it compares an image with text; give "
                "both, lens(image=img, text='a photo of a cat') (text may be a list of prompts), "
                "or wrap its vision tower alone, aw.wrap(model.vision_model, image_processor)"
            )
        processor = check_processor(family, model, lens.tokenizer)
        inputs = {**_process(family, model, processor, text, images), **tensors}
    for key in _DROPPED:
        inputs.pop(key, None)
    check_ids(family, model, inputs)
    return inputs


def _process(
    family: VLMFamily, model: torch.nn.Module, processor: Any, text: Any, images: Any
) -> dict[str, Any]:
    name = type(model).__name__
    pictures = [] if images is None else as_image_list(images, 3, (1, 1))  # uint8 [H, W, 3]
    if family.dual:
        prompts = [text] if isinstance(text, str) else list(text)
        encoded = processor(images=pictures, text=prompts, padding=True, return_tensors="pt")
        return dict(encoded)
    if text is not None and not isinstance(text, str):
        raise VLMInputError(
            f"{name}: text must be one str (one prompt at a time), not {type(text).__name__}"
        )
    if not pictures and family.needs_image:
        raise VLMInputError(f"{name} ({family.name}) needs an image: lens(image=img, text=...)")
    prompt = _prompt(family, processor, text or "", len(pictures))
    placeholder = image_token_of(processor)
    if not pictures and placeholder and placeholder in prompt:
        raise VLMInputError(
            f"the text holds {prompt.count(placeholder)} {placeholder!r} placeholder(s) but no "
            f"image was given: lens(image=img, text=...) ({name})"
        )
    if pictures and placeholder and family.kind not in ("blip-2",):
        written = prompt.count(placeholder)
        if written and written != len(pictures):
            raise VLMInputError(
                f"{len(pictures)} image(s) given but the text holds {written} {placeholder!r} "
                f"placeholder(s): give one image per placeholder ({name})"
            )
    call: dict[str, Any] = {"text": prompt, "return_tensors": "pt"}
    if pictures:
        call["images"] = pictures
    try:
        encoded = processor(**call)
    except (ValueError, TypeError) as error:
        raise VLMInputError(
            f"the processor {type(processor).__name__} refused the text and {len(pictures)} "
            f"image(s): {str(error).splitlines()[0][:240]}"
        ) from error
    return dict(encoded)


def _prompt(family: VLMFamily, processor: Any, text: str, images: int) -> str:
    """The text as the model expects it: verbatim when it already holds the image
    placeholder; else in the chat template (a user turn with the images then the text, and the
    assistant's turn opened); PaliGemma: the image tokens first; BLIP-2 and others without a
    template: the text (their processor adds the image tokens)."""
    placeholder = image_token_of(processor)
    if placeholder and placeholder in text:
        return text
    template = getattr(processor, "chat_template", None)
    if template:
        content: list[dict[str, str]] = [{"type": "image"} for _ in range(images)]
        if text:
            content.append({"type": "text", "text": text})
        messages = [{"role": "user", "content": content}]
        return str(processor.apply_chat_template(messages, add_generation_prompt=True))
    if family.name == "paligemma" and placeholder:
        return placeholder * images + text
    return text
