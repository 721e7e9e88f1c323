"""StepView: one head's attention step by step, from its own Q, K and V (numpy + traitlets).

The kernel recomputes the chain for the layer and head shown (``QKVLayer.steps``) and sends it
as one binary value of float32 arrays (``data``, an ``arrays.packed_value``):
``q`` ``[query, d]``, ``k`` and ``v`` ``[key, d]``, every step ``[query, key]`` and ``output``
``[query, d]``. The browser draws the step chosen by ``step`` and explains each cell on hover
(the dot product that made it, the weights times the values); the ``layer`` / ``head`` selects
ask the kernel for new data (a trait change, answered with a new ``data``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import anywidget
import numpy as np
import traitlets

from ...qkv_records import QKVLayer, QKVRecord
from ..arrays import packed_value
from ..bundles import bundle, require_bundle


def step_title(layer: QKVLayer, step: str) -> str:
    """What a step does, in words and with the layer's own numbers.

    Example:
        >>> import numpy as np
        >>> z = np.zeros((2, 3, 8), np.float32)
        >>> print(step_title(QKVLayer("a", z, z, z, z, scale=32 ** -0.5), "scaled"))
        scaled: × 0.1768 = 1/√32 (the model's own scale; 1/√d_head would be 1/√8)
    """
    d_head = layer.q.shape[-1]
    if step == "qk":
        return f"Q and K: one row per token, {d_head} numbers per head"
    if step == "scores":
        return "QKᵀ: the dot product of every query row with every key row"
    if step == "scaled":
        return f"scaled: × {layer.scale:.4g} = {_scale_text(layer.scale, d_head)}"
    if step == "softcapped":
        cap = layer.softcap
        return f"soft-capped: {cap:g} · tanh(x / {cap:g}) keeps every score within ±{cap:g}"
    if step == "biased":
        return "+ position bias (added to the scores before the mask)"
    if step == "masked":
        return f"masked: {', '.join(_mask_reasons(layer)) or 'nothing hidden'} (grey = -∞)"
    if step == "probability":
        return "softmax: each row exponentiated and divided by its sum (rows sum to 1)"
    if step == "output":
        return "× V: each query's output is the probability-weighted sum of the value rows (z)"
    raise ValueError(f"unknown step {step!r}")


def _scale_text(scale: float, d_head: int) -> str:
    if math.isclose(scale, d_head**-0.5, rel_tol=1e-6):
        return f"1/√d_head = 1/√{d_head}"
    inverse_square = 1.0 / (scale * scale) if scale else 0.0
    if scale and math.isclose(inverse_square, round(inverse_square), rel_tol=1e-6):
        return f"1/√{round(inverse_square)} (the model's own scale; 1/√d_head would be 1/√{d_head})"
    return f"the model's own scale (1/√d_head would be {d_head**-0.5:.4g})"


def _mask_reasons(layer: QKVLayer) -> list[str]:
    reasons = []
    if layer.causal:
        reasons.append("causal (no later keys)")
    if layer.window is not None:
        reasons.append(f"window {window_size(layer.window)}")
    if layer.hidden is not None:
        n_queries, n_keys = layer.hidden.shape[-2:]
        offset = np.arange(n_keys)[None, :] - (np.arange(n_queries)[:, None] + n_keys - n_queries)
        explained = np.zeros((n_queries, n_keys), bool)
        if layer.causal:
            explained |= offset > 0
        if layer.window is not None:
            explained |= (offset < layer.window[0]) | (offset > layer.window[1])
        if bool((layer.hidden & ~explained).any()):
            reasons.append("padding / attention mask" if reasons else "attention mask")
    return reasons


def window_size(window: Sequence[int]) -> int:
    """Keys a causal window lets each query see, or the width of a two-sided band.

    Example:
        >>> window_size((-3, 0)), window_size((-64, 64))
        (4, 128)
    """
    low, high = window
    return -low + 1 if high == 0 else high - low


class StepView(anywidget.AnyWidget):
    """Attention of one layer and head, step by step: Q and K, QKᵀ, scaled, soft-capped and
    biased where the model does it, masked, softmax, and the weighted sum with V.

    ``data`` is a ``QKVRecord`` (``cap.qkv`` of ``aw.capture(model, qkv=True)``) or a Run
    that holds one (``aw.wrap(model, tok, qkv=True)``); ``tokens`` label the rows.

    Example:
        >>> import numpy as np
        >>> from attnwidgets.qkv_records import QKVLayer, QKVRecord
        >>> q = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32)
        >>> view = StepView(QKVRecord([QKVLayer("h.0.attn", q, q, q, q, scale=0.5)]), list("abc"))
        >>> view.steps, view.data["arrays"]["scores"]["shape"]
        (['qk', 'scores', 'scaled', 'masked', 'probability', 'output'], [3, 3])
    """

    _esm = bundle("step_view.js")

    layer = traitlets.Int(0).tag(sync=True)
    head = traitlets.Int(0).tag(sync=True)
    step = traitlets.Int(0).tag(sync=True)  # index into steps
    n_layers = traitlets.Int(0).tag(sync=True)
    n_heads = traitlets.Int(0).tag(sync=True)  # heads of the layer shown
    layer_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    query_tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    key_tokens = traitlets.List(traitlets.Unicode()).tag(sync=True)
    steps = traitlets.List(traitlets.Unicode()).tag(sync=True)
    step_titles = traitlets.List(traitlets.Unicode()).tag(sync=True)
    info = traitlets.Dict().tag(sync=True)
    data = traitlets.Dict().tag(sync=True)  # arrays.packed_value of the head shown

    def __init__(
        self,
        data: Any,
        tokens: Sequence[str] | None = None,
        *,
        layer: int = 0,
        head: int = 0,
        step: str | int = 0,
        **kwargs: Any,
    ) -> None:
        require_bundle("step_view.js")
        record = getattr(data, "qkv", data)
        if not isinstance(record, QKVRecord) or not len(record):
            raise TypeError(
                "StepView takes a QKVRecord with at least one layer (cap.qkv of "
                "aw.capture(model, qkv=True), or a Run of aw.wrap(model, tok, qkv=True)), "
                f"not {type(data).__name__}"
            )
        if tokens is None and getattr(data, "tokens", None):
            tokens = list(data.tokens)
        self._record = record
        self._tokens = list(tokens) if tokens is not None else None
        layer = layer % len(record)
        head = record[layer]._check_head(head)
        traits = self._layer_traits(layer, head)
        names = traits["steps"]
        index = names.index(step) if isinstance(step, str) and step in names else step
        if not isinstance(index, int) or not 0 <= index < len(names):
            raise ValueError(f"step {step!r} is not one of {names} (or an index into them)")
        super().__init__(
            layer=layer,
            head=head,
            step=index,
            n_layers=len(record),
            layer_names=record.layer_names,
            **traits,
            **kwargs,
        )
        self.observe(self._on_pick, names=["layer", "head"])

    def set_data(self, data: Any, tokens: Sequence[str] | None = None) -> None:
        """Show a new record in place (a new text in the explorer); layer, head and the step
        are kept where they still exist. A Run without Q/K/V (a generation step) is skipped."""
        record = getattr(data, "qkv", data)
        if not isinstance(record, QKVRecord) or not len(record):
            return
        if tokens is None and getattr(data, "tokens", None):
            tokens = list(data.tokens)
        self._record, self._tokens = record, list(tokens) if tokens is not None else None
        with self.hold_sync():
            self.n_layers = len(record)
            self.layer_names = record.layer_names
            layer = min(self.layer, len(record) - 1)
            if layer != self.layer:
                self.layer = layer  # _on_pick sends the layer's data
            else:
                self._on_pick({})

    @property
    def record(self) -> QKVRecord:
        """The record drawn (kept in the kernel)."""
        return self._record

    def _labels(self, count: int) -> list[str]:
        if self._tokens is not None and len(self._tokens) == count:
            return [str(token) for token in self._tokens]
        return [str(i) for i in range(count)]

    def _layer_traits(self, layer: int, head: int) -> dict[str, Any]:
        shown = self._record[layer]
        steps = shown.steps(head)
        names = ["qk", *shown.step_names()]
        return {
            "n_heads": shown.heads,
            "query_tokens": self._labels(shown.q.shape[1]),
            "key_tokens": self._labels(shown.k.shape[1]),
            "steps": names,
            "step_titles": [step_title(shown, name) for name in names],
            "info": {
                "name": shown.name,
                "scale": shown.scale,
                "softcap": shown.softcap,
                "window": list(shown.window) if shown.window else None,
                "window_size": window_size(shown.window) if shown.window else None,
                "causal": shown.causal,
                "heads": shown.heads,
                "kv_heads": shown.kv_heads,
                "kv_head": shown.kv_head(head),
                "d_head": int(shown.q.shape[-1]),
            },
            "data": packed_value(steps),
        }

    def _on_pick(self, change: dict[str, Any]) -> None:
        """A new layer or head: send its steps, keeping the step shown when the layer has it."""
        layer = min(max(self.layer, 0), len(self._record) - 1)
        head = min(max(self.head, 0), self._record[layer].heads - 1)
        current = self.steps[self.step] if 0 <= self.step < len(self.steps) else "qk"
        traits = self._layer_traits(layer, head)
        names = traits["steps"]
        with self.hold_sync():
            for name, value in traits.items():
                self.set_trait(name, value)
            self.set_trait("layer", layer)
            self.set_trait("head", head)
            self.set_trait("step", names.index(current) if current in names else 0)
