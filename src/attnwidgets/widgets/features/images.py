"""Images of listed inputs as one binary value (``arrays.array_value``), for the feature views."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ..arrays import array_value


def stacked_images(images: list[npt.NDArray[np.uint8]]) -> dict[str, Any]:
    """RGB images ``[h, w, 3]`` as one uint8 value ``[k, h, w, 3]``, each padded white to the
    largest (each item says its own ``height`` / ``width``); ``{}`` when there is none.

    Example:
        >>> value = stacked_images([np.zeros((2, 3, 3), np.uint8), np.zeros((4, 1, 3), np.uint8)])
        >>> value["dtype"], value["shape"], bytes(value["value"])[-1]
        ('uint8', [2, 4, 3, 3], 255)
        >>> stacked_images([])
        {}
    """
    if not images:
        return {}
    h = max(image.shape[0] for image in images)
    w = max(image.shape[1] for image in images)
    out = np.full((len(images), h, w, 3), 255, np.uint8)
    for k, image in enumerate(images):
        out[k, : image.shape[0], : image.shape[1]] = image
    return array_value(out, "uint8")
