"""Read a model's positional encoding into a ``PositionScheme`` (torch side, no widgets).

Detected, in this order: rotary (``*RotaryEmbedding`` modules with ``inv_freq``, Llama family),
T5 relative buckets (``relative_attention_bias`` on the first block), BLOOM ALiBi, learned
absolute tables (GPT-2 ``wpe``, BERT/ViT ``embeddings.position_embeddings``).
Reading never changes the model: no hooks, no mode switch, only ``torch.no_grad`` reads.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..positions import PositionScheme, learned

DEFAULT_LENGTH = 512  # positions shown for schemes without a table (rotary, T5, ALiBi)


class PositionSchemeNotFound(ValueError):
    """The model has none of the positional encodings attnwidgets knows how to read."""


def extract_positions(model: torch.nn.Module, length: int | None = None) -> PositionScheme:
    """The positional scheme of a Hugging Face model, read from its own modules.

    ``length`` bounds the positions (or relative distances) computed for rotary, T5 and ALiBi;
    by default ``min(config.max_position_embeddings, 512)``.

    Example:
        >>> from transformers import GPT2Config, GPT2Model
        >>> model = GPT2Model(GPT2Config(n_layer=1, n_head=2, n_embd=8, n_positions=16))
        >>> extract_positions(model)
        PositionScheme(kind='learned', source='GPT2Model.wpe', table=[16, 8])
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"extract_positions() takes a torch.nn.Module, not {type(model).__name__}")
    count = length if length is not None else _default_length(model)
    if count <= 0:
        raise ValueError(f"length must be positive, got {count}")
    for read in (_rotary, _t5, _alibi, _learned):
        scheme = read(model, count)
        if scheme is not None:
            return scheme
    raise PositionSchemeNotFound(
        f"no positional encoding found in {type(model).__name__}: looked for a rotary module "
        "with inv_freq (Llama family), T5 relative_attention_bias, BLOOM ALiBi, and learned "
        "tables (GPT-2 wpe, embeddings.position_embeddings). For a formula, build one with "
        "attnwidgets.positions.sinusoidal / rotary / alibi / t5_buckets."
    )


def positions_of(model: torch.nn.Module) -> PositionScheme:
    """What ``Lens.positions()`` returns: ``extract_positions`` with default lengths.

    Example:
        >>> from transformers import BertConfig, BertModel
        >>> bert = BertModel(BertConfig(num_hidden_layers=1, num_attention_heads=2,
        ...                             hidden_size=8, intermediate_size=8, vocab_size=10))
        >>> positions_of(bert).source
        'BertModel.embeddings.position_embeddings'
    """
    return extract_positions(model)


def _default_length(model: torch.nn.Module) -> int:
    config = getattr(model, "config", None)
    limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    return min(int(limit), DEFAULT_LENGTH) if limit else DEFAULT_LENGTH


def _where(model: torch.nn.Module, path: str) -> str:
    return f"{type(model).__name__}.{path}" if path else type(model).__name__


def _numpy(tensor: torch.Tensor) -> Any:
    return tensor.detach().to("cpu", torch.float32).numpy().copy()


def _rotary(model: torch.nn.Module, length: int) -> PositionScheme | None:
    for path, module in model.named_modules():
        inv_freq = getattr(module, "inv_freq", None)
        if not type(module).__name__.endswith("RotaryEmbedding") or inv_freq is None:
            continue
        config = getattr(module, "config", None) or getattr(model, "config", None)
        parameters = getattr(config, "rope_parameters", None) or {}
        theta = parameters.get("rope_theta", getattr(config, "rope_theta", None))
        return PositionScheme(
            "rotary",
            _where(model, path),
            inv_freq=_numpy(inv_freq),
            theta=float(theta) if theta is not None else None,
            attention_scaling=float(getattr(module, "attention_scaling", 1.0)),
            length=length,
            params={"rope_type": parameters.get("rope_type", "default")},
        )
    return None


