"""What a vision transformer makes of each patch before attention, as numpy (for the Patching view).

``patch_embeddings(model, inputs)``: the patch projection's output ``[rows, cols, dim]``, read
by a forward hook on the patch convolution (a ``Conv2d`` with kernel == stride) during a forward
that stops right after it, so the rest of the model does not run. The hook is removed in
``finally``; the model is left as it was.

``position_embeddings(model, grid, image_size)``: the absolute position embedding of every patch
``[rows, cols, dim]`` for that grid, interpolated by the model's own
``interpolate_pos_encoding`` when the grid differs from the table's (DINOv2 at 518 px, ViT at
other sizes), or a sentence saying why there is none (BEiT and Swin use a relative bias).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

FloatArray = npt.NDArray[np.float32]


class _Stop(Exception):
    """Raised by the hook once the patch projection ran: the rest of the forward is skipped."""


def patch_projection(model: torch.nn.Module) -> tuple[str, torch.nn.Conv2d]:
    """The patch-embedding convolution (kernel == stride, no padding) and its dotted path.

    Example:
        >>> from transformers import ViTConfig, ViTModel
        >>> vit = ViTModel(ViTConfig(num_hidden_layers=1, hidden_size=16, num_attention_heads=2,
        ...                          intermediate_size=32, image_size=16, patch_size=8))
        >>> patch_projection(vit)[0]
        'embeddings.patch_embeddings.projection'
    """
    for path, module in model.named_modules():
        if (
            isinstance(module, torch.nn.Conv2d)
            and tuple(module.kernel_size) == tuple(module.stride)
            and module.padding in ((0, 0), "valid")
        ):
            return path, module
    raise ValueError(
        f"{type(model).__name__} has no patch embedding (a Conv2d with kernel == stride): "
        "the Patching view reads patch-based vision transformers"
    )


def patch_embeddings(model: torch.nn.Module, inputs: Mapping[str, Any]) -> FloatArray:
    """The patch projection's output for the first image of ``inputs``: ``[rows, cols, dim]``.

    ``inputs`` are the model's keyword arguments (``run.inputs``: ``pixel_values`` and, for
    other image sizes, ``interpolate_pos_encoding``).

    Example:
        >>> import torch
        >>> from transformers import ViTConfig, ViTModel
        >>> vit = ViTModel(ViTConfig(num_hidden_layers=1, hidden_size=16, num_attention_heads=2,
        ...                          intermediate_size=32, image_size=16, patch_size=8))
        >>> patch_embeddings(vit, {"pixel_values": torch.zeros(1, 3, 16, 16)}).shape
        (2, 2, 16)
    """
    _, conv = patch_projection(model)
    kept: list[torch.Tensor] = []

    def keep(_module: torch.nn.Module, _args: Any, output: Any) -> None:
        kept.append(output.detach())
        raise _Stop

    handle = conv.register_forward_hook(keep)
    try:
        with torch.no_grad():
            model(**inputs)
    except _Stop:
        pass
    finally:
        handle.remove()
    if not kept:
        raise ValueError(
            f"{type(model).__name__}'s forward did not run its patch projection "
            f"({type(conv).__name__}); no patch embeddings to show"
        )
    out = kept[0][0].to("cpu", torch.float32)  # [dim, rows, cols]
    result: FloatArray = np.ascontiguousarray(out.permute(1, 2, 0).numpy())
    return result


def _table_owner(model: torch.nn.Module) -> tuple[torch.nn.Module, torch.Tensor] | None:
    """The module holding the absolute position table and the table ``[positions, dim]``."""
    for module in model.modules():
        table = getattr(module, "position_embeddings", None)
        if isinstance(table, torch.Tensor) and table.dim() == 3:
            return module, table[0]
        embedding = getattr(module, "position_embedding", None)
        if isinstance(embedding, torch.nn.Embedding) and hasattr(module, "patch_embedding"):
            return module, embedding.weight
        table = getattr(module, "pos_embed", None)  # timm
        if isinstance(table, torch.Tensor) and table.dim() == 3:
            return module, table[0]
    return None


def _prefix(positions: int) -> tuple[int, int]:
    """Rows before the patches (``[CLS]``, ``[DIST]``) and the table's square side."""
    for prefix in range(0, 4):
        side = math.isqrt(positions - prefix)
        if side > 0 and side * side == positions - prefix:
            return prefix, side
    raise ValueError(f"a position table of {positions} rows is no square grid of patches")


def position_embeddings(
    model: torch.nn.Module, grid: tuple[int, int], image_size: tuple[int, int]
) -> FloatArray | str:
    """The absolute position embedding of each patch, ``[rows, cols, dim]``, for an image of
    ``image_size`` (height, width) cut into ``grid``; or a sentence saying why there is none.

    Example:
        >>> from transformers import ViTConfig, ViTModel
        >>> vit = ViTModel(ViTConfig(num_hidden_layers=1, hidden_size=16, num_attention_heads=2,
        ...                          intermediate_size=32, image_size=16, patch_size=8))
        >>> position_embeddings(vit, (2, 2), (16, 16)).shape
        (2, 2, 16)
        >>> position_embeddings(vit, (3, 4), (24, 32)).shape  # interpolated by the model
        (3, 4, 16)
    """
    found = _table_owner(model)
    if found is None:
        return (
            f"{type(model).__name__} has no absolute position table (BEiT and Swin use a "
            "relative position bias inside attention)"
        )
    owner, table = found
    rows, cols = grid
    with torch.no_grad():
        prefix, side = _prefix(int(table.shape[0]))
        if (side, side) == (rows, cols):
            patches = table[prefix:]
        elif hasattr(owner, "interpolate_pos_encoding"):
            probe = torch.zeros(1, prefix + rows * cols, table.shape[-1], dtype=table.dtype)
            height, width = image_size
            try:
                resize: Any = owner.interpolate_pos_encoding
                patches = resize(probe, height, width)[0, prefix:]
            except Exception as error:  # the model's own method refused: say so, show the rest
                return (
                    f"the position table ({side}x{side}) could not be resized to "
                    f"{rows}x{cols}: {error}"
                )
        else:
            return f"the position table is {side}x{side}, the image's grid {rows}x{cols}"
        if patches.shape[0] != rows * cols:
            return f"{patches.shape[0]} position embeddings for a {rows}x{cols} grid"
        out = patches.detach().to("cpu", torch.float32).reshape(rows, cols, -1)
    result: FloatArray = np.ascontiguousarray(out.numpy())
    return result
