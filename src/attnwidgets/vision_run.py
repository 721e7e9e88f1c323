"""Images in: ``lens(image)`` / ``lens(pixel_values=...)`` on a vision transformer.

``vision_call`` is what ``Lens.__call__`` asks first: it returns a ``VisionRun`` (a list of
them for a list of images or a batch of pixel_values), or None when the call is not for an
image model, and raises a clear error for an image given to a text-only model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .lens import Lens
from .recording import Capture, CaptureError
from .recording.vision.images import (
    ImageInputError,
    accepted,
    as_image_list,
    check_pixel_values,
    is_image_like,
    pixel_values_of,
    unnormalise,
)
from .recording.vision.layout import (
    FAMILIES,
    VisionFamily,
    WindowCall,
    find_vision_family,
    window_geometry,
)
from .records import AttentionRecord
from .run import Run
from .vision_records import FloatArray, UInt8Array, VisionInfo, WindowLayout, top_k

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".ppm"}


@dataclass
class VisionRun(Run):
    """A ``Run`` of one image: ``vision`` says how the image became the sequence.

    ``run.image`` uint8 ``[H, W, 3]`` as the model saw it; ``run.patch_grid`` ``(rows, cols)``;
    ``run.patch_size``; ``run.tokens`` (``[CLS]``, ``[DIST]``, ``[REG0]``..., ``(r, c)``);
    ``run.logits`` ``[classes]`` (None without a classification head); ``run.top_k(k)``.
    ``outputs`` is the model's output for the whole batch the image was part of.
    """

    vision: VisionInfo | None = field(default=None, repr=False)
    logits: FloatArray | None = field(default=None, repr=False)

    def _info(self) -> VisionInfo:
        if self.vision is None:
            raise ValueError("this run has no vision layout")
        return self.vision

    @property
    def image(self) -> UInt8Array | None:
        return self._info().image

    @property
    def patch_grid(self) -> tuple[int, int]:
        return self._info().patch_grid

    @property
    def patch_size(self) -> tuple[int, int]:
        return self._info().patch_size

    def widget(self, layer: int = 0, head: int = 0) -> Any:
        """The tabs of ``Run.widget`` plus "Image attention" and "Patching" (``vision_views``)."""
        shown = super().widget(layer=layer, head=head)
        if self.vision is None:
            return shown
        from .vision_views import with_vision_tabs

        return with_vision_tabs(self, shown, layer, head)

    def top_k(self, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` most probable labels (``config.id2label``) with their probabilities."""
        if self.logits is None:
            name = type(self.model).__name__ if self.model is not None else "the model"
            raise ValueError(
                f"{name} has no classification head (no logits): wrap a model "
                "...ForImageClassification to get predictions"
            )
        config = getattr(self.model, "config", None)
        return top_k(self.logits, getattr(config, "id2label", None), k)


def vision_call(
    lens: Lens, image: Any, inputs: dict[str, Any]
) -> VisionRun | list[VisionRun] | None:
    """``lens(image)`` or ``lens(pixel_values=...)`` on a vision model; None otherwise."""
    family = find_vision_family(lens.model)
    if family is None:
        if image is not None and not isinstance(image, str) and is_image_like(image):
            raise ImageInputError(_not_an_image_model(lens.model, image))
        return None
    if "input_ids" in inputs:
        raise ImageInputError(
            f"{type(lens.model).__name__} is a vision model: it takes images, not input_ids"
        )
    return _run_images(lens, family, image, dict(inputs))


def _not_an_image_model(model: torch.nn.Module, image: Any) -> str:
    name = type(model).__name__
    shape = f" {list(image.shape)}" if hasattr(image, "shape") else ""
    if "pixel_values" in _parameters(model):
        return (
            f"{name} takes text and images together: give both as tensors from its processor, "
            "lens(**processor(text=..., images=..., return_tensors='pt')), or wrap its vision "
            "tower (e.g. aw.wrap(model.vision_model, image_processor))"
        )
    return (
        f"{name} takes text, not images (got {type(image).__name__}{shape}): wrap a vision "
        f"transformer ({FAMILIES}) with its image processor, aw.wrap(model, image_processor)"
    )


def _parameters(model: torch.nn.Module) -> set[str]:
    import inspect

    try:
        return set(inspect.signature(model.forward).parameters)
    except (TypeError, ValueError):
        return set()


def _run_images(
    lens: Lens, family: VisionFamily, image: Any, inputs: dict[str, Any]
) -> VisionRun | list[VisionRun]:
    name = type(lens.model).__name__
    given = inputs.pop("pixel_values", None)
    if image is not None and given is not None:
        raise ImageInputError("give an image, lens(image), or pixel_values=..., not both")
    if isinstance(image, str):
        looks_like_path = Path(image).suffix.lower() in _IMAGE_SUFFIXES or "/" in image
        if not Path(image).is_file() and looks_like_path:
            raise ImageInputError(f"no image file at {image!r} ({name} is a vision model)")
        if not Path(image).is_file():
            raise ImageInputError(
                f"{name} is a vision model and {image[:40]!r} is text, not an image file: "
                f"give {accepted(family.channels)}, or pixel_values=..."
            )
        image = Path(image)
    if image is not None:
        arrays = as_image_list(image, family.channels, family.patch_size)
        pixels = pixel_values_of(arrays, lens.tokenizer, name)
        batched = isinstance(image, (list, tuple))
    elif given is not None:
        pixels = given
        batched = int(getattr(given, "shape", (1,))[0]) > 1
    else:
        raise ImageInputError(f"give an image, lens(image), or pixel_values=... ({name})")
    pixels = check_pixel_values(pixels, family.channels, family.patch_size)
    height, width = int(pixels.shape[-2]), int(pixels.shape[-1])
    if family.interpolate and family.image_size not in (None, (height, width)):
        inputs.setdefault("interpolate_pos_encoding", True)
    # the lens's own capture: eval only while no other thread runs the model (see Lens)
    with lens._capturing() as (cap, notes), window_geometry(lens.model) as windows:
        outputs = lens.model(pixel_values=pixels, **inputs)
    runs = [
        _one_run(lens, family, cap, windows, outputs, pixels, inputs, b)
        for b in range(pixels.shape[0])
    ]
    for run in runs:
        run.notes = list(notes)
    return runs if batched else runs[0]


