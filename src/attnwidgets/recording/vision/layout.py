"""Which vision transformer a model is, read from its own modules: special tokens, patch size,
the grid for a given image size, and (Swin) the window geometry each layer used."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from .images import ImageInputError

FAMILIES = "ViT, DeiT, BEiT, DINOv2 (with registers), CLIP / SigLIP vision towers, Swin, ViTMAE"


@dataclass(frozen=True)
class VisionFamily:
    """A patch-based vision transformer's layout.

    ``before`` / ``after``: special tokens around the patches, in sequence order.
    ``interpolate``: the forward takes ``interpolate_pos_encoding`` (needed for image sizes
    other than ``image_size``). ``windowed``: Swin-style window attention.
    """

    name: str
    patch_size: tuple[int, int]
    channels: int
    image_size: tuple[int, int] | None
    before: tuple[str, ...]
    after: tuple[str, ...]
    windowed: bool
    interpolate: bool

    def grid(self, height: int, width: int) -> tuple[int, int]:
        """Patch grid of an image of ``height x width`` pixels (Swin pads to whole patches)."""
        ph, pw = self.patch_size
        if self.windowed:
            return (-(-height // ph), -(-width // pw))
        return (height // ph, width // pw)


def _pair(value: Any) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        return (int(value[0]), int(value[1]))
    return (int(value), int(value))


def _takes(model: torch.nn.Module, name: str) -> bool:
    try:
        return name in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def takes_pixels_only(model: torch.nn.Module) -> bool:
    """The forward takes ``pixel_values`` and no ``input_ids`` (a vision model or tower)."""
    return _takes(model, "pixel_values") and not _takes(model, "input_ids")


def find_vision_family(model: torch.nn.Module) -> VisionFamily | None:
    """The layout of a Hugging Face vision transformer, or None for a model that does not take
    ``pixel_values`` alone (text models, two-tower and image-text models).

    Example:
        >>> from transformers import DeiTConfig, DeiTModel
        >>> model = DeiTModel(DeiTConfig(num_hidden_layers=1, hidden_size=16, num_attention_heads=2,
        ...                              intermediate_size=32, image_size=32, patch_size=8))
        >>> family = find_vision_family(model)
        >>> family.before, family.patch_size, family.grid(32, 48)
        (('[CLS]', '[DIST]'), (8, 8), (4, 6))
    """
    if not takes_pixels_only(model):
        return None
    named = dict(model.named_modules())
    conv_path = next(
        (
            path
            for path, module in named.items()
            if isinstance(module, torch.nn.Conv2d)
            and tuple(module.kernel_size) == tuple(module.stride)
            and module.padding in ((0, 0), "valid")
        ),
        None,
    )
    if conv_path is None:
        raise ImageInputError(
            f"{type(model).__name__} takes pixel_values but has no patch embedding (a Conv2d "
            "with kernel == stride): attnwidgets reads patch-based vision transformers "
            f"({FAMILIES})"
        )
    conv = named[conv_path]
    assert isinstance(conv, torch.nn.Conv2d)
    embeddings = _embeddings_of(named, conv_path)
    config: Any = getattr(model, "config", None)
    return VisionFamily(
        name=str(getattr(config, "model_type", type(model).__name__)),
        patch_size=_pair(conv.kernel_size),
        channels=int(conv.in_channels),
        image_size=_pair(config.image_size) if hasattr(config, "image_size") else None,
        before=_specials_before(embeddings),
        after=_specials_after(embeddings),
        windowed=any(is_window_layer(m) for m in named.values()),
        interpolate=_takes(model, "interpolate_pos_encoding"),
    )


def _embeddings_of(named: dict[str, torch.nn.Module], conv_path: str) -> torch.nn.Module | None:
    """The nearest ancestor of the patch convolution that holds special-token parameters."""
    parts = conv_path.split(".")
    for end in range(len(parts) - 1, -1, -1):
        module = named.get(".".join(parts[:end]))
        if module is not None and any(
            hasattr(module, name)
            for name in ("cls_token", "class_embedding", "register_tokens", "detection_tokens")
        ):
            return module
    return None


def _count(parameter: Any) -> int:
    return int(parameter.shape[1]) if parameter is not None and parameter.dim() == 3 else 0


def _specials_before(embeddings: torch.nn.Module | None) -> tuple[str, ...]:
    if embeddings is None:
        return ()
    tokens = []
    if any(getattr(embeddings, n, None) is not None for n in ("cls_token", "class_embedding")):
        tokens.append("[CLS]")
    if getattr(embeddings, "distillation_token", None) is not None:
        tokens.append("[DIST]")
    registers = _count(getattr(embeddings, "register_tokens", None))
    tokens += [f"[REG{i}]" for i in range(registers)]
    return tuple(tokens)


def _specials_after(embeddings: torch.nn.Module | None) -> tuple[str, ...]:
    detections = _count(getattr(embeddings, "detection_tokens", None))
    return tuple(f"[DET{i}]" for i in range(detections))


def is_window_layer(module: torch.nn.Module) -> bool:
    """A Swin-style block: pads, rolls by ``shift_size`` and attends in ``window_size`` windows."""
    return all(hasattr(module, name) for name in ("window_size", "shift_size", "maybe_pad")) and (
        hasattr(module, "get_attn_mask") or hasattr(module, "cyclic_shift")
    )


@dataclass(frozen=True)
class WindowCall:
    """What one Swin block did in a forward: its grid, window and shift after clamping."""

    path: str
    grid: tuple[int, int]
    window: int
    shift: int


@contextmanager
def window_geometry(model: torch.nn.Module) -> Iterator[list[WindowCall]]:
    """Record each window block's input grid, window and shift during the forward (the
    block clamps its window to small grids in place, so they are read after it ran)."""
    calls: list[WindowCall] = []
    pending: dict[int, tuple[str, tuple[int, int]]] = {}
    handles = []

    def before(module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        dims: Any = args[1] if len(args) > 1 else kwargs.get("input_dimensions")
        pending[id(module)] = (paths[id(module)], (int(dims[0]), int(dims[1])))

    def after(module: Any, *_: Any) -> None:
        path, grid = pending.pop(id(module))
        calls.append(WindowCall(path, grid, int(module.window_size), int(module.shift_size)))

    paths = {id(m): p for p, m in model.named_modules() if is_window_layer(m)}
    try:
        for module in model.modules():
            if id(module) in paths:
                handles.append(module.register_forward_pre_hook(before, with_kwargs=True))
                handles.append(module.register_forward_hook(after))
        yield calls
    finally:
        for handle in handles:
            handle.remove()
