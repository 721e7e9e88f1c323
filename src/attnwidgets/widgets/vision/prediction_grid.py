"""PredictionGridView: what a classifier predicted over many images (numpy + traitlets).

The browser draws a page of thumbnails (``per_page``, 64 by default) with each image's
predicted and true label; wrong ones get a red frame. Hovering or selecting a thumbnail shows
its top-k classes as bars; a confusion matrix beside the grid filters it to one (true,
predicted) cell when clicked; selects filter by true class, predicted class or error. All of it
runs in the browser from the state (no kernel round trip). Clicking a thumbnail also sends
``{"type": "open", "id", "index"}``: ``opener(index)`` (given by ``aw.PredictionGrid``, which
runs the model on that image and shows its attention) is called and the reply is
``{"type": "opened", "id", "index"}`` or ``{"type": "error", "id", "message"}``.

Images cross as one uint8 array ``[n, H, W, 3]`` (shrunk in the kernel when larger than
``THUMB_SIDE``); predictions as one packed value (labels, top-k classes and probabilities).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import anywidget
import numpy as np
import numpy.typing as npt
import traitlets

from ..arrays import array_value, packed_value
from ..bundles import bundle, require_bundle
from ..inputs import clean_text
from .prediction_grid_data import (
    check_grid,
    confusion_matrix,
    select,
    thumbnails,
    top_classes,
)
from .requests import echo_id

BUNDLE = "prediction_grid_view.js"
CONFUSION_CLASSES = 40
"""The confusion matrix is drawn for at most this many classes (a note says so above)."""

Opener = Callable[[int], Any]


class PredictionGridView(anywidget.AnyWidget):
    """A grid of image thumbnails with predicted and true labels, top-k bars, a confusion
    matrix and filters.

    ``images`` uint8 ``[n, H, W, 3]``; ``probabilities`` ``[n, classes]`` (softmax);
    ``labels`` true class indices ``[n]``; ``class_names`` (default ``"0"``, ``"1"``...);
    ``k`` bars per image; ``opener(index)``: what a click on a thumbnail runs in the kernel
    (``aw.PredictionGrid`` opens the image's attention; without it the click only selects).

    Example:
        >>> import numpy as np
        >>> images = np.zeros((3, 8, 8, 3), np.uint8)
        >>> probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
        >>> view = PredictionGridView(images, probs, [0, 0, 1], ["cat", "dog"])
        >>> view.accuracy, view.confusion.tolist()
        (0.3333333333333333, [[1, 1], [1, 0]])
        >>> view.correctness = "wrong"
        >>> view.shown().tolist()
        [1, 2]
    """

    _esm = bundle(BUNDLE)

    images = traitlets.Dict().tag(sync=True)  # uint8 [n, h, w, 3] (thumbnails)
    predictions = traitlets.Dict().tag(sync=True)  # labels [n], classes [n, k], probabilities
    confusion_counts = traitlets.Dict().tag(sync=True)  # int32 [classes, classes] or {}
    confusion_note = traitlets.Unicode("").tag(sync=True)
    class_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    n_images = traitlets.Int(0).tag(sync=True)

    true_class = traitlets.Int(-1).tag(sync=True)  # -1: any
    predicted_class = traitlets.Int(-1).tag(sync=True)  # -1: any
    correctness = traitlets.Enum(["all", "wrong", "right"], "all").tag(sync=True)
    page = traitlets.Int(0, min=0).tag(sync=True)
    per_page = traitlets.Int(64, min=1, max=1024).tag(sync=True)
    selected = traitlets.Int(-1).tag(sync=True)  # image index shown in the detail panel
    opened = traitlets.Int(-1).tag(sync=True)  # image whose attention the kernel opened
    thumb = traitlets.Int(62, min=16, max=256).tag(sync=True)  # thumbnail side, CSS px
    can_open = traitlets.Bool(False).tag(sync=True)  # a click opens the image's attention

    def __init__(
        self,
        images: Any,
        probabilities: Any,
        labels: Any,
        class_names: Sequence[str] | None = None,
        *,
        k: int = 5,
        opener: Opener | None = None,
        **kwargs: Any,
    ) -> None:
        require_bundle(BUNDLE)
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k: {k!r}; give the number of classes to show per image (>= 1)")
        data = check_grid(images, probabilities, labels, class_names)
        self.grid_data = data
        self._opener = opener
        classes = len(data.class_names)
        top, probs = top_classes(data.probabilities, k)
        small = thumbnails(data.images)
        side = max(small.shape[1:3])
        counts = self.confusion
        show_counts = classes <= CONFUSION_CLASSES
        super().__init__(
            images=array_value(small, "uint8"),
            predictions=packed_value(
                {"labels": data.labels.astype(np.int32), "classes": top, "probabilities": probs}
            ),
            confusion_counts=array_value(counts, "int32") if show_counts else {},
            confusion_note=""
            if show_counts
            else f"{classes} classes: the confusion matrix is drawn up to {CONFUSION_CLASSES}",
            class_names=[clean_text(name) for name in data.class_names],
            n_images=int(data.labels.shape[0]),
            thumb=max(32, min(160, 6 + side * max(1, 64 // side))),
            can_open=opener is not None,
            **kwargs,
        )
        self.on_msg(self._on_message)

    @property
    def predicted(self) -> npt.NDArray[np.int64]:
        """The predicted class of every image ``[n]``."""
        return self.grid_data.predicted

    @property
    def accuracy(self) -> float:
        """The share of images whose predicted class is the true one."""
        return float(np.mean(self.grid_data.predicted == self.grid_data.labels))

    @property
    def confusion(self) -> npt.NDArray[np.int64]:
        """Counts ``[classes, classes]``: row = true class, column = predicted class."""
        return confusion_matrix(
            self.grid_data.labels, self.grid_data.predicted, len(self.grid_data.class_names)
        )

    def shown(self) -> npt.NDArray[np.int64]:
        """Indices of the images the filters keep (every page), as the browser shows them."""
        return select(
            self.grid_data.labels,
            self.grid_data.predicted,
            self.true_class,
            self.predicted_class,
            self.correctness,  # type: ignore[arg-type]
        )

    def page_indices(self) -> npt.NDArray[np.int64]:
        """Indices of the images on the current page (the page is clamped to the last one)."""
        kept = self.shown()
        pages = max(1, -(-len(kept) // self.per_page))
        start = min(self.page, pages - 1) * self.per_page
        return kept[start : start + self.per_page]

    @traitlets.validate("true_class", "predicted_class")
    def _valid_class(self, proposal: Any) -> int:
        value, classes = proposal["value"], len(self.class_names)
        if not -1 <= value < classes:
            name = proposal["trait"].name
            raise traitlets.TraitError(
                f"{name}: {value} is not a class; valid: -1 (any) or 0..{classes - 1}"
            )
        return int(value)

    @traitlets.validate("selected", "opened")
    def _valid_image(self, proposal: Any) -> int:
        value = proposal["value"]
        if not -1 <= value < self.n_images:
            name = proposal["trait"].name
            raise traitlets.TraitError(
                f"{name}: {value} is not an image; valid: -1 (none) or 0..{self.n_images - 1}"
            )
        return int(value)

    def open_image(self, index: int) -> Any:
        """Run ``opener`` on image ``index`` (what a click on its thumbnail does); returns
        what the opener returned and sets ``selected`` and ``opened``."""
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"index: {index!r}; give an image index 0..{self.n_images - 1}")
        if not 0 <= index < self.n_images:
            raise IndexError(f"index: {index} is not an image; valid: 0..{self.n_images - 1}")
        if self._opener is None:
            raise ValueError(
                "this grid has no model to open an image's attention with: build it with "
                "aw.PredictionGrid(model, processor, images, labels)"
            )
        shown = self._opener(int(index))
        self.selected = self.opened = int(index)
        return shown

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        reply = self._answer(content)
        self.send(reply)

    def _answer(self, content: Any) -> dict[str, Any]:
        if not isinstance(content, dict):
            return _error(None, f"a message must be an object, not {type(content).__name__}")
        request_id = echo_id(content.get("id"))
        if content.get("type") != "open":
            return _error(request_id, f"type: {str(content.get('type'))[:40]!r} is not 'open'")
        index = content.get("index")
        if not isinstance(index, int) or isinstance(index, bool):
            return _error(request_id, f"index: {str(index)[:40]!r} is not an image index")
        try:
            self.open_image(index)
        except Exception as error:  # shown under the grid; the kernel carries on
            said = str(error).splitlines()[0][:300] if str(error) else ""
            return _error(request_id, f"{type(error).__name__}: {said}")
        return {"type": "opened", "id": request_id, "index": index}


def _error(request_id: Any, message: str) -> dict[str, Any]:
    return {"type": "error", "id": request_id, "message": message}
