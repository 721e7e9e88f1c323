"""One unit (or one direction) of a module: its top inputs in a store, its value per token.

``top_inputs`` reads the store alone (numpy). ``NeuronSource`` re-runs the model on a few
inputs (the top ones, or a text you type) with ``aw.capture(model, modules=[path])`` to get
the unit's value at every token, or every image patch: what ``NeuronView`` draws
(``neuron_view`` builds both). The store
keeps pooled vectors only, so per-token values always come from a fresh forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .store import FeatureStore

if TYPE_CHECKING:
    from ..widgets.features.neuron_view import NeuronView

WINDOW = 48
"""Tokens kept around a long text's most active token."""


def unit_values(X: np.ndarray, unit: int | None, direction: np.ndarray | None) -> np.ndarray:
    """``X[:, unit]`` or ``X @ direction`` as float32 (NaN rows stay NaN).

    Example:
        >>> unit_values(np.eye(3), 1, None).tolist()
        [0.0, 1.0, 0.0]
    """
    if (unit is None) == (direction is None):
        raise ValueError("give unit= (a feature index) or direction= (a vector), not both")
    if direction is not None:
        vector = np.asarray(direction, np.float32).reshape(-1)
        if vector.shape[0] != X.shape[1]:
            raise ValueError(f"direction has {vector.shape[0]} values; features have {X.shape[1]}")
        return np.asarray(X.astype(np.float32) @ vector, np.float32)
    assert unit is not None
    if not -X.shape[1] <= unit < X.shape[1]:
        raise IndexError(f"unit {unit} is outside the {X.shape[1]} features")
    return np.asarray(X[:, unit], np.float32)


def top_inputs(
    store: FeatureStore,
    module: str,
    layer: int | None = None,
    *,
    unit: int | None = None,
    direction: np.ndarray | None = None,
    k: int = 8,
) -> list[tuple[int, float]]:
    """``[(input_id, value)]`` of the ``k`` stored inputs where the unit is highest (the
    highest token, for a store of every token); NaN features never rank.

    Example:
        >>> top_inputs(store, "model.layers.*.mlp", 3, unit=17, k=2)  # doctest: +SKIP
        [(812, 4.1), (95, 3.9)]
    """
    X, meta = store.load(module, layer)
    values = unit_values(X, unit, direction)
    values = np.where(np.isfinite(values), values, -np.inf)
    ids = meta["input_id"]
    best: dict[int, float] = {}
    for row in np.argsort(-values, kind="stable"):
        if not np.isfinite(values[row]):
            break
        best.setdefault(int(ids[row]), float(values[row]))
        if len(best) == k:
            break
    return list(best.items())


@dataclass
class Trace:
    """The unit over one input: ``tokens`` and ``values`` (one per token); for an image,
    ``image`` (uint8 ``[h, w, 3]``) and ``grid`` (patches ``[rows, cols]``: the last
    ``rows * cols`` values are the patches, in row order)."""

    tokens: list[str]
    values: np.ndarray
    input_id: int | None = None
    label: str = ""
    score: float | None = None
    image: np.ndarray | None = None
    grid: tuple[int, int] | None = None


