"""NeuronView: one unit (or a probe direction) of a module, over a text you type and over the
stored inputs that activate it most (numpy + traitlets; the model runs in the source).

Tokens are coloured by the unit's value (red positive, blue negative, on one scale for the
whole view); an image input is drawn with its patches coloured the same way. The unit
number and the text are edited in the view; the kernel re-runs what is shown.
"""

from __future__ import annotations

from typing import Any, Protocol

import anywidget
import numpy as np
import traitlets

from ..arrays import array_value, read_array
from ..bundles import bundle, require_bundle
from ..inputs import clean_text
from .images import stacked_images


class Trace(Protocol):
    tokens: list[str]
    values: np.ndarray
    input_id: int | None
    label: str
    score: float | None
    image: np.ndarray | None
    grid: tuple[int, int] | None


class Source(Protocol):
    """What a NeuronView reads (``attnwidgets.features.neurons.NeuronSource`` is one)."""

    path: str

    @property
    def width(self) -> int: ...

    def top(self, unit: int | None, direction: np.ndarray | None, k: int = 8) -> list[Any]: ...

    def trace(self, given: Any, unit: int | None, direction: np.ndarray | None) -> Any: ...


class NeuronView(anywidget.AnyWidget):
    """A unit over a text and over its top stored inputs (``js/neuron_view.js``).

    ``source``: a ``NeuronSource`` (``aw.neuron_view`` builds one); ``unit``: the feature
    index; ``direction``: a vector instead (e.g. ``probe_result.direction(layer)``), named by
    ``direction_name``; ``text``: a text to show the unit on (text models); ``k``: top inputs.
    """

    _esm = bundle("neuron_view.js")

    title = traitlets.Unicode("").tag(sync=True)
    unit = traitlets.Int(0).tag(sync=True)
    units = traitlets.Int(0).tag(sync=True)
    direction_name = traitlets.Unicode("").tag(sync=True)
    text = traitlets.Unicode("").tag(sync=True)
    text_tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    text_values = traitlets.Dict().tag(sync=True)
    top = traitlets.List(traitlets.Dict()).tag(sync=True)
    top_values = traitlets.Dict().tag(sync=True)
    top_images = traitlets.Dict().tag(sync=True)
    scale = traitlets.Float(1.0).tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        source: Source,
        unit: int = 0,
        *,
        direction: Any = None,
        direction_name: str = "probe direction",
        text: str = "",
        k: int = 8,
    ) -> None:
        require_bundle("neuron_view.js")
        self.source, self.k = source, k
        self.direction = None if direction is None else np.asarray(direction, np.float32)
        super().__init__(
            units=source.width,
            unit=unit,
            text=text,
            direction_name=direction_name if direction is not None else "",
        )
        self.refresh()
        self.observe(lambda _: self.refresh(), ["unit"])
        self.observe(lambda _: self.refresh(top=False), ["text"])

    @traitlets.validate("unit")
    def _valid_unit(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        if not 0 <= value < max(self.units, 1):
            raise traitlets.TraitError(f"unit {value} is outside 0..{self.units - 1}")
        return value

    def _what(self) -> tuple[int | None, np.ndarray | None]:
        return (None, self.direction) if self.direction is not None else (self.unit, None)

    def refresh(self, top: bool = True) -> None:
        """Re-run the shown inputs for the current unit (or direction) and text."""
        unit, direction = self._what()
        name = self.direction_name or f"unit {self.unit}"
        self.title = f"{self.source.path}: {name}"
        try:
            traces = self.source.top(unit, direction, self.k) if top else None
            typed = self.source.trace(self.text, unit, direction) if self.text else None
        except (ValueError, IndexError, RuntimeError) as error:
            self.status = f"error: {error}"
            return
        shown = [t.values for t in traces or []] + ([typed.values] if typed else [])
        with self.hold_sync():
            if traces is not None:
                self._set_top(traces)
            if typed is not None:
                self.text_tokens = [clean_text(str(x)) for x in typed.tokens]
                self.text_values = array_value(np.asarray(typed.values, np.float32))
            elif not self.text:
                self.text_tokens, self.text_values = [], {}
            values = [np.asarray(v, np.float32) for v in shown]
            values += [] if traces is not None else [self._top_flat()]
            self.scale = _scale(values)
            self.status = ""

    def _top_flat(self) -> np.ndarray:
        if not self.top_values:
            return np.zeros(0, np.float32)
        return read_array(self.top_values)

    def _set_top(self, traces: list[Any]) -> None:
        items: list[dict[str, Any]] = []
        values: list[np.ndarray] = []
        images: list[np.ndarray] = []
        offset = 0
        for t in traces:
            item: dict[str, Any] = {
                "input_id": t.input_id,
                "label": t.label,
                "score": None if t.score is None else float(t.score),
                "offset": offset,
                "length": len(t.values),
                "tokens": [clean_text(str(x)) for x in t.tokens],
            }
            if t.image is not None:
                item["image"] = len(images)
                item["height"], item["width"] = (int(n) for n in t.image.shape[:2])
                item["grid"] = list(t.grid) if t.grid else None
                images.append(t.image)
            items.append(item)
            values.append(np.asarray(t.values, np.float32))
            offset += len(t.values)
        self.top_values = array_value(np.concatenate(values) if values else np.zeros(0))
        self.top_images = stacked_images(images)
        self.top = items


def _scale(values: list[np.ndarray]) -> float:
    """The largest finite |value| shown (1 when there is none): one colour scale."""
    finite = [np.abs(v[np.isfinite(v)]) for v in values]
    top = max((float(v.max()) for v in finite if v.size), default=0.0)
    return top if top > 0 else 1.0
