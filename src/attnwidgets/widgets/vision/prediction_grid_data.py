"""What PredictionGridView shows, checked and computed with numpy (no torch).

``check_grid`` is the boundary: images uint8 ``[n, H, W, 3]``, probabilities ``[n, classes]``,
labels ints ``[n]`` in ``0..classes-1``; anything else is refused with the shape or value found
and how to convert it. ``confusion_matrix`` counts (true, predicted) pairs; ``select`` is the
grid's filter (the browser applies the same one, ``js/vision/grid_data.js``); ``thumbnails``
shrinks large images by block means before they are sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

Correctness = Literal["all", "wrong", "right"]
THUMB_SIDE = 96
"""Images whose longer side is above this many pixels are sent shrunk (block means)."""


@dataclass(frozen=True)
class GridData:
    """The checked arrays: ``images`` uint8 ``[n, H, W, 3]``, ``probabilities`` float32
    ``[n, classes]``, ``labels`` int64 ``[n]``, ``class_names`` (one per class)."""

    images: npt.NDArray[np.uint8]
    probabilities: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int64]
    class_names: list[str]

    @property
    def predicted(self) -> npt.NDArray[np.int64]:
        """The most probable class of each image ``[n]`` (the first one on ties)."""
        best: npt.NDArray[np.int64] = np.argmax(self.probabilities, axis=1).astype(np.int64)
        return best


def check_grid(
    images: Any, probabilities: Any, labels: Any, class_names: Sequence[str] | None = None
) -> GridData:
    """Normalise and check the grid's inputs; a ValueError names the field, the shape or value
    found and what to do.

    Example:
        >>> data = check_grid(np.zeros((2, 4, 4, 3), np.uint8), [[0.9, 0.1], [0.3, 0.7]], [0, 0])
        >>> data.predicted.tolist(), data.class_names
        ([0, 1], ['0', '1'])
        >>> check_grid(np.zeros((2, 4, 4)), [[1.0], [1.0]], [0, 0])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: images: float64 [2, 4, 4]; give uint8 [n, height, width, 3] ...
    """
    pictures, found = check_images_and_labels(images, labels)
    n = pictures.shape[0]
    probs = np.asarray(probabilities)
    if probs.ndim != 2 or not np.issubdtype(probs.dtype, np.number) or probs.shape[1] < 1:
        raise ValueError(
            f"probabilities: {probs.dtype} {list(probs.shape)}; give floats [n, classes] "
            "(softmax of the model's logits)"
        )
    probs = probs.astype(np.float32)
    if not np.isfinite(probs).all() or (probs < 0).any() or (probs > 1 + 1e-6).any():
        raise ValueError("probabilities: values must be finite and in 0..1 (a softmax)")
    if probs.shape[0] != n:
        raise ValueError(f"probabilities: {probs.shape[0]} rows for {n} images")
    classes = probs.shape[1]
    if found.min() < 0 or found.max() >= classes:
        bad = int(found[(found < 0) | (found >= classes)][0])
        raise ValueError(f"labels: {bad} is not a class; the model has classes 0..{classes - 1}")
    names = [str(i) for i in range(classes)] if class_names is None else list(class_names)
    if len(names) != classes:
        raise ValueError(f"class_names: {len(names)} names for {classes} classes")
    return GridData(pictures, probs, found.astype(np.int64), [str(name) for name in names])


def check_images_and_labels(
    images: Any, labels: Any
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """Images uint8 ``[n, H, W, 3]`` and integer labels ``[n]``, one per image (checked before
    a model runs over the images).

    Example:
        >>> check_images_and_labels(np.zeros((2, 4, 4, 3), np.uint8), [1, 2, 3])
        Traceback (most recent call last):
        ...
        ValueError: images and labels must have one item each: images 2, labels 3
    """
    pictures = _check_images(images)
    found = np.asarray(labels)
    if found.ndim != 1 or not np.issubdtype(found.dtype, np.integer):
        raise ValueError(
            f"labels: {found.dtype} {list(found.shape)}; give integer class indices [n]"
        )
    if found.shape[0] != pictures.shape[0]:
        raise ValueError(
            "images and labels must have one item each: "
            f"images {pictures.shape[0]}, labels {found.shape[0]}"
        )
    return pictures, found.astype(np.int64)


def _check_images(images: Any) -> npt.NDArray[np.uint8]:
    array = np.asarray(images)
    shape = list(array.shape)
    if array.dtype != np.uint8 or array.ndim != 4 or shape[3] != 3:
        if array.ndim == 3:
            hint = "gray [n, H, W]: np.repeat(images[..., None], 3, axis=-1)"
        elif array.ndim == 4 and shape[1] == 3:
            hint = "channels first [n, 3, H, W]: images.transpose(0, 2, 3, 1)"
        elif array.dtype != np.uint8 and np.issubdtype(array.dtype, np.floating):
            hint = "floats in 0..1: (images * 255).round().astype(np.uint8)"
        else:
            hint = "one RGB image per item"
        raise ValueError(
            f"images: {array.dtype} {shape}; give uint8 [n, height, width, 3] (from {hint})"
        )
    if shape[0] == 0 or shape[1] == 0 or shape[2] == 0:
        raise ValueError(f"images: {shape} holds no pixels; give at least one image")
    return np.ascontiguousarray(array)


def confusion_matrix(
    labels: npt.ArrayLike, predicted: npt.ArrayLike, classes: int
) -> npt.NDArray[np.int64]:
    """Counts ``[classes, classes]``: row = true class, column = predicted class.

    Example:
        >>> confusion_matrix([0, 0, 1, 2], [0, 1, 1, 1], 3).tolist()
        [[1, 1, 0], [0, 1, 0], [0, 1, 0]]
    """
    true = np.asarray(labels, np.int64)
    guess = np.asarray(predicted, np.int64)
    counts = np.bincount(true * classes + guess, minlength=classes * classes)
    return counts.reshape(classes, classes).astype(np.int64)


def select(
    labels: npt.ArrayLike,
    predicted: npt.ArrayLike,
    true_class: int = -1,
    predicted_class: int = -1,
    correctness: Correctness = "all",
) -> npt.NDArray[np.int64]:
    """Indices of the images kept by the filter (-1: any class), in order.

    Example:
        >>> select([0, 0, 1, 1], [0, 1, 1, 0], correctness="wrong").tolist()
        [1, 3]
        >>> select([0, 0, 1, 1], [0, 1, 1, 0], true_class=1, predicted_class=1).tolist()
        [2]
    """
    true = np.asarray(labels)
    guess = np.asarray(predicted)
    keep = np.ones(true.shape[0], bool)
    if true_class >= 0:
        keep &= true == true_class
    if predicted_class >= 0:
        keep &= guess == predicted_class
    if correctness == "wrong":
        keep &= true != guess
    elif correctness == "right":
        keep &= true == guess
    return np.flatnonzero(keep).astype(np.int64)


def top_classes(
    probabilities: npt.NDArray[np.float32], k: int
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
    """The ``k`` most probable classes of each image and their probabilities, best first.

    Example:
        >>> classes, probs = top_classes(np.array([[0.25, 0.5, 0.125]], np.float32), 2)
        >>> classes.tolist(), probs.tolist()
        ([[1, 0]], [[0.5, 0.25]])
    """
    k = max(1, min(k, probabilities.shape[1]))
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return order.astype(np.int32), np.take_along_axis(probabilities, order, axis=1)


def thumbnails(images: npt.NDArray[np.uint8], side: int = THUMB_SIDE) -> npt.NDArray[np.uint8]:
    """``images`` shrunk by an integer factor (block means) so the longer side is at most
    ``side``; small images come back as they are (the same array).

    Example:
        >>> big = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
        >>> thumbnails(big, side=2).shape
        (2, 2, 2, 3)
    """
    height, width = images.shape[1:3]
    factor = -(-max(height, width) // side)
    if factor <= 1:
        return images
    rows, cols = height // factor, width // factor
    if rows == 0 or cols == 0:  # a very long, thin image: keep one block across
        factor = min(height, width)
        rows, cols = height // factor, width // factor
    cropped = images[:, : rows * factor, : cols * factor].astype(np.float32)
    blocks = cropped.reshape(images.shape[0], rows, factor, cols, factor, 3)
    shrunk: npt.NDArray[np.uint8] = np.rint(blocks.mean(axis=(2, 4))).astype(np.uint8)
    return shrunk
