"""Attention *stacks*: the groups of recorded layers that share query and key token axes.

An encoder-decoder records three stacks (``encoder`` self-attention, ``decoder``
self-attention, ``cross``: decoder rows x encoder columns), CLIP two (``vision``, ``text``),
LLaVA two (``vision`` tower, ``text`` language model), a decoder-only model one
(``attention``). Stacks are found from module paths (a *tower* word such as ``encoder``,
``decoder``, ``vision_model``, ``language_model``, and a cross-attention word such as
``EncDecAttention``, ``encoder_attn``, ``crossattention``) and from shapes (layers of one tower
with different shapes are split; a non-square decoder stack whose keys match the encoder's
queries is cross attention). numpy only: widgets use this too.

Each stack's rows and columns are *axes* (``encoder``, ``decoder``, ``vision``, ``text``,
``tokens``, ...); ``label_stacks`` gives them token labels, or position labels
(``position_labels``, the hook that names image patches) with a note saying where token
labels would come from.

>>> import numpy as np
>>> from attnwidgets.records import AttentionRecord
>>> names = ["encoder.block.0.layer.0.SelfAttention", "decoder.block.0.layer.0.SelfAttention",
...          "decoder.block.0.layer.1.EncDecAttention"]
>>> rec = AttentionRecord([np.zeros((2, 4, 4)), np.zeros((2, 3, 3)), np.zeros((2, 3, 4))], names)
>>> stacks = split_stacks(rec)
>>> [(s.name, s.query_axis, s.key_axis, s.record.shape) for s in stacks.values()]
... # doctest: +NORMALIZE_WHITESPACE
[('encoder', 'encoder', 'encoder', (1, 2, 4, 4)), ('decoder', 'decoder', 'decoder', (1, 2, 3, 3)),
 ('cross', 'decoder', 'encoder', (1, 2, 3, 4))]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .records import AttentionRecord

DEFAULT_AXIS = "tokens"
"""The axis of a model without tower words (a decoder-only LM, BERT's encoder...): the
``input_ids``. ``encoder`` and ``text`` axes also take the ``input_ids`` labels when they fit."""
POSITION_ONLY = ("vision", "audio")
"""Axes whose positions have no token text (image patches, audio frames)."""

_CROSS = re.compile(r"cross|encdec|enc_dec|encoder_attn|src_attn", re.IGNORECASE)
_TOWERS = {
    "encoder": "encoder",
    "decoder": "decoder",
    "text_model": "text",
    "text_encoder": "text",
    "text_tower": "text",
    "language_model": "text",
    "visual": "vision",
    "image_encoder": "vision",
    "qformer": "qformer",
}


def _tower(part: str) -> str | None:
    lowered = part.lower()
    if lowered in _TOWERS:
        return _TOWERS[lowered]
    if lowered.startswith("vision"):
        return "vision"
    if lowered.startswith("audio"):
        return "audio"
    return None


def path_role(name: str) -> tuple[str | None, bool]:
    """``(tower, cross)`` of a module path: the first tower word in it, and whether a part
    names cross attention.

    Example:
        >>> path_role("model.vision_tower.encoder.layers.0.self_attn")
        ('vision', False)
        >>> path_role("decoder.layers.1.encoder_attn"), path_role("transformer.h.0.attn")
        (('decoder', True), (None, False))
    """
    parts = name.split(".")
    cross = any(_CROSS.search(part) for part in parts)
    for part in parts:
        if _CROSS.search(part):
            continue
        tower = _tower(part)
        if tower is not None:
            return tower, cross
    return None, cross


def _prefix(name: str) -> str:
    """The path up to the first layer index (``model.layers``), else the parent path."""
    parts = name.split(".")
    for index, part in enumerate(parts):
        if part.isdigit():
            return ".".join(parts[:index])
    return ".".join(parts[:-1])


@dataclass(frozen=True)
class Stack:
    """One stack: its layers (``record``, indices ``layers`` into the whole record), the axes
    of its rows and columns, and (after ``label_stacks``) their labels.

    ``note`` says where labels would come from when positions are shown;
    ``generated_from`` is the first generated position (self-attention over a generated
    sequence), -1 for none; ``scores`` holds the pre-softmax kinds split the same way.
    """

    name: str
    record: AttentionRecord
    layers: tuple[int, ...]
    query_axis: str
    key_axis: str
    query_tokens: list[str] = field(default_factory=list)
    key_tokens: list[str] = field(default_factory=list)
    scores: dict[str, AttentionRecord] = field(default_factory=dict)
    note: str = ""
    generated_from: int = -1

    @property
    def n_queries(self) -> int:
        return int(self.record[0].shape[1])

    @property
    def n_keys(self) -> int:
        return int(self.record[0].shape[2])

    @property
    def is_self(self) -> bool:
        """Rows and columns are the same positions."""
        return self.query_axis == self.key_axis


@dataclass
class _Group:
    tower: str | None
    cross: bool
    prefix: str
    shape: tuple[int, int]
    layers: list[int]
    name: str = ""
    axes: tuple[str, str] = (DEFAULT_AXIS, DEFAULT_AXIS)


def _groups(record: AttentionRecord) -> list[_Group]:
    """Layers grouped by tower, cross, path prefix (towers without a word) and shape."""
    found: dict[tuple[Any, ...], _Group] = {}
    for index, (name, layer) in enumerate(zip(record.layer_names, record, strict=True)):
        tower, cross = path_role(name)
        prefix = _prefix(name) if tower is None else ""
        shape = (int(layer.shape[1]), int(layer.shape[2]))
        key = (tower, cross, prefix, shape)
        if key not in found:
            found[key] = _Group(tower, cross, prefix, shape, [])
        found[key].layers.append(index)
    groups = list(found.values())
    if len({g.prefix for g in groups if g.tower is None}) == 1:
        for group in groups:  # one unnamed tower: its prefix says nothing to a person
            group.prefix = ""
    return groups


def _name_groups(groups: list[_Group]) -> None:
    encoder = [g for g in groups if g.tower == "encoder" and not g.cross]
    vision = [g for g in groups if g.tower == "vision" and not g.cross]
    encoder_queries = {g.shape[0] for g in encoder}
    for group in groups:
        base = group.tower or group.prefix or "attention"
        cross = group.cross
        if (
            not cross
            and group.tower in ("decoder", None)
            and group.shape[0] != group.shape[1]
            and group.shape[1] in encoder_queries
        ):
            cross = True  # nn.Transformer's decoder.layers.*.multihead_attn
        if cross:
            group.name = "cross" if group.tower in ("decoder", None) else f"{base} cross"
            query = group.tower or DEFAULT_AXIS
            keys = "encoder" if encoder or not vision else "vision"
            group.axes = (query, keys)
        else:
            group.name = base
            axis = group.tower or (group.prefix or DEFAULT_AXIS)
            group.axes = (axis, axis)
    counts: dict[str, int] = {}
    for group in groups:
        counts[group.name] = counts.get(group.name, 0) + 1
    for group in groups:  # one tower with layers of different shapes (e.g. pooled queries)
        if counts[group.name] > 1:
            group.name = f"{group.name} {group.shape[0]}x{group.shape[1]}"


def split_stacks(
    record: AttentionRecord, scores: Mapping[str, AttentionRecord] | None = None
) -> dict[str, Stack]:
    """The record's stacks by name, in the order their first layer was recorded; ``scores``
    (pre-softmax records of the same layers) are split the same way. Labels are left empty
    (see ``label_stacks``).

    Example:
        >>> rec = AttentionRecord.from_array(np.zeros((3, 2, 5, 5)))
        >>> {name: s.record.shape for name, s in split_stacks(rec).items()}
        {'attention': (3, 2, 5, 5)}
    """
    if not len(record):
        return {}
    for kind, other in (scores or {}).items():
        if len(other) != len(record):
            raise ValueError(
                f"scores[{kind!r}] has {len(other)} layers, the attention {len(record)}"
            )
    groups = _groups(record)
    _name_groups(groups)
    stacks: dict[str, Stack] = {}
    for group in groups:
        kinds = {kind: _subset(other, group.layers) for kind, other in (scores or {}).items()}
        stacks[group.name] = Stack(
            group.name,
            _subset(record, group.layers),
            tuple(group.layers),
            *group.axes,
            scores=kinds,
        )
    return stacks


def _subset(record: AttentionRecord, layers: Sequence[int]) -> AttentionRecord:
    if list(layers) == list(range(len(record))):
        return record
    return AttentionRecord(
        [record[i] for i in layers], [record.layer_names[i] for i in layers], kind=record.kind
    )


def rename_axis(stacks: Mapping[str, Stack], old: str, new: str) -> dict[str, Stack]:
    """The stacks with axis ``old`` called ``new`` (a ViT run on ``pixel_values``: its one
    stack is over image patches, ``"vision"``).

    Example:
        >>> rec = AttentionRecord.from_array(np.zeros((1, 1, 5, 5)))
        >>> rename_axis(split_stacks(rec), DEFAULT_AXIS, "vision")["attention"].key_axis
        'vision'
    """

    def axis(name: str) -> str:
        return new if name == old else name

    return {
        name: replace(stack, query_axis=axis(stack.query_axis), key_axis=axis(stack.key_axis))
        for name, stack in stacks.items()
    }


POSITION_LABELERS: dict[str, Callable[[int], list[str]]] = {}
"""Axis name -> a function giving the labels of ``count`` positions of that axis. Empty by
default (positions are numbered); the vision work registers ``"vision"`` to name patches
``(r, c)``."""


def position_labels(axis: str, count: int) -> list[str]:
    """Labels for ``count`` positions of ``axis`` when there is no token text: the labeller
    registered for the axis in ``POSITION_LABELERS``, else ``"0"``, ``"1"``, ...

    Example:
        >>> position_labels("vision", 3)
        ['0', '1', '2']
    """
    labeller = POSITION_LABELERS.get(axis)
    if labeller is not None:
        labels = [str(label) for label in labeller(count)]
        if len(labels) == count:
            return labels
    return [str(i) for i in range(count)]


def _axis_labels(
    axis: str, count: int, labels: Mapping[str, Sequence[str]], missing: str
) -> tuple[list[str], str]:
    """Labels of one axis, and why they are positions ("" when they are tokens)."""
    own = labels.get(axis)
    if own is not None and len(own) == count:
        return [str(t) for t in own], ""
    default = labels.get(DEFAULT_AXIS)
    shares = own is None and axis not in POSITION_ONLY and axis != "decoder"
    if shares and default is not None and len(default) == count:
        return [str(t) for t in default], ""
    if axis in POSITION_ONLY:
        why = f"no token text for {'image patches' if axis == 'vision' else 'frames'}"
    elif own is not None or default:
        given = len(own) if own is not None else len(default or ())
        why = f"{given} token labels for {count} positions"
    else:
        why = missing
    return position_labels(axis, count), why


def _note(reasons: Sequence[tuple[str, str]]) -> str:
    """``[(axis, why)]`` -> ``"decoder and encoder positions: why"`` (one clause per why)."""
    by_reason: dict[str, list[str]] = {}
    for axis, why in reasons:
        if why and axis not in by_reason.setdefault(why, []):
            by_reason[why].append(axis)
    clauses = []
    for why, axes in by_reason.items():
        named = [axis for axis in axes if axis != DEFAULT_AXIS]
        where = f"{' and '.join(named)} positions" if named else "positions"
        clauses.append(f"{where}: {why}")
    return "; ".join(clauses)


def label_stacks(
    stacks: Mapping[str, Stack],
    labels: Mapping[str, Sequence[str]],
    *,
    missing: str = "no input_ids; pass a tokenizer/ids for token labels",
    generated_from: int = -1,
) -> dict[str, Stack]:
    """Each stack with ``query_tokens`` / ``key_tokens`` from ``labels`` (by axis name;
    ``"tokens"`` serves any axis it fits but image/audio axes), else position labels and a
    ``note`` naming the axis and ``missing`` (what to pass for token labels).
    ``generated_from`` marks self-attention stacks over the token axis.

    Example:
        >>> rec = AttentionRecord([np.zeros((1, 2, 2)), np.zeros((1, 3, 3))],
        ...                       ["vision_model.layers.0.attn", "text_model.layers.0.attn"])
        >>> out = label_stacks(split_stacks(rec), {"tokens": ["a", "b", "c"]})
        >>> out["text"].query_tokens, out["vision"].query_tokens, out["vision"].note
        (['a', 'b', 'c'], ['0', '1'], 'vision positions: no token text for image patches')
    """
    out: dict[str, Stack] = {}
    for name, stack in stacks.items():
        queries, why_q = _axis_labels(stack.query_axis, stack.n_queries, labels, missing)
        keys, why_k = _axis_labels(stack.key_axis, stack.n_keys, labels, missing)
        generated = -1
        if stack.is_self and stack.query_axis in (DEFAULT_AXIS, "text") and not why_q:
            generated = generated_from if 0 < generated_from < stack.n_queries else -1
        out[name] = replace(
            stack,
            query_tokens=queries,
            key_tokens=keys,
            note=_note([(stack.query_axis, why_q), (stack.key_axis, why_k)]),
            generated_from=generated,
        )
    return out


def axis_masks(stacks: Mapping[str, Stack], masks: Mapping[str, Any]) -> dict[int, tuple[Any, Any]]:
    """For each layer index: the boolean masks of the positions kept in its rows and columns
    (``None``: keep all). ``masks`` maps an axis name (``"tokens"`` stands for every axis but
    ``decoder`` and image/audio axes) to a 1-D mask; a mask whose length does not fit the
    axis is not used."""

    def mask_for(axis: str, count: int) -> Any:
        mask = masks.get(axis)
        if mask is None and axis not in POSITION_ONLY and axis != "decoder":
            mask = masks.get(DEFAULT_AXIS)
        if mask is None:
            return None
        kept = np.asarray(mask).astype(bool).reshape(-1)
        return kept if kept.shape[0] == count else None

    found: dict[int, tuple[Any, Any]] = {}
    for stack in stacks.values():
        rows = mask_for(stack.query_axis, stack.n_queries)
        cols = mask_for(stack.key_axis, stack.n_keys)
        for index in stack.layers:
            found[index] = (rows, cols)
    return found


def drop_padding(record: AttentionRecord, kept: Mapping[int, tuple[Any, Any]]) -> AttentionRecord:
    """The record without padded rows and columns (``kept`` from ``axis_masks``).

    Example:
        >>> rec = AttentionRecord.from_array(np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3))
        >>> mask = np.array([0, 1, 1])  # left padding
        >>> stacks = split_stacks(rec)
        >>> drop_padding(rec, axis_masks(stacks, {"tokens": mask}))[0][0].tolist()
        [[4.0, 5.0], [7.0, 8.0]]
    """
    layers = []
    for index, layer in enumerate(record):
        rows, cols = kept.get(index, (None, None))
        block = layer if rows is None else layer[:, rows]
        block = block if cols is None else block[:, :, cols]
        layers.append(np.ascontiguousarray(block))
    return AttentionRecord(layers, record.layer_names, kind=record.kind)
