"""Batches: ``lens(["a", "b"])`` and ``lens(**tok([...], padding=True))`` give ``Runs``
(``attnwidgets.run``), one ``Run`` per example with its padding left out (read from
``attention_mask``, left or right).

The model runs once on the whole batch; each example's attention is cut to its own positions
(rows and columns, per stack: encoder positions by ``attention_mask``, decoder positions by
``decoder_attention_mask``), and so are its ``inputs`` (``input_ids`` and the tensors laid out
like them). ``outputs`` stays the model's output for the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .qk_records import QKRecord
from .records import AttentionRecord
from .run import Run
from .stacks import axis_masks, drop_padding, split_stacks

if TYPE_CHECKING:
    from .lens import Lens


def pad_texts(tokenizer: Any, texts: Sequence[str]) -> dict[str, torch.Tensor]:
    """Encode ``texts`` as one padded batch: the tokenizer's own padding when it has a pad
    token, else each text alone, padded on the tokenizer's ``padding_side`` with the end token
    (masked out: ``attention_mask`` 0). The tokenizer is not changed."""
    if not texts:
        raise ValueError("an empty list of texts: give at least one, e.g. lens(['a', 'b'])")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{index}] is a {type(text).__name__}, not a str")
    if getattr(tokenizer, "pad_token_id", None) is not None:
        return dict(tokenizer(list(texts), padding=True, return_tensors="pt"))
    encoded = [tokenizer(text) for text in texts]
    longest = max(len(e["input_ids"]) for e in encoded)
    fill = getattr(tokenizer, "eos_token_id", None) or 0
    left = getattr(tokenizer, "padding_side", "right") == "left"
    batch: dict[str, list[list[int]]] = {}
    for item in encoded:
        count = len(item["input_ids"])
        pad = longest - count
        item = {**item, "attention_mask": item.get("attention_mask", [1] * count)}
        for key, values in item.items():
            value = fill if key == "input_ids" else 0
            padded = [value] * pad + list(values) if left else list(values) + [value] * pad
            batch.setdefault(key, []).append(padded)
    return {key: torch.tensor(rows) for key, rows in batch.items()}


def _mask_of(inputs: dict[str, Any], key: str, item: int) -> np.ndarray | None:
    mask = inputs.get(key)
    if not isinstance(mask, torch.Tensor) or mask.dim() != 2:
        return None
    return mask[item].detach().cpu().numpy().astype(bool)


def _example_inputs(
    inputs: dict[str, Any], item: int, mask: np.ndarray | None, decoder: np.ndarray | None
) -> dict[str, Any]:
    """Example ``item`` of every batched tensor; those laid out like a mask lose its padding."""
    out: dict[str, Any] = {}
    for key, value in inputs.items():
        if not isinstance(value, torch.Tensor) or value.dim() == 0:
            out[key] = value
            continue
        row = value[item : item + 1]
        keep = decoder if key.startswith("decoder_") else mask
        if keep is not None and row.dim() >= 2 and row.shape[1] == keep.shape[0]:
            row = row[:, torch.from_numpy(keep)]
        out[key] = row
    return out


def example_run(
    lens: Lens,
    item: int,
    records: dict[str, list[AttentionRecord]] | dict[str, list[QKRecord]],
    inputs: dict[str, Any],
    outputs: Any,
    text: str | None,
) -> Run:
    """Example ``item`` of a batch as a Run: its attention (and scores) without padding."""
    attention = records["probability"][item]
    mask = _mask_of(inputs, "attention_mask", item)
    if isinstance(attention, QKRecord):  # Q and K: cut to the example's own positions
        own = _example_inputs(inputs, item, mask, None)
        cut = attention if mask is None else attention.cut(mask)
        text = text if text is not None else lens._decode(own.get("input_ids"))
        return Run(lens._labels(own), cut, own, outputs, lens.model, lens=lens, text=text)
    decoder = _mask_of(inputs, "decoder_attention_mask", item)
    masks = {
        name: value for name, value in (("tokens", mask), ("decoder", decoder)) if value is not None
    }
    kept = axis_masks(split_stacks(attention), masks)
    scores = {
        kind: drop_padding(record, kept)
        for kind, found in records.items()
        if kind != "probability" and isinstance(record := found[item], AttentionRecord)
    }
    own = _example_inputs(inputs, item, mask, decoder)
    return Run(
        lens._labels(own),
        drop_padding(attention, kept),
        own,
        outputs,
        lens.model,
        None,
        scores,
        lens=lens,
        text=text if text is not None else lens._decode(own.get("input_ids")),
    )
