"""``aw.PredictionGrid(model, processor, images, labels)``: a classifier's predictions over a
set of images, in a grid, with each image's attention one click away.

This module is the torch half: ``predict`` runs the model over the images in batches (eval
mode, no gradients; the model is left as it was) and gives numpy probabilities, which
``widgets.PredictionGridView`` (numpy only) draws. A click on a thumbnail runs the lens on
that one image (``aw.wrap(model, processor)``, safe from the comm thread that delivers the
click) and shows an ``ImageAttentionView`` of it below the grid.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets
import numpy as np
import numpy.typing as npt
import torch

from .lens import Lens
from .recording.threads import eval_mode
from .recording.vision.layout import find_vision_family
from .widgets.vision.image_attention import ImageAttentionView
from .widgets.vision.prediction_grid import PredictionGridView
from .widgets.vision.prediction_grid_data import check_images_and_labels

__all__ = ["PredictionGrid", "predict"]


def _check_model(model: Any) -> None:
    """A vision transformer with a classification head, or a clear error."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"PredictionGrid takes a torch.nn.Module, not {type(model).__name__}")
    name = type(model).__name__
    try:
        parameters = set(inspect.signature(model.forward).parameters)
    except (TypeError, ValueError):
        parameters = set()
    if "pixel_values" not in parameters or find_vision_family(model) is None:
        taken = "text" if "input_ids" in parameters else "no pixel_values"
        raise TypeError(
            f"PredictionGrid needs an image classifier (a vision transformer with a "
            f"classification head, e.g. ViTForImageClassification); {name} takes {taken}"
        )


