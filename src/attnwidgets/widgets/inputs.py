"""Normalise what users pass to widgets into one record type (numpy only, no torch import)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import traitlets

from ..records import AttentionRecord


def _to_numpy(value: Any) -> Any:
    """Tensors (torch, or anything with ``detach``/``numpy``) to float32 numpy, without torch."""
    if hasattr(value, "detach"):
        value = value.detach()
        if hasattr(value, "cpu"):
            value = value.cpu()
        if hasattr(value, "float"):
            value = value.float()
        return value.numpy()
    return np.asarray(value, dtype=np.float32)


ACCEPTED = (
    "a Run (aw.wrap(model, tok)(text)), an AttentionRecord, the tuple of per-layer "
    "[1, heads, query, key] tensors transformers returns (outputs.attentions), a model output "
    "holding .attentions, a TransformerLens cache (or any mapping) holding "
    "'blocks.{i}.attn.hook_pattern', or an array [layers, heads, query, key] / "
    "[heads, query, key] (numpy or torch)"
)
PATTERN_KEY = re.compile(r"^blocks\.(\d+)\.attn\.hook_pattern$")


def as_attention_record(data: Any) -> AttentionRecord:
    """The one input boundary of the attention widgets (``AttentionView``, ``head_view``,
    ``model_view``): what a user holds as one ``AttentionRecord``, or a clear error.

    Accepted: a Run, an AttentionRecord, an array ``[layers, heads, q, k]`` or ``[heads, q, k]``
    (``[layers, 1, heads, q, k]`` too), a tuple of per-layer tensors ``[batch=1, heads, q, k]``
    as transformers returns them (or a model output holding it as ``.attentions``), and a
    TransformerLens cache or any mapping holding ``blocks.{i}.attn.hook_pattern``.

    Example:
        >>> as_attention_record(np.zeros((2, 1, 3, 3))).shape
        (2, 1, 3, 3)
        >>> as_attention_record([np.zeros((1, 4, 3, 3))] * 2).shape
        (2, 4, 3, 3)
        >>> cache = {f"blocks.{i}.attn.hook_pattern": np.ones((1, 2, 3, 3)) / 3 for i in (1, 0)}
        >>> rec = as_attention_record(cache)
        >>> rec.shape, rec.layer_names
        ((2, 2, 3, 3), ['blocks.0.attn.hook_pattern', 'blocks.1.attn.hook_pattern'])
    """
    if isinstance(data, AttentionRecord):
        return data
    inner = getattr(data, "attention", None)
    if isinstance(inner, AttentionRecord):
        return inner
    outputs = getattr(data, "attentions", None)
    if isinstance(outputs, (tuple, list)) and not isinstance(data, (tuple, list)):
        data = outputs  # a transformers model output
    if _is_mapping(data):
        return _from_mapping(data)
    if isinstance(data, (tuple, list)):
        if not data:
            raise ValueError(
                "no attention layers given (an empty tuple: with transformers 5 on sdpa, "
                "output_attentions=True returns nothing; use attnwidgets.wrap or capture)"
            )
        layers = [_squeeze_batch(_array(layer), i) for i, layer in enumerate(data)]
        return AttentionRecord(layers)
    array = _array(data)
    if array.ndim == 5:
        if array.shape[1] != 1:
            raise ValueError(
                f"attention array {array.shape} holds a batch of {array.shape[1]}; "
                "pass one sequence, e.g. array[:, 0]"
            )
        array = array[:, 0]
    return AttentionRecord.from_array(array)


def _is_mapping(data: Any) -> bool:
    keys = getattr(data, "keys", None)
    return callable(keys) and hasattr(data, "__getitem__")


def _from_mapping(data: Any) -> AttentionRecord:
    found = sorted(
        (int(match.group(1)), name)
        for name in data.keys()  # noqa: SIM118 (mapping-like objects may not iterate keys)
        if isinstance(name, str) and (match := PATTERN_KEY.match(name))
    )
    if not found:
        raise ValueError(
            "this mapping holds no 'blocks.{i}.attn.hook_pattern' entries; run TransformerLens "
            "with those hooks cached, or pass the attention tuple (outputs.attentions)"
        )
    layers = [_squeeze_batch(_array(data[name]), i) for i, name in found]
    return AttentionRecord(layers, [name for _, name in found])


def _array(value: Any) -> Any:
    """A tensor or array-like as a float32 numpy array, or a TypeError naming what is accepted."""
    what = f"cannot read attention from {type(value).__name__}: expected {ACCEPTED}"
    try:
        array = np.asarray(_to_numpy(value), dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise TypeError(what) from error
    if array.ndim == 0:
        raise TypeError(what)
    return array


def _squeeze_batch(layer: Any, index: int) -> Any:
    if layer.ndim == 4:
        if layer.shape[0] != 1:
            raise ValueError(
                f"attention layer {index} has shape {layer.shape}: a batch of {layer.shape[0]}; "
                "pass one sequence, e.g. [a[i:i+1] for a in attentions]"
            )
        return layer[0]
    return layer


def token_labels(tokens: Sequence[Any] | None, count: int, axis: str) -> list[str]:
    """Labels for ``count`` positions: the given tokens as strings, or position numbers.

    Example:
        >>> token_labels(None, 3, "query")
        ['0', '1', '2']
    """
    if tokens is None:
        return [str(i) for i in range(count)]
    labels = [clean_text(str(token)) for token in tokens]
    if len(labels) != count:
        plural = "queries" if axis == "query" else f"{axis}s"
        raise ValueError(f"{len(labels)} {axis} tokens given for an attention of {count} {plural}")
    return labels


_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` as it can travel to the browser: UTF-16 surrogate pairs joined into their
    character, lone surrogates (which no UTF-8 message can carry: the whole trait update
    would fail and the old labels stay) replaced by U+FFFD.

    Example:
        >>> clean_text("a\\ud800b"), clean_text("\\ud83d\\ude00"), clean_text("plain")
        ('a\ufffdb', '😀', 'plain')
    """
    if _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


class Text(traitlets.Unicode):  # type: ignore[type-arg]
    """A ``Unicode`` trait whose values are passed through ``clean_text`` (labels, names,
    messages: anything shown that may come from a tokenizer or a model)."""

    def validate(self, obj: Any, value: Any) -> str:
        return clean_text(super().validate(obj, value))
