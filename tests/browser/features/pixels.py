"""Pixel counts of screenshots, for the feature views."""

from __future__ import annotations

from typing import Any

import numpy as np


def ink(png: bytes, colours: list[str] | None = None) -> dict[str, Any]:
    """Pixels of a screenshot that are not white/grey background; per palette colour, how
    many pixels are close to it."""
    import io

    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3).astype(int)
    spread = pixels.max(axis=1) - pixels.min(axis=1)
    coloured = spread > 40
    found = {}
    for colour in colours or []:
        rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
        found[colour] = int((np.abs(pixels - rgb).sum(axis=1) < 40).sum())
    return {"coloured": int(coloured.sum()), "by_colour": found}