def _t5(model: torch.nn.Module, length: int) -> PositionScheme | None:
    for path, module in model.named_modules():
        embedding = getattr(module, "relative_attention_bias", None)
        if not isinstance(embedding, torch.nn.Embedding) or not hasattr(module, "compute_bias"):
            continue
        with torch.no_grad():
            matrix = _numpy(module.compute_bias(length, length)[0])  # [heads, query, key]
        distances = np.arange(-(length - 1), length, dtype=np.int64)
        # key - query = d: read row 0 for d >= 0 and column 0 for d < 0.
        bias = np.concatenate([matrix[:, :0:-1, 0], matrix[:, 0, :]], axis=1)
        bidirectional = not bool(getattr(module, "is_decoder", False))
        from ..positions import t5_bucket

        num_buckets = int(module.relative_attention_num_buckets)
        max_distance = int(module.relative_attention_max_distance)
        return PositionScheme(
            "t5", _where(model, path),
            distances=distances, bias=np.ascontiguousarray(bias, np.float32),
            buckets=t5_bucket(distances, bidirectional, num_buckets, max_distance),
            weights=_numpy(embedding.weight), length=length,
            params={"num_buckets": num_buckets, "max_distance": max_distance,
                    "bidirectional": bidirectional, "learned": True},
        )  # fmt: skip
    return None


def _alibi(model: torch.nn.Module, length: int) -> PositionScheme | None:
    config = getattr(model, "config", None)
    if config is None or getattr(config, "model_type", None) != "bloom":
        return None
    from transformers.models.bloom.modeling_bloom import build_alibi_tensor

    heads = int(config.n_head)
    mask = torch.ones(1, length, dtype=torch.long)
    alibi = build_alibi_tensor(mask, heads, torch.float32)  # [heads, 1, length]: slope * key
    slopes = _numpy(alibi[:, 0, 1]) if length > 1 else _numpy(alibi[:, 0, 0])
    distances = np.arange(-(length - 1), length, dtype=np.int64)
    row = _numpy(alibi[:, 0, :])
    # The model adds slope x key to every query row (softmax ignores the per-row constant
    # slope x query), so bias(key - query = d) is row[key] - row[query]; read it at query L-1 and 0.
    bias = np.concatenate([row[:, : length - 1] - row[:, length - 1 :], row - row[:, :1]], axis=1)
    return PositionScheme(
        "alibi", f"{type(model).__name__}.build_alibi_tensor", slopes=slopes,
        distances=distances, bias=np.ascontiguousarray(bias, np.float32), length=length,
    )  # fmt: skip


def _learned(model: torch.nn.Module, length: int) -> PositionScheme | None:
    for path, module in model.named_modules():
        name = path.rsplit(".", 1)[-1]
        if name == "wpe" and isinstance(module, torch.nn.Embedding):
            return learned(_numpy(module.weight), _where(model, path))
        table = getattr(module, "position_embeddings", None)
        if path.rsplit(".", 1)[-1] != "embeddings" or table is None:
            continue
        where = f"{type(model).__name__}.{path}.position_embeddings"
        if isinstance(table, torch.nn.Embedding):
            return learned(_numpy(table.weight), where)
        if isinstance(table, torch.Tensor) and table.dim() == 3:  # ViT: (1, 1 + patches, dim)
            rows = _numpy(table[0])
            return learned(rows, where, *_patch_grid(model, rows.shape[0]))
    return None


def _patch_grid(model: torch.nn.Module, rows: int) -> tuple[tuple[int, int] | None, int]:
    config = getattr(model, "config", None)
    image, patch = getattr(config, "image_size", None), getattr(config, "patch_size", None)
    if isinstance(image, int) and isinstance(patch, int) and patch > 0:
        side = image // patch
        if side * side in (rows, rows - 1):
            return (side, side), rows - side * side
    side = round((rows - 1) ** 0.5)
    if side * side == rows - 1:
        return (side, side), 1
    return None, 0
