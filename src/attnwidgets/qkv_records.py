"""Queries, keys and values per head, and the steps of attention recomputed from them (numpy).

A capture with ``qkv=True`` keeps, for every attention call, what the attention function was
given and gave back: ``q`` ``[heads, query, d_head]`` (after rotary), ``k`` and ``v``
``[kv_heads, key, d_head]`` as the model holds them (grouped-query models have fewer key/value
heads: head ``h`` reads key/value head ``h // group``), ``z`` ``[heads, query, d_head]`` (each
head's output, before the output projection), and the call's own scale, soft-cap, position
bias, mask and sliding window. ``QKVLayer.steps(head)`` redoes the chain people learn attention
by from those numbers, the way the model did it:

``scores = q k^T`` -> ``scaled = scores * scale`` -> ``softcapped = cap * tanh(scaled / cap)``
(Gemma 2) -> ``biased = + bias`` (T5) -> ``masked`` (``-inf`` where hidden) -> ``probability =
softmax(masked)`` -> ``output = probability v`` (equal to ``z``).

>>> import numpy as np
>>> q = np.array([[[1.0, 0.0], [0.0, 1.0]]], np.float32)  # one head, two tokens, d_head 2
>>> hidden = np.triu(np.ones((1, 2, 2), bool), 1)          # causal
>>> layer = QKVLayer("attn", q, q, q, q, hidden=hidden, scale=1.0, causal=True)
>>> steps = layer.steps(0)
>>> list(steps)
['q', 'k', 'v', 'scores', 'scaled', 'masked', 'probability', 'output']
>>> steps["masked"][0].tolist(), [round(float(p), 3) for p in steps["probability"][1]]
([1.0, -inf], [0.269, 0.731])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

STEPS = ("scores", "scaled", "softcapped", "biased", "masked", "probability", "output")
"""Every step a layer can have, in order (``softcapped`` and ``biased`` only where the model
does them)."""


class GroupedHeads:
    """Head counts of a layer whose ``q`` is ``[heads, ...]`` and ``k`` ``[kv_heads, ...]``
    (grouped-query and multi-query models keep fewer key/value heads)."""

    q: FloatArray
    k: FloatArray

    @property
    def heads(self) -> int:
        """Query heads."""
        return int(self.q.shape[0])

    @property
    def kv_heads(self) -> int:
        """Key/value heads (fewer than ``heads`` for grouped-query and multi-query models)."""
        return int(self.k.shape[0])

    @property
    def group(self) -> int:
        """Query heads per key/value head: ``repeat_kv`` expands K and V this many times."""
        return self.heads // self.kv_heads


@dataclass(frozen=True, eq=False)
class QKVLayer(GroupedHeads):
    """One attention call of one sequence: its inputs per head and how it combined them.

    ``hidden`` ``[heads or 1, query, key]`` is True where a query may not see a key (causal,
    padding, sliding window), ``None`` when every key is seen; ``bias`` (same shape) is added
    to the scores before the mask. ``window`` is the band of ``key - query`` offsets a sliding
    window lets through (``(-3, 0)``: a causal window of 4), ``None`` without one.
    """

    name: str
    q: FloatArray
    k: FloatArray
    v: FloatArray
    z: FloatArray
    hidden: BoolArray | None = None
    bias: FloatArray | None = None
    scale: float = 1.0
    softcap: float | None = None
    window: tuple[int, int] | None = None
    causal: bool = False

    def __post_init__(self) -> None:
        for field_name in ("q", "k", "v", "z"):
            if getattr(self, field_name).ndim != 3:
                raise ValueError(
                    f"{self.name}: {field_name} has shape {getattr(self, field_name).shape}; "
                    "expected [heads, tokens, d_head]"
                )
        if self.heads % self.kv_heads:
            raise ValueError(
                f"{self.name}: {self.heads} query heads cannot share {self.kv_heads} key/value "
                "heads evenly"
            )

    def kv_head(self, head: int) -> int:
        """The key/value head that query head ``head`` reads (``head // group``).

        Example:
            >>> z = np.zeros((4, 1, 2), np.float32)
            >>> QKVLayer("a", z, z[:2], z[:2], z).kv_head(3)
            1
        """
        return self._check_head(head) // self.group

    def step_names(self) -> list[str]:
        """The steps this layer has, in order (``softcapped`` / ``biased`` only when done)."""
        skip = {"softcapped"} if not self.softcap else set()
        if self.bias is None:
            skip.add("biased")
        return [name for name in STEPS if name not in skip]

    def steps(self, head: int) -> dict[str, FloatArray]:
        """``q``, ``k``, ``v`` of ``head`` and every step, each float32 as the model computes it.

        Rows whose keys are all hidden get uniform probabilities, as eager attention gives them.
        """
        kv = self.kv_head(head)
        q, k, v = self.q[head], self.k[kv], self.v[kv]
        out: dict[str, FloatArray] = {"q": q, "k": k, "v": v}
        current = out["scores"] = (q @ k.T).astype(np.float32)
        current = out["scaled"] = (current * np.float32(self.scale)).astype(np.float32)
        if self.softcap:
            cap = np.float32(self.softcap)
            current = out["softcapped"] = (np.tanh(current / cap) * cap).astype(np.float32)
        if self.bias is not None:
            current = out["biased"] = (current + self.bias[min(head, len(self.bias) - 1)]).astype(
                np.float32
            )
        hidden = self.hidden_of(head)
        out["masked"] = np.where(hidden, np.float32(-np.inf), current).astype(np.float32)
        lowest = np.finfo(np.float32).min
        filled = np.where(hidden, lowest, current)
        top = filled.max(axis=-1, keepdims=True)
        exp = np.exp(filled - top)
        out["probability"] = (exp / exp.sum(axis=-1, keepdims=True)).astype(np.float32)
        out["output"] = (out["probability"] @ v).astype(np.float32)
        return out

    def hidden_of(self, head: int) -> BoolArray:
        """``[query, key]``: True where ``head``'s queries may not see a key."""
        shape = (self.q.shape[1], self.k.shape[1])
        if self.hidden is None:
            return np.zeros(shape, bool)
        return np.broadcast_to(self.hidden[min(head, len(self.hidden) - 1)], shape)

    def _check_head(self, head: int) -> int:
        if not 0 <= head < self.heads:
            raise IndexError(f"head {head} out of range: {self.name} has heads 0..{self.heads - 1}")
        return head


class QKVRecord(Sequence[QKVLayer]):
    """The ``QKVLayer`` of every recorded attention call of one sequence, in call order.

    Example:
        >>> z = np.zeros((2, 3, 4), np.float32)
        >>> rec = QKVRecord([QKVLayer("h.0.attn", z, z, z, z, scale=0.5)])
        >>> rec.layer_names, rec[0].heads, rec.steps(0, 1)["scaled"].shape
        (['h.0.attn'], 2, (3, 3))
    """

    def __init__(self, layers: Sequence[QKVLayer]) -> None:
        self._layers = list(layers)

    def __len__(self) -> int:
        return len(self._layers)

    def __getitem__(self, index: int) -> QKVLayer:  # type: ignore[override]
        count = len(self._layers)
        if not isinstance(index, (int, np.integer)) or not -count <= index < count:
            raise IndexError(f"layer {index!r} out of range: this record has layers 0..{count - 1}")
        return self._layers[index]

    def __iter__(self) -> Iterator[QKVLayer]:
        return iter(self._layers)

    @property
    def layer_names(self) -> list[str]:
        """Module path of each layer, e.g. ``model.layers.0.self_attn``."""
        return [layer.name for layer in self._layers]

    def steps(self, layer: int, head: int) -> dict[str, FloatArray]:
        """``self[layer].steps(head)``."""
        return self[layer].steps(head)

    def __repr__(self) -> str:
        if not self._layers:
            return "QKVRecord(layers=0)"
        first = self._layers[0]
        return (
            f"QKVRecord(layers={len(self)}, heads={first.heads}, kv_heads={first.kv_heads}, "
            f"tokens={first.q.shape[1]}, d_head={first.q.shape[2]})"
        )
