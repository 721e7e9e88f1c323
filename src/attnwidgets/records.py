"""Plain record objects that cross from capture to widgets (numpy only, no torch)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


KINDS = ("probability", "scores", "scaled", "masked")
"""What a record holds: probabilities, or a step before the softmax (``Q K^T``, scaled,
masked with ``-inf`` where a query may not look)."""


def _as_kept_array(layer: Any) -> FloatArray:
    """float16 stays float16 (a capture kept it that way to halve memory); all else float32."""
    array = np.asarray(layer)
    dtype = np.float16 if array.dtype == np.float16 else np.float32
    kept: FloatArray = np.ascontiguousarray(array, dtype=dtype)
    return kept


def _window(window: Any) -> tuple[int, int] | None:
    if window is None:
        return None
    low, high = (int(v) for v in window)
    if low > high:
        raise ValueError(f"a window is (lowest, highest) key - query offset, got {window}")
    return (low, high)


class AttentionRecord(Sequence[FloatArray]):
    """Attention of one sequence, layer by layer: each layer is ``[heads, query, key]`` float32
    (float16 when captured with ``dtype=torch.float16``). ``kind`` says what the numbers are
    (a capture uses ``KINDS``).

    Indexing gives one layer; ``shape`` is ``(layers, heads, query, key)``. ``windows`` says,
    per layer, which ``key - query`` offsets a sliding window lets through (``(-511, 0)``: a
    causal window of 512 tokens), ``None`` for a layer without one.

    Example:
        >>> import numpy as np
        >>> rec = AttentionRecord([np.full((2, 3, 3), 1 / 3, np.float32)], ["blocks.0.attn"])
        >>> rec.shape
        (1, 2, 3, 3)
        >>> rec[0][1, 2].sum().round(6)
        np.float32(1.0)
        >>> rec.layer_names
        ['blocks.0.attn']
    """

    def __init__(
        self,
        layers: Sequence[Any],
        layer_names: Sequence[str] | None = None,
        *,
        kind: str = "probability",
        windows: Sequence[tuple[int, int] | None] | None = None,
    ) -> None:
        arrays = [_as_kept_array(layer) for layer in layers]
        for index, array in enumerate(arrays):
            if array.ndim != 3:
                raise ValueError(
                    f"attention layer {index} has shape {array.shape}; expected 3 dimensions "
                    "[heads, query, key]"
                )
        if layer_names is None:
            layer_names = [f"layer.{i}" for i in range(len(arrays))]
        if len(layer_names) != len(arrays):
            raise ValueError(f"{len(layer_names)} layer names given for {len(arrays)} layers")
        self._layers = arrays
        self.layer_names: list[str] = list(layer_names)
        self.kind = kind
        if windows is not None and len(windows) != len(arrays):
            raise ValueError(f"{len(windows)} windows given for {len(arrays)} layers")
        self.windows: list[tuple[int, int] | None] = (
            [None] * len(arrays) if windows is None else [_window(w) for w in windows]
        )

    @classmethod
    def from_array(
        cls, array: Any, layer_names: Sequence[str] | None = None, *, kind: str = "probability"
    ) -> AttentionRecord:
        """Build a record from ``[layers, heads, query, key]`` or one ``[heads, query, key]`` layer.

        Example:
            >>> AttentionRecord.from_array(np.zeros((4, 2, 5, 5))).shape
            (4, 2, 5, 5)
        """
        data = np.asarray(array, dtype=np.float32)
        if data.ndim == 3:
            data = data[None]
        if data.ndim != 4:
            raise ValueError(
                f"attention array has shape {data.shape}; expected [layers, heads, query, key] "
                "or [heads, query, key]"
            )
        return cls(list(data), layer_names, kind=kind)

    def __len__(self) -> int:
        return len(self._layers)

    def __getitem__(self, index: int) -> FloatArray:  # type: ignore[override]
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"layer index must be an int, not {type(index).__name__}")
        count = len(self._layers)
        if not -count <= index < count:
            raise IndexError(f"layer {index} out of range: this record has layers 0..{count - 1}")
        return self._layers[index]

    def __iter__(self) -> Iterator[FloatArray]:
        return iter(self._layers)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(layers, heads, query, key)``; raises if layers differ in shape."""
        if not self._layers:
            return (0, 0, 0, 0)
        first = self._layers[0].shape
        for name, layer in zip(self.layer_names, self._layers, strict=True):
            if layer.shape != first:
                raise ValueError(
                    f"layers differ in shape ({name} is {layer.shape}, the first is {first}); "
                    "record.stacks() groups them (encoder, decoder, cross...), or index "
                    "layers one by one"
                )
        return (len(self._layers), first[0], first[1], first[2])

    @property
    def nbytes(self) -> int:
        """Bytes held by the layer arrays."""
        return sum(layer.nbytes for layer in self._layers)

    def head(self, layer: int, head: int) -> FloatArray:
        """One head: ``[query, key]``, with a clear IndexError when out of range.

        Example:
            >>> AttentionRecord.from_array(np.eye(3)[None, None]).head(0, 0).shape
            (3, 3)
        """
        block = self[layer]
        heads = block.shape[0]
        if not -heads <= head < heads:
            raise IndexError(f"head {head} out of range: layer {layer} has heads 0..{heads - 1}")
        single: FloatArray = block[head]
        return single

    def stacks(self) -> dict[str, AttentionRecord]:
        """The layers grouped by the token axes they share (``encoder``, ``decoder``,
        ``cross``, ``vision``, ``text``...; one ``attention`` stack for a decoder-only model),
        each of one shape. See ``attnwidgets.stacks``.

        Example:
            >>> names = ["vision_model.layers.0.attn", "text_model.layers.0.attn"]
            >>> rec = AttentionRecord([np.zeros((1, 5, 5)), np.zeros((1, 3, 3))], names)
            >>> {name: stack.shape for name, stack in rec.stacks().items()}
            {'vision': (1, 1, 5, 5), 'text': (1, 1, 3, 3)}
        """
        from .stacks import split_stacks

        return {name: stack.record for name, stack in split_stacks(self).items()}

    def to_numpy(self) -> FloatArray:
        """All layers stacked: ``[layers, heads, query, key]``."""
        self.shape  # noqa: B018 - raises a clear error on ragged layers
        stacked: FloatArray = np.stack(self._layers)
        return stacked

    def __repr__(self) -> str:
        try:
            shape = f"shape={self.shape}"
        except ValueError:
            shape = f"layers={len(self)} (ragged)"
        return f"AttentionRecord({shape}, kind={self.kind!r})"
