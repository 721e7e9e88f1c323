"""Absolute schemes: a ``[positions, dim]`` table added to the token embeddings.

>>> from attnwidgets.positions import learned, sinusoidal
>>> sinusoidal(16, length=64).table.shape                # [positions, dim]
(64, 16)
>>> learned(sinusoidal(4, length=5).table, source="my_model.wpe").source
'my_model.wpe'
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .scheme import PositionScheme, check_positive


def sinusoidal(dim: int, *, length: int = 512, base: float = 10000.0) -> PositionScheme:
    """The sin-cos table of Vaswani et al. (2017), ``[length, dim]``.

    ``table[p, 2i] = sin(p / base^(2i/dim))`` and ``table[p, 2i+1] = cos(p / base^(2i/dim))``.

    Example:
        >>> t = sinusoidal(4, length=4, base=100).table
        >>> [round(float(x), 4) for x in t[1]]
        [0.8415, 0.5403, 0.0998, 0.995]
    """
    check_positive(length=length, dim=dim)
    if dim % 2:
        raise ValueError(f"sinusoidal() needs an even dim (sin and cos pairs), got {dim}")
    rate = 1.0 / base ** (np.arange(0, dim, 2, dtype=np.float64) / dim)
    angle = np.arange(length, dtype=np.float64)[:, None] * rate[None, :]
    table = np.empty((length, dim), np.float64)
    table[:, 0::2] = np.sin(angle)
    table[:, 1::2] = np.cos(angle)
    return PositionScheme(
        "sinusoidal", f"sinusoidal(base={base:g})", table=table.astype(np.float32),
        params={"base": float(base)},
    )  # fmt: skip


def learned(table: npt.ArrayLike, source: str = "learned", grid: tuple[int, int] | None = None,
            grid_offset: int = 0) -> PositionScheme:  # fmt: skip
    """A learned absolute table ``[positions, dim]`` (optionally a ViT patch ``grid``).

    Example:
        >>> learned(np.zeros((5, 3)), grid=(2, 2), grid_offset=1).grid
        (2, 2)
    """
    values = np.asarray(table, np.float32)
    if values.ndim != 2:
        raise ValueError(f"learned table has shape {values.shape}; expected [positions, dim]")
    if grid is not None and grid[0] * grid[1] + grid_offset != values.shape[0]:
        raise ValueError(
            f"grid {grid} with {grid_offset} leading rows does not cover {values.shape[0]} rows"
        )
    return PositionScheme("learned", source, table=values, grid=grid, grid_offset=grid_offset)