def predict(
    model: torch.nn.Module,
    processor: Any,
    images: npt.NDArray[np.uint8],
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> npt.NDArray[np.float32]:
    """Softmax probabilities ``[n, classes]`` of ``model`` over ``images`` uint8 ``[n, H, W, 3]``,
    ``batch_size`` images per forward, through ``processor`` (an image processor).

    Example:
        >>> model, processor, images, labels = aw.demo.load_fashion_vit(limit=8)  # doctest: +SKIP
        >>> predict(model, processor, images).argmax(1)  # doctest: +SKIP
        array([9, 2, 1, 1, 6, 1, 4, 6])
    """
    _check_model(model)
    if processor is None or not callable(processor):
        raise TypeError(
            "PredictionGrid needs the model's image processor (AutoImageProcessor."
            f"from_pretrained(path)), not {type(processor).__name__}"
        )
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: {batch_size!r}; give a positive number of images")
    parameter = next(iter(model.parameters()), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    dtype = parameter.dtype if parameter is not None and parameter.is_floating_point() else None
    out: list[npt.NDArray[np.float32]] = []
    with eval_mode(model), torch.no_grad():
        for start in range(0, len(images), batch_size):
            pixels = _pixels(processor, images[start : start + batch_size], start)
            logits = getattr(model(pixel_values=pixels.to(device, dtype)), "logits", None)
            if logits is None or logits.ndim != 2:
                raise TypeError(
                    f"{type(model).__name__} gave no logits [batch, classes]: PredictionGrid "
                    "needs a classification head (...ForImageClassification)"
                )
            out.append(torch.softmax(logits.float(), dim=-1).cpu().numpy())
            if progress is not None:
                progress(min(start + batch_size, len(images)), len(images))
    return np.concatenate(out).astype(np.float32)


def _pixels(processor: Any, batch: npt.NDArray[np.uint8], start: int) -> torch.Tensor:
    """``processor(images=[HxWx3, ...])["pixel_values"]`` as a float tensor, or a clear error."""
    arrays = list(batch)
    try:
        try:
            out = processor(images=arrays, return_tensors="pt", input_data_format="channels_last")
        except TypeError as error:
            if "input_data_format" not in str(error):
                raise
            out = processor(images=arrays, return_tensors="pt")
        pixels = out["pixel_values"]
    except Exception as error:
        said = str(error).splitlines()[0][:200] if str(error) else ""
        raise ValueError(
            f"the image processor {type(processor).__name__} could not take images "
            f"{start}..{start + len(arrays) - 1} (uint8 {list(batch.shape[1:])}): "
            f"{type(error).__name__}: {said}"
        ) from error
    return torch.as_tensor(pixels, dtype=torch.float32)


class PredictionGrid(ipywidgets.VBox):  # type: ignore[misc]
    """What a trained image classifier predicts over ``images``, and why, one click away.

    ``images`` uint8 ``[n, H, W, 3]``, ``labels`` true class indices ``[n]``; the model runs
    over them in batches of ``batch_size`` when the grid is made (unless ``probabilities``
    ``[n, classes]`` are given, e.g. from ``predict``). The grid (``.grid``, a
    ``PredictionGridView``) shows ``per_page`` thumbnails at a time with predicted and true
    labels, top-``k`` bars, wrong ones framed in red, a confusion matrix and filters. Clicking a
    thumbnail runs the model on that image and shows its attention over the image below the
    grid (``.attention``, an ``ImageAttentionView``); ``grid.open_image(i)`` does the same
    from code.

    Example:
        >>> model, processor, images, labels = aw.demo.load_fashion_vit(limit=64)  # doctest: +SKIP
        >>> grid = aw.PredictionGrid(model, processor, images, labels)  # doctest: +SKIP
        >>> grid.accuracy, grid.confusion.shape  # doctest: +SKIP
        (0.890625, (10, 10))
    """

    def __init__(
        self,
        model: torch.nn.Module,
        processor: Any,
        images: Any,
        labels: Any,
        k: int = 5,
        *,
        class_names: Sequence[str] | None = None,
        probabilities: Any = None,
        batch_size: int = 64,
        per_page: int = 64,
        **kwargs: Any,
    ) -> None:
        _check_model(model)
        pictures, true = check_images_and_labels(images, labels)  # before the model runs
        if probabilities is None:
            probabilities = predict(model, processor, pictures, batch_size)
        else:  # computed before (e.g. over a whole split): only the clicked images run again
            probabilities = np.asarray(probabilities, dtype=np.float32)
        if class_names is None:
            class_names = _class_names(model, int(np.shape(probabilities)[-1]))
        self.lens = Lens(model, processor, norms=False)
        self.attention: ImageAttentionView | None = None
        self.grid = PredictionGridView(
            pictures,
            probabilities,
            true,
            class_names,
            k=k,
            opener=self._show_attention,
            per_page=per_page,
        )
        self._below = ipywidgets.VBox()
        super().__init__(children=[self.grid, self._below], **kwargs)

    @property
    def probabilities(self) -> npt.NDArray[np.float32]:
        """The model's probabilities ``[n, classes]``."""
        return self.grid.grid_data.probabilities

    @property
    def predicted(self) -> npt.NDArray[np.int64]:
        """The predicted class of each image ``[n]``."""
        return self.grid.predicted

    @property
    def labels(self) -> npt.NDArray[np.int64]:
        """The true class of each image ``[n]``."""
        return self.grid.grid_data.labels

    @property
    def accuracy(self) -> float:
        """The share of images predicted right."""
        return self.grid.accuracy

    @property
    def confusion(self) -> npt.NDArray[np.int64]:
        """Counts ``[classes, classes]``: row = true class, column = predicted class."""
        return self.grid.confusion

    def open_image(self, index: int) -> ImageAttentionView:
        """Run the model on image ``index`` and show its attention below the grid."""
        view = self.grid.open_image(index)
        assert isinstance(view, ImageAttentionView)
        return view

    def close(self) -> None:
        """Close the grid, the attention view and this box (their records can be freed)."""
        for name in ("attention", "grid", "_below"):  # absent when __init__ raised early
            widget = getattr(self, name, None)
            if widget is not None:
                widget.close()
        self.attention = None
        super().close()

    def _show_attention(self, index: int) -> ImageAttentionView:
        """The opener the grid calls (from the comm thread on a click): the lens runs the
        model on one image, recording only its own thread's forward."""
        run = self.lens(self.grid.grid_data.images[index])
        view = ImageAttentionView(run, heads="mean")
        previous, self.attention = self.attention, view
        self._below.children = [view]
        if previous is not None:
            previous.close()
        return view


def _class_names(model: torch.nn.Module, classes: int) -> list[str]:
    """``config.id2label`` (int or str keys), else the class indices as text."""
    id2label = dict(getattr(getattr(model, "config", None), "id2label", None) or {})
    return [str(id2label.get(i, id2label.get(str(i), i))) for i in range(classes)]
