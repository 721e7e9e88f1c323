"""Read a model's positional encoding into a ``PositionScheme`` (torch side, no widgets).

Detected, in this order: rotary tables (every rotary module's ``inv_freq`` buffer, or one
``<layer type>_inv_freq`` per layer type as Gemma 3 and ModernBERT hold them: local and global
layers turn at different bases), T5 relative buckets (``relative_attention_bias`` on the first
block), BLOOM ALiBi, learned absolute tables (GPT-2 ``wpe``, BERT/ViT
``embeddings.position_embeddings``). ``extract_all_positions`` gives every table, each labelled
with the layers that use it (``params["layers"]``, ``params["layer_type"]``).
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
    return extract_all_positions(model, length)[0]


def extract_all_positions(
    model: torch.nn.Module, length: int | None = None
) -> list[PositionScheme]:
    """Every positional table of the model: one per rotary table (e.g. Gemma 3's local and
    global bases, each with ``params["layers"]``), else the one scheme ``extract_positions``
    finds. Raises ``PositionSchemeNotFound`` when there is none.

    Example:
        >>> from transformers import Gemma3TextConfig, Gemma3TextModel
        >>> model = Gemma3TextModel(Gemma3TextConfig(num_hidden_layers=3, hidden_size=16,
        ...     intermediate_size=32, num_attention_heads=2, num_key_value_heads=1, head_dim=8,
        ...     vocab_size=32, sliding_window=4, layer_types=["sliding_attention",
        ...     "sliding_attention", "full_attention"]))
        >>> [(s.params["layer_type"], s.params["layers"], s.theta)
        ...  for s in extract_all_positions(model)]
        [('sliding_attention', [0, 1], 10000.0), ('full_attention', [2], 1000000.0)]
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"extract_positions() takes a torch.nn.Module, not {type(model).__name__}")
    count = length if length is not None else _default_length(model)
    if count <= 0:
        raise ValueError(f"length must be positive, got {count}")
    rotary = _rotary_tables(model, count)
    if rotary:
        return rotary
    for read in (_t5, _alibi, _learned):
        scheme = read(model, count)
        if scheme is not None:
            return [scheme]
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


def all_positions_of(model: torch.nn.Module) -> list[PositionScheme]:
    """``extract_all_positions`` with default lengths, or ``[]`` when the model has none.

    Example:
        >>> all_positions_of(torch.nn.Linear(2, 2))
        []
    """
    try:
        return extract_all_positions(model)
    except PositionSchemeNotFound:
        return []


def _rotary_buffers(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """``{layer type or "": inv_freq}`` of a rotary module: its own ``inv_freq`` buffer or one
    ``<layer type>_inv_freq`` buffer per layer type (never the ``original_inv_freq`` copies)."""
    found = {}
    for name, buffer in module.named_buffers(recurse=False):
        if name == "inv_freq":
            found[""] = buffer
        elif name.endswith("_inv_freq") and not name.endswith("original_inv_freq"):
            found[name[: -len("_inv_freq")]] = buffer
    name = type(module).__name__.lower()
    if not found and ("rotary" in name or "rope" in name):
        inv_freq = getattr(module, "inv_freq", None)  # a plain attribute, not a buffer
        if isinstance(inv_freq, torch.Tensor):
            found[""] = inv_freq
    return found


def _rotary_tables(model: torch.nn.Module, length: int) -> list[PositionScheme]:
    """One scheme per distinct rotary table; identical per-layer copies (ESM keeps one rotary
    module per attention layer) become one scheme listing their layers."""
    blocks = _block_of_module(model)
    grouped: dict[tuple[str, str, bytes], dict[str, Any]] = {}
    for path, module in model.named_modules():
        for layer_type, inv_freq in _rotary_buffers(module).items():
            table = _numpy(inv_freq)
            key = (type(module).__name__, layer_type, table.tobytes())
            entry = grouped.setdefault(
                key, {"path": path, "module": module, "blocks": [], "inv_freq": table}
            )
            if path in blocks:
                entry["blocks"].append(blocks[path])
    schemes = []
    for (_, layer_type, _), entry in grouped.items():
        module, path = entry["module"], entry["path"]
        config = _text_config(getattr(module, "config", None) or getattr(model, "config", None))
        parameters = getattr(config, "rope_parameters", None) or {}
        if layer_type and isinstance(parameters.get(layer_type), dict):
            parameters = parameters[layer_type]
        theta: Any = parameters.get("rope_theta", getattr(config, "rope_theta", None))
        scaling: Any = getattr(
            module, f"{layer_type}_attention_scaling" if layer_type else "", None
        )
        if scaling is None:
            scaling = getattr(module, "attention_scaling", 1.0)
        buffer = f"{layer_type}_inv_freq" if layer_type else ""
        source = _where(model, f"{path}.{buffer}".strip(".") if buffer else path)
        params: dict[str, Any] = {"rope_type": parameters.get("rope_type", "default")}
        layers = entry["blocks"] or _layers_of_type(config, layer_type)
        if layer_type:
            params["layer_type"] = layer_type
        if layers:
            params["layers"] = layers
        schemes.append(
            PositionScheme(
                "rotary", source, inv_freq=entry["inv_freq"],
                theta=float(theta) if theta is not None else None,
                attention_scaling=float(scaling), length=length, params=params,
            )
        )  # fmt: skip
    # the layers in order: local before global when the first layer is a local one
    return sorted(schemes, key=lambda scheme: min(scheme.params.get("layers") or [0]))


def _text_config(config: Any) -> Any:
    """The text part of a multimodal config (``get_text_config``), else the config itself."""
    text = getattr(config, "get_text_config", None)
    return (text() if callable(text) else None) or config


def _layers_of_type(config: Any, layer_type: str) -> list[int]:
    types = getattr(config, "layer_types", None)
    if not layer_type or not isinstance(types, (list, tuple)):
        return []
    return [index for index, name in enumerate(types) if name == layer_type]


def _block_of_module(model: torch.nn.Module) -> dict[str, int]:
    """Module path -> index of the transformer block it sits in (modules inside blocks only)."""
    from .aliases import find_blocks

    found: dict[str, int] = {}
    for index, (block_path, block) in enumerate(find_blocks(model)):
        for inner, _ in block.named_modules(prefix=block_path):
            found[inner] = index
    return found


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