class NeuronSource:
    """Per-token values of one module's unit: from the model, for stored or new inputs.

    ``data``: the data given to ``extract``, to re-read images by id; without it images come
    from their stored path or thumbnail.
    """

    def __init__(
        self,
        model: Any,
        processor: Any,
        store: FeatureStore,
        module: str,
        layer: int | None = None,
        *,
        data: Any = None,
        max_length: int | None = 512,
    ) -> None:
        self.model, self.processor, self.store = model, processor, store
        self.path = store.resolve(module, layer)
        self.module, self.layer = module, layer
        self.data, self.max_length = data, max_length
        self._X: np.ndarray | None = None

    @property
    def width(self) -> int:
        return int(self.features()[0].shape[1])

    def features(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return self.store.load(self.path)

    def top(self, unit: int | None, direction: np.ndarray | None, k: int = 8) -> list[Trace]:
        """The ``k`` top stored inputs, each re-run for its per-token values."""
        ranked = top_inputs(self.store, self.path, unit=unit, direction=direction, k=k)
        known = self.store.inputs()
        traces = []
        for input_id, score in ranked:
            row = int(np.searchsorted(known["input_id"], input_id))
            label = str(known["label"][row]) if len(known["label"]) else ""
            image = self._image(input_id)
            given = image if image is not None else str(known["text"][row])
            trace = self.trace(given, unit, direction)
            trace.input_id, trace.label, trace.score = input_id, label, score
            traces.append(trace)
        return traces

    def _image(self, input_id: int) -> Any:
        if self.store.thumbnail(input_id) is None:
            return None
        if self.data is not None:
            item = self.data[input_id]
            return item.get("image", item) if isinstance(item, dict) else item
        path = self.store.inputs()["image_path"][
            int(np.searchsorted(self.store.inputs()["input_id"], input_id))
        ]
        return Path(path) if path else self.store.thumbnail(input_id)

    def trace(self, given: Any, unit: int | None, direction: np.ndarray | None) -> Trace:
        """Run the model on one text or image; the unit's value at each token / patch."""
        import torch

        from ..recording import capture
        from .encode import encode, thumbnail
        from .extraction import _device
        from .sources import Batch

        is_text = isinstance(given, str)
        batch = Batch([0], texts=[given]) if is_text else Batch([0], images=[given])
        inputs, _ = encode(self.processor, batch, _device(self.model), self.max_length)
        with (
            capture(self.model, attention=False, modules=[self.path]) as cap,
            torch.inference_mode(),
        ):
            self.model(**inputs)
        output = cap[self.path]
        if output.ndim != 3:
            raise ValueError(f"{self.path}: output {list(output.shape)} has no tokens to show")
        values = unit_values(output[0].to(torch.float32).numpy(), unit, direction)
        if is_text:
            ids = inputs["input_ids"][0].tolist()
            tokens = [self._token(i) for i in ids]
            tokens, values = _window(tokens, values)
            return Trace(tokens, values)
        pixels = inputs.get("pixel_values")
        grid = _grid(self.model, pixels, len(values))
        extra = len(values) - (grid[0] * grid[1] if grid else 0)
        names = ["[CLS]" if i == 0 else f"[{i}]" for i in range(extra)]
        if grid:
            names += [f"({r}, {c})" for r in range(grid[0]) for c in range(grid[1])]
        return Trace(names, values, image=thumbnail(given), grid=grid)

    def _token(self, token_id: int) -> str:
        tokenizer = getattr(self.processor, "tokenizer", self.processor)
        return str(tokenizer.decode([token_id]))


def _window(tokens: list[str], values: np.ndarray) -> tuple[list[str], np.ndarray]:
    if len(tokens) <= WINDOW:
        return tokens, values
    peak = int(np.nanargmax(values)) if np.isfinite(values).any() else 0
    start = max(0, min(peak - WINDOW // 2, len(tokens) - WINDOW))
    return tokens[start : start + WINDOW], values[start : start + WINDOW]


def _grid(model: Any, pixels: Any, tokens: int) -> tuple[int, int] | None:
    """``(rows, cols)`` of patches when the model's patch size divides its input image."""
    config = getattr(model, "config", None)
    vision = getattr(config, "vision_config", config)
    patch = getattr(vision, "patch_size", None)
    if pixels is None or patch is None:
        return None
    size = patch if isinstance(patch, int) else patch[0]
    rows, cols = int(pixels.shape[-2]) // size, int(pixels.shape[-1]) // size
    return (rows, cols) if 0 < rows * cols <= tokens else None


def neuron_view(
    model: Any,
    processor: Any,
    store: Any,
    module: str,
    layer: int | None = -1,
    unit: int = 0,
    *,
    direction: Any = None,
    direction_name: str = "probe direction",
    text: str = "",
    k: int = 8,
    data: Any = None,
) -> NeuronView:
    """The view of ``unit`` (or ``direction``) of ``module`` at ``layer``: its ``k`` top
    inputs in ``store`` (re-run through ``model`` for per-token values) and ``text``
    (``aw.neuron_view``: a ``NeuronSource`` shown in a ``NeuronView``).

    Example:
        >>> aw.neuron_view(model, tokenizer, store, "encoder.layer.*", 5, unit=17,
        ...                text="def f(x): return [x]")  # doctest: +SKIP
    """
    from ..widgets.features.neuron_view import NeuronView

    opened = store if isinstance(store, FeatureStore) else FeatureStore(store)
    if layer is not None and layer < 0 and module in opened.modules:
        layer = [x for x in opened.layers(module) if x is not None][layer]
    source = NeuronSource(model, processor, opened, module, layer, data=data)
    return NeuronView(
        source, unit, direction=direction, direction_name=direction_name, text=text, k=k
    )