def _one_run(
    lens: Lens,
    family: VisionFamily,
    cap: Capture,
    windows: list[WindowCall],
    outputs: Any,
    pixels: torch.Tensor,
    inputs: dict[str, Any],
    item: int,
) -> VisionRun:
    image = unnormalise(pixels[item], lens.tokenizer)
    grid = family.grid(int(pixels.shape[-2]), int(pixels.shape[-1]))
    calls = cap.calls
    if not calls or cap.unsupported:
        cap.records()  # raises the capture's own explanation
    if family.windowed:
        info, kinds = _windowed(family, cap, windows, image, grid, item, pixels.shape[0])
    else:
        info, kinds = _global(family, cap, outputs, image, grid, item)
    logits = getattr(outputs, "logits", None)
    return VisionRun(
        info.tokens,
        kinds.pop("probability"),
        {"pixel_values": pixels[item : item + 1], **inputs},
        outputs,
        lens.model,
        cap.norms if lens.capture_options.get("norms") else None,
        kinds,
        lens=lens,
        vision=info,
        logits=None if logits is None else logits[item].detach().float().numpy(),
    )


def _kinds(cap: Capture) -> list[str]:
    return [k for k in ("probability", "scores", "scaled", "masked") if k in cap.kinds]


def _global(
    family: VisionFamily,
    cap: Capture,
    outputs: Any,
    image: UInt8Array,
    grid: tuple[int, int],
    item: int,
) -> tuple[VisionInfo, dict[str, AttentionRecord]]:
    """Every layer attends over the whole sequence; a pooling probe (SigLIP) is kept apart."""
    calls = cap.calls
    first = calls[0].kept["probability"]
    length = int(first.shape[-1])
    square = [c for c in calls if tuple(c.kept["probability"].shape[-2:]) == (length, length)]
    probes = [c for c in calls if c.kept["probability"].shape[-2] == 1 and c not in square]
    order = None
    restore = getattr(outputs, "ids_restore", None)
    if restore is not None:  # ViTMAE: a random subset of patches, shuffled
        kept = length - len(family.before) - len(family.after)
        order = torch.argsort(restore[item])[:kept].tolist()
    expected = len(family.before) + len(family.after) + (len(order) if order else grid[0] * grid[1])
    if expected != length:
        raise CaptureError(
            f"the {family.name} layout ({'+'.join(family.before) or 'no specials'}, "
            f"{grid[0]}x{grid[1]} patches) gives {expected} positions, but the attention has "
            f"{length}; the positions cannot be named"
        )
    pooling = probes[-1].kept["probability"][item, :, 0].numpy() if probes else None
    info = VisionInfo.build(
        family.name,
        image,
        grid,
        family.patch_size,
        family.before,
        family.after,
        order,
        pooling=pooling,
    )
    names = [c.name for c in square]
    records = {
        kind: AttentionRecord([c.kept[kind][item].numpy() for c in square], names, kind=kind)
        for kind in _kinds(cap)
    }
    return info, records


def _windowed(
    family: VisionFamily,
    cap: Capture,
    windows: list[WindowCall],
    image: UInt8Array,
    grid: tuple[int, int],
    item: int,
    batch: int,
) -> tuple[VisionInfo, dict[str, AttentionRecord]]:
    """Swin: each layer's windows mapped back to its stage grid, as dense ``[heads, N, N]``."""
    layouts: list[WindowLayout | None] = []
    grids, cells, layers, names = [], [], [], []
    for call in cap.calls:
        found = [w for w in windows if call.name.startswith(f"{w.path}.")]
        if not found:
            raise CaptureError(f"{call.name}: no window block recorded its geometry")
        geometry = found[-1]
        layout = WindowLayout(geometry.grid, geometry.window, geometry.shift)
        weights = call.kept["probability"]
        if weights.shape[0] != batch * layout.windows:
            raise CaptureError(
                f"{call.name}: {weights.shape[0]} windows recorded, the layout gives "
                f"{batch} x {layout.windows}"
            )
        per_image = weights.reshape(batch, layout.windows, *weights.shape[1:])[item]
        layers.append(layout.to_dense(per_image.numpy()))
        layouts.append(layout)
        grids.append(geometry.grid)
        cells.append(_cell(family.patch_size, grid, geometry.grid))
        names.append(call.name)
    info = VisionInfo.build(
        family.name,
        image,
        grid,
        family.patch_size,
        layer_grids=grids,
        layer_cells=cells,
        windows=layouts,
    )
    return info, {"probability": AttentionRecord(layers, names)}


def _cell(patch: tuple[int, int], first: tuple[int, int], grid: tuple[int, int]) -> tuple[int, int]:
    """Pixels per cell of a stage grid: the patch doubled once per merge ((n + 1) // 2)."""
    rows, cols, merges = first[0], first[1], 0
    while rows > grid[0] or cols > grid[1]:
        rows, cols, merges = (rows + 1) // 2, (cols + 1) // 2, merges + 1
    return (patch[0] * 2**merges, patch[1] * 2**merges)
