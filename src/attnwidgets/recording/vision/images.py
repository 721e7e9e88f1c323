"""Images in: one place turns what a user holds into ``pixel_values``, and back into pixels.

Accepted: a PIL image, an ``HxWx3`` uint8 array, a ``3xHxW`` tensor (uint8, or float in
[0, 1]), a path to an image file, or a list of these (a batch). Everything else gets an error
that says what is accepted and how to convert. Grayscale and RGBA are refused for RGB models
(no silent guess about colour or alpha); a one-channel model takes ``HxW`` / ``HxWx1``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...vision_records import UInt8Array

ACCEPTED = (
    "a PIL image, an HxWx{c} uint8 array, a {c}xHxW tensor (uint8, or float in [0, 1]), a path "
    "to an image file, or a list of these"
)


class ImageInputError(ValueError):
    """An image the model cannot take; the message says which shapes and types it accepts."""


def accepted(channels: int = 3) -> str:
    return ACCEPTED.format(c=channels)


def is_image_like(value: Any) -> bool:
    """Whether ``value`` looks like an image or a batch of images (not text)."""
    if isinstance(value, (list, tuple)):
        return bool(value) and all(is_image_like(v) for v in value)
    if isinstance(value, Path) or _is_pil(value):
        return True
    return isinstance(value, (np.ndarray, torch.Tensor)) and value.ndim >= 2


def _is_pil(value: Any) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow ships with transformers' vision extras
        return False
    return isinstance(value, Image.Image)


def as_image_list(images: Any, channels: int, patch: tuple[int, int]) -> list[UInt8Array]:
    """``images`` (one image or a list) -> uint8 ``[H, W, channels]`` arrays, one per image."""
    items = list(images) if isinstance(images, (list, tuple)) else [images]
    if not items:
        raise ImageInputError(f"an empty list: give {accepted(channels)}")
    arrays = []
    for index, item in enumerate(items):
        where = f"image {index}" if len(items) > 1 else "the image"
        array = as_array(item, channels, where)
        if array.shape[0] < patch[0] or array.shape[1] < patch[1]:
            raise ImageInputError(
                f"{where} is {array.shape[0]}x{array.shape[1]} px, smaller than one "
                f"{patch[0]}x{patch[1]} patch of this model: give an image of at least "
                f"{patch[0]}x{patch[1]} px"
            )
        arrays.append(array)
    return arrays


def as_array(image: Any, channels: int = 3, where: str = "the image") -> UInt8Array:
    """One image -> uint8 ``[H, W, channels]``, or an ``ImageInputError`` saying why not."""
    if isinstance(image, (str, Path)):
        return _from_path(Path(image), channels, where)
    if _is_pil(image):
        return _from_pil(image, channels, where)
    if isinstance(image, torch.Tensor):
        return _from_tensor(image, channels, where)
    if isinstance(image, np.ndarray):
        return _from_array(image, channels, where)
    raise ImageInputError(f"{where} is of type {type(image).__name__}; give {accepted(channels)}")


def _from_path(path: Path, channels: int, where: str) -> UInt8Array:
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise ImageInputError(f"{where}: no file at {str(path)!r}; give {accepted(channels)}")
    try:
        with Image.open(path) as opened:
            opened.load()
            return _from_pil(opened, channels, f"{where} ({path.name})")
    except UnidentifiedImageError as error:
        raise ImageInputError(
            f"{where}: {path.name} is not an image file pillow can read"
        ) from error


def _from_pil(image: Any, channels: int, where: str) -> UInt8Array:
    wanted = "RGB" if channels == 3 else "L"
    if image.mode != wanted:
        hint = (
            "drop alpha with image.convert('RGB') (or paste on a background first)"
            if "A" in image.mode
            else f"convert it with image.convert({wanted!r})"
        )
        raise ImageInputError(
            f"{where} is a PIL image in mode {image.mode!r}; this model takes {channels}-channel "
            f"images ({wanted}): {hint}"
        )
    return _from_array(np.asarray(image), channels, where)


def _from_tensor(image: torch.Tensor, channels: int, where: str) -> UInt8Array:
    shape = tuple(image.shape)
    array = image.detach().to("cpu").numpy()
    if array.ndim == 3 and shape[0] in (1, 3, 4):  # CxHxW, the torch convention
        array = np.moveaxis(array, 0, -1)
    return _from_array(array, channels, where, shape=shape)


def _from_array(
    array: Any, channels: int, where: str, shape: tuple[int, ...] | None = None
) -> UInt8Array:
    shape = shape or tuple(array.shape)
    if array.ndim == 3 and array.shape[-1] not in (1, 3, 4) and array.shape[0] in (1, 3, 4):
        array = np.moveaxis(array, 0, -1)  # a CxHxW numpy array
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] > 4):
        raise ImageInputError(_shape_message(shape, channels, where))
    found = 1 if array.ndim == 2 else array.shape[-1]
    if found != channels:
        raise ImageInputError(_channel_message(found, channels, where, shape))
    pixels = _as_uint8(np.asarray(array), where)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    result: UInt8Array = np.ascontiguousarray(pixels)
    return result


def _shape_message(shape: tuple[int, ...], channels: int, where: str) -> str:
    if len(shape) == 5:
        kind = "a video (or a batch of videos)"
    elif len(shape) == 4:
        kind = "a batch of images or a video"
    else:
        kind = "not an image shape"
    return (
        f"{where} has shape {list(shape)}, {kind}; this lens takes one image at a time, "
        f"{accepted(channels)}. For a batch pass a list (lens([image1, image2])) or "
        "pixel_values=[batch, channels, height, width]; videos are not supported"
    )


def _channel_message(found: int, channels: int, where: str, shape: tuple[int, ...]) -> str:
    if found == 1 and channels == 3:
        fix = "grayscale: repeat it, np.stack([image] * 3, axis=-1), or image.convert('RGB')"
    elif found == 4:
        fix = "RGBA: drop alpha, image[..., :3] or image.convert('RGB')"
    else:
        fix = f"{found} channels"
    return (
        f"{where} has shape {list(shape)} ({fix}); this model takes {channels}-channel images: "
        f"{accepted(channels)}"
    )


def _as_uint8(array: Any, where: str) -> UInt8Array:
    if array.dtype == np.uint8:
        result: UInt8Array = array
        return result
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.number):
        raise ImageInputError(f"{where} has dtype {array.dtype}; give uint8 pixels 0..255")
    if np.issubdtype(array.dtype, np.floating):
        finite = np.isfinite(array).all()
        if not finite or array.min() < 0.0 or array.max() > 1.0:
            raise ImageInputError(
                f"{where} is {array.dtype} with values outside [0, 1] (or NaN): give uint8 "
                "pixels 0..255, or floats in [0, 1]; for normalised tensors use pixel_values="
            )
        converted: UInt8Array = np.round(array * 255.0).astype(np.uint8)
        return converted
    if array.min() < 0 or array.max() > 255:
        raise ImageInputError(f"{where} is {array.dtype} with values outside 0..255: give uint8")
    cast: UInt8Array = array.astype(np.uint8)
    return cast


def pixel_values_of(arrays: list[UInt8Array], processor: Any, where: str) -> torch.Tensor:
    """Run the image processor on each image: ``[batch, C, H, W]`` float32; images of
    different processed sizes cannot share a batch (an error says so)."""
    if processor is None:
        raise ImageInputError(
            f"images given but no image processor: wrap the model with one, aw.wrap(model, "
            f"AutoImageProcessor.from_pretrained(path)), or pass lens(pixel_values=...) ({where})"
        )
    if not callable(processor):
        raise ImageInputError(f"the processor {type(processor).__name__} is not callable")
    tensors = []
    for index, array in enumerate(arrays):
        try:
            pixels = _process(processor, array)
        except Exception as error:
            said = str(error).splitlines()[0][:200] if str(error) else ""
            raise ImageInputError(
                f"the image processor {type(processor).__name__} could not take image {index} "
                f"(uint8 {list(array.shape)}): {type(error).__name__}: {said}"
            ) from error
        tensors.append(torch.as_tensor(pixels, dtype=torch.float32))
    shapes = {tuple(t.shape[1:]) for t in tensors}
    if len(shapes) > 1:
        raise ImageInputError(
            f"the processor made images of different sizes {sorted(shapes)}; give them one "
            "at a time, or set the processor's size so they share one"
        )
    return torch.cat(tensors)


def _process(processor: Any, array: UInt8Array) -> Any:
    """``processor(images=HxWxC)``, telling Hugging Face processors the channels come last
    (their guess fails on small or one-channel images)."""
    try:
        return processor(images=array, return_tensors="pt", input_data_format="channels_last")[
            "pixel_values"
        ]
    except TypeError as error:
        if "input_data_format" not in str(error):
            raise
    return processor(images=array, return_tensors="pt")["pixel_values"]


def check_pixel_values(pixels: Any, channels: int, patch: tuple[int, int]) -> torch.Tensor:
    """``pixel_values=`` as given: a float ``[batch, channels, H, W]`` tensor, at least a patch."""
    if not isinstance(pixels, torch.Tensor):
        raise ImageInputError(
            f"pixel_values must be a torch tensor [batch, {channels}, height, width], "
            f"not {type(pixels).__name__}"
        )
    shape = list(pixels.shape)
    if pixels.ndim == 5:
        raise ImageInputError(
            f"pixel_values has shape {shape}, a video [batch, frames, C, H, W]; this lens "
            f"takes images [batch, {channels}, height, width]"
        )
    if pixels.ndim != 4 or shape[1] != channels:
        hint = " (add the batch dimension: pixel_values[None])" if pixels.ndim == 3 else ""
        raise ImageInputError(
            f"pixel_values has shape {shape}; this model takes [batch, {channels}, height, "
            f"width]{hint}"
        )
    if shape[2] < patch[0] or shape[3] < patch[1]:
        raise ImageInputError(
            f"pixel_values is {shape[2]}x{shape[3]} px, smaller than one {patch[0]}x{patch[1]} "
            "patch of this model"
        )
    if not pixels.is_floating_point():
        raise ImageInputError(
            f"pixel_values has dtype {pixels.dtype}; give the processor's float output"
        )
    return pixels


def unnormalise(pixels: torch.Tensor, processor: Any) -> UInt8Array:
    """One ``[C, H, W]`` of pixel_values -> uint8 ``[H, W, 3]``: the processor's normalisation
    (``image_mean`` / ``image_std``) and rescale undone. Without a processor the values are
    stretched from their min..max to 0..255 (the normalisation is unknown)."""
    values = pixels.detach().to("cpu", torch.float64).numpy()
    settings = getattr(processor, "image_processor", processor)
    if settings is None:
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) / (high - low or 1.0) * 255.0
    else:
        scaled = values
        if getattr(settings, "do_normalize", False):
            mean = np.asarray(settings.image_mean, np.float64).reshape(-1, 1, 1)
            std = np.asarray(settings.image_std, np.float64).reshape(-1, 1, 1)
            scaled = scaled * std + mean
        if getattr(settings, "do_rescale", False):
            scaled = scaled / float(settings.rescale_factor)
    image = np.clip(np.round(scaled), 0, 255).astype(np.uint8).transpose(1, 2, 0)
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    result: UInt8Array = np.ascontiguousarray(image[:, :, :3])
    return result
