"""Checks of ``capture()``'s options before the model runs: each one applies, or raises here.

``layers=`` narrows what every other option records: attention (and ``scores`` / ``qkv``) in
the selected modules, ``residual`` and ``norms`` in the blocks the selection touches (a block
whose attention is selected counts). An option that would record nothing under the selection
raises a ``ValueError`` naming the option, the selection and what there is to select.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from .aliases import LayerSelection, is_attention_module
from .attention.recompute import KINDS

_KEEPABLE = (torch.float32, torch.float16, torch.float64)


def kinds_of(attention: bool, scores: bool | str | Iterable[str]) -> frozenset[str]:
    """The attention steps asked for: ``probability`` and the ``scores=`` kinds.

    Example:
        >>> sorted(kinds_of(True, "masked"))
        ['masked', 'probability']
    """
    kinds = {"probability"} if attention else set()
    if scores is True:
        kinds |= {"scores", "scaled", "masked"}
    elif isinstance(scores, str):
        kinds.add(scores)
    elif scores:
        kinds |= set(scores)
    unknown = kinds - set(KINDS)
    if unknown:
        raise ValueError(f"scores= takes {KINDS[1:]}, not {sorted(unknown)}")
    return frozenset(kinds)


def check_attention(attention: object, scores: object) -> bool:
    """Whether ``attention="qk"`` was asked for; ValueError for anything but True, False and
    ``"qk"``, or for ``scores=`` beside ``"qk"`` (scores are dense).

    Example:
        >>> check_attention("qk", False), check_attention(True, "masked")
        (True, False)
    """
    if isinstance(attention, str):
        if attention != "qk":
            raise ValueError(f"attention= takes True, False or 'qk', not {attention!r}")
        if scores:
            raise ValueError(
                "scores= records dense [query, key] steps, attention='qk' keeps Q and K instead: "
                "use one or the other (a QKRecord gives probabilities; scores need attention=True)"
            )
        return True
    if not isinstance(attention, bool):
        raise TypeError(f"attention= takes True, False or 'qk', not {type(attention).__name__}")
    return False


def check_dtype(dtype: torch.dtype) -> None:
    if dtype not in _KEEPABLE:
        raise TypeError(
            f"dtype={dtype} cannot be kept: records are numpy arrays, so use one of "
            f"{[str(d) for d in _KEEPABLE]} (numpy has no bfloat16; float16 halves memory)"
        )


def _listed(paths: list[str], count: int = 4) -> str:
    more = f" and {len(paths) - count} more" if len(paths) > count else ""
    return f"{', '.join(paths[:count])}{more}"


def check_selection(
    model: torch.nn.Module,
    selection: LayerSelection,
    *,
    attention: bool,
    residual: bool,
    norm_paths: list[str],
) -> None:
    """Raise when ``layers=`` leaves an option nothing to record.

    ``attention``: attention, ``scores`` or ``qkv`` was asked for; ``norm_paths``: the norm
    modules (when ``norms=`` was asked for).

    Example:
        >>> from transformers import GPT2Config, GPT2Model
        >>> m = GPT2Model(GPT2Config(n_layer=2, n_head=2, n_embd=8, vocab_size=10))
        >>> check_selection(m, LayerSelection(m, "h.*.mlp"), attention=True, residual=False,
        ...                 norm_paths=[])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: layers='h.*.mlp' selects no attention module, so attention=True ...
    """
    if selection.everything:
        return
    layers = f"layers={selection.text}"
    if attention:
        found = [p for p, m in model.named_modules() if p and is_attention_module(m)]
        outermost = [p for p in found if not any(p.startswith(f"{o}.") for o in found)]
        if outermost and not any(selection(p) for p in found):
            raise ValueError(
                f"{layers} selects no attention module, so attention=True (and scores= / "
                f"qkv=) would record nothing. Attention modules: {_listed(outermost)}. Select "
                "them (e.g. layers=[0, 1] or a path), or pass attention=False to record only "
                "residual= / norms= / modules="
            )
    if residual:
        blocks = selection.blocks
        if blocks and not any(selection.touches(b) for b in blocks):
            raise ValueError(
                f"residual=True: {layers} touches none of the transformer blocks "
                f"({_listed(blocks)}), so no residual stream would be recorded. Select a block "
                "or something inside one (its attention, its MLP), e.g. layers=[0]"
            )
    if norm_paths and not any(selection.widened(p) for p in norm_paths):
        raise ValueError(
            f"norms=True: {layers} selects no norm module and no block holding one (norm "
            f"modules: {_listed(norm_paths)}), so no norm would be recorded. Select a block, "
            "e.g. layers=[0], or leave norms off"
        )
