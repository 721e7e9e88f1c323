"""Names: Hugging Face module paths, TransformerLens-style aliases, and ``layers=`` selection.

A *block* is a child of the first ``nn.ModuleList`` whose children hold attention modules
(``transformer.h``, ``model.layers``, ``encoder.layer``; the encoder's for encoder-decoders).
TransformerLens names resolve to module paths inside the block:

=============================  ==================================================
``blocks.3.attn.hook_pattern``  attention probabilities of block 3's attention
``blocks.3.attn.hook_attn_scores``  its masked scores (what enters the softmax)
``blocks.3.ln1.hook_normalized``  output of block 3's first norm (``ln2``: second)
``blocks.3.hook_resid_pre`` / ``hook_resid_post``  block 3's input / output
``blocks.3.hook_mlp_out`` / ``hook_attn_out``  MLP / attention output
``blocks.3.attn.hook_q`` / ``hook_k`` / ``hook_v`` / ``hook_z``  queries, keys, values and head
    outputs of ``qkv=True``, ``[batch, pos, heads, d_head]`` as TransformerLens lays them out
=============================  ==================================================
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass

import torch

_ALIAS = re.compile(r"^blocks\.(\d+)(?:\.(attn|ln1|ln2|mlp))?(?:\.(hook_\w+))?$")
_HOOKS = {
    ("attn", "hook_pattern"): "probability",
    ("attn", "hook_attn_scores"): "masked",
    ("attn", "hook_q"): "q",
    ("attn", "hook_k"): "k",
    ("attn", "hook_v"): "v",
    ("attn", "hook_z"): "z",
    ("ln1", "hook_normalized"): "norm",
    ("ln2", "hook_normalized"): "norm",
    (None, "hook_resid_pre"): "resid_pre",
    (None, "hook_resid_post"): "resid_post",
    (None, "hook_mlp_out"): "mlp_out",
    (None, "hook_attn_out"): "attn_out",
}
_MLP_NAMES = ("mlp", "feed_forward", "ffn", "densereludense")
QKV = ("q", "k", "v", "z")
"""What ``hook_q`` / ``hook_k`` / ``hook_v`` / ``hook_z`` resolve to (``Resolved.what``)."""


@dataclass(frozen=True)
class Resolved:
    """Where a name points: a module path, and what of it (``None``: the module itself)."""

    path: str
    what: str | None = None


def is_attention_module(module: torch.nn.Module) -> bool:
    name = type(module).__name__
    return isinstance(module, torch.nn.MultiheadAttention) or "Attention" in name or "Attn" in name


def find_blocks(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """The transformer blocks, as ``(path, module)``: children of the first attention stack.

    Example:
        >>> from transformers import GPT2Config, GPT2Model
        >>> m = GPT2Model(GPT2Config(n_layer=2, n_head=2, n_embd=8, vocab_size=10))
        >>> [path for path, _ in find_blocks(m)]
        ['h.0', 'h.1']
    """
    for path, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and any(
            is_attention_module(inner) for child in module for inner in child.modules()
        ):
            prefix = f"{path}." if path else ""
            return [(f"{prefix}{i}", child) for i, child in enumerate(module)]
    return []


def _descendant(
    block_path: str, block: torch.nn.Module, role: str, *, index: int = 0
) -> str | None:
    found = []
    for path, module in block.named_modules():
        if not path:
            continue
        last = path.rsplit(".", 1)[-1].lower()
        matches = {
            "attn": is_attention_module(module),
            "norm": type(module).__name__.endswith("Norm"),
            "mlp": last in _MLP_NAMES,
        }
        if matches[role]:
            found.append(path)
    if role == "attn":  # the outermost attention module, not its parts
        found = [p for p in found if not any(p.startswith(f"{o}.") for o in found)]
    if role == "norm" and sum("." not in p for p in found) > index:
        found = [p for p in found if "." not in p]  # the block's own norms before inner ones
    return f"{block_path}.{found[index]}" if len(found) > index else None


def resolve(model: torch.nn.Module, name: str) -> Resolved:
    """Turn a module path or a TransformerLens-style alias into a ``Resolved`` module path.

    Example:
        >>> from transformers import GPT2Config, GPT2Model
        >>> m = GPT2Model(GPT2Config(n_layer=2, n_head=2, n_embd=8, vocab_size=10))
        >>> resolve(m, "blocks.1.attn.hook_pattern"), resolve(m, "blocks.0.ln1.hook_normalized")
        (Resolved(path='h.1.attn', what='probability'), Resolved(path='h.0.ln_1', what='norm'))
    """
    match = _ALIAS.match(name)
    if match is None:
        modules = dict(model.named_modules())
        if name in modules:
            return Resolved(name)
        close = difflib.get_close_matches(name, list(modules), n=3)
        hint = f" Did you mean {close}?" if close else ""
        raise KeyError(
            f"{name!r} is neither a module path of {type(model).__name__} nor an alias like "
            f"'blocks.0.attn.hook_pattern'.{hint}"
        )
    index, part, hook = int(match[1]), match[2], match[3]
    blocks = find_blocks(model)
    if not blocks:
        raise KeyError(f"{name!r}: {type(model).__name__} has no stack of attention blocks")
    if index >= len(blocks):
        raise KeyError(f"{name!r}: block {index} out of range, blocks are 0..{len(blocks) - 1}")
    block_path, block = blocks[index]
    if part is None and hook is None:
        return Resolved(block_path)
    what = _HOOKS.get((part, hook)) if hook else None
    if hook and what is None:
        raise KeyError(f"{name!r}: unknown hook; known: {sorted(h for _, h in _HOOKS)}")
    if part in (None, "attn") and what in (None, "probability", "masked", "attn_out", *QKV):
        role, nth = "attn", 0
    elif part in ("ln1", "ln2"):
        role, nth = "norm", 0 if part == "ln1" else 1
    elif what == "mlp_out" or part == "mlp":
        role, nth = "mlp", 0
    else:
        return Resolved(block_path, what)
    path = _descendant(block_path, block, role, index=nth)
    if path is None:
        children = [n for n, _ in block.named_children()]
        raise KeyError(f"{name!r}: found no {role} module in block {block_path} ({children})")
    return Resolved(path, what)


class LayerSelection:
    """Which module paths a capture records: ``layers=None`` (all), ints (block indices), or
    names (module paths, globs like ``'*.attn'``, aliases); raises on names that match nothing.

    Example:
        >>> from transformers import GPT2Config, GPT2Model
        >>> m = GPT2Model(GPT2Config(n_layer=3, n_head=2, n_embd=8, vocab_size=10))
        >>> pick = LayerSelection(m, [0, "blocks.2.attn.hook_pattern"])
        >>> pick("h.0.attn"), pick("h.1.attn"), pick("h.2.attn")
        (True, False, True)
    """

    def __init__(
        self, model: torch.nn.Module, layers: int | str | Iterable[int | str] | None
    ) -> None:
        self.everything = layers is None
        if layers is None:
            layers = ()
        elif isinstance(layers, (int, str)):
            layers = (layers,)
        layers = list(layers)
        self.text = repr(layers[0] if len(layers) == 1 else layers)  # as the user wrote it
        self.indices: set[int] = set()
        self.prefixes: list[str] = []
        self.globs: list[str] = []
        self._block_of: dict[str, int] = {}
        self._paths = [path for path, _ in model.named_modules() if path]
        self._touched: dict[str, bool] = {}  # path: a module inside it is selected
        self._blocks = _block_paths(model)
        blocks = find_blocks(model)
        for item in layers:
            if isinstance(item, bool) or not isinstance(item, (int, str)):
                raise TypeError(f"layers= takes ints and names, not {type(item).__name__}")
            if isinstance(item, int):
                if not -len(blocks) <= item < len(blocks):
                    stack = blocks[0][0].rsplit(".", 1)[0] if blocks else "none found"
                    raise ValueError(
                        f"layer {item} out of range: {type(model).__name__} has blocks "
                        f"0..{len(blocks) - 1} ({stack})"
                    )
                self.indices.add(item % len(blocks))
            elif any(c in item for c in "*?["):
                if not any(fnmatch.fnmatchcase(p, item) for p in self._paths):
                    probe = item.replace("*", "0").replace("?", "0")
                    close = difflib.get_close_matches(probe, self._paths, n=3, cutoff=0.5)
                    hint = f" Closest: {close}" if close else ""
                    raise ValueError(f"layers={item!r} matches no module of the model.{hint}")
                self.globs.append(item)
            else:
                try:
                    self.prefixes.append(resolve(model, item).path)
                except KeyError as error:
                    raise ValueError(f"layers=: {error.args[0]}") from None
        if self.indices:
            self._block_of = _block_indices(model)

    def __call__(self, path: str) -> bool:
        if self.everything:
            return True
        if self._block_of.get(path) in self.indices:
            return True
        if any(path == p or path.startswith(f"{p}.") for p in self.prefixes):
            return True
        return any(fnmatch.fnmatchcase(path, glob) for glob in self.globs)

    @property
    def blocks(self) -> list[str]:
        """The path of every block of every attention stack of the model."""
        return list(self._blocks)

    def touches(self, path: str) -> bool:
        """True when ``path`` or a module inside it is selected (a block whose attention is).

        Example:
            >>> from transformers import GPT2Config, GPT2Model
            >>> m = GPT2Model(GPT2Config(n_layer=2, n_head=2, n_embd=8, vocab_size=10))
            >>> pick = LayerSelection(m, "h.*.attn")
            >>> pick("h.0"), pick.touches("h.0"), pick.touches("wte")
            (False, True, False)
        """
        if self(path):
            return True
        if path not in self._touched:
            inner = f"{path}."
            self._touched[path] = any(p.startswith(inner) and self(p) for p in self._paths)
        return self._touched[path]

    def widened(self, path: str) -> bool:
        """True when ``path`` is selected or sits in a block the selection touches: what
        ``residual=`` and ``norms=`` record under a selection of attention modules."""
        if self(path):
            return True
        return any(path.startswith(f"{block}.") and self.touches(block) for block in self._blocks)


def _block_paths(model: torch.nn.Module) -> list[str]:
    """The path of every block of every attention stack (encoder and decoder alike)."""
    found: list[str] = []
    for path, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and any(
            is_attention_module(m) for child in module for m in child.modules()
        ):
            prefix = f"{path}." if path else ""
            found.extend(f"{prefix}{index}" for index in range(len(module)))
    return found


def count_attention_modules(model: torch.nn.Module, selected: LayerSelection) -> int:
    """How many attention modules ``selected`` records: the outermost ones, at least 1.

    Example:
        >>> from transformers import BertConfig, BertModel
        >>> m = BertModel(BertConfig(num_hidden_layers=3, num_attention_heads=2, hidden_size=8,
        ...                          intermediate_size=16, vocab_size=10))
        >>> count_attention_modules(m, LayerSelection(m, None))  # BertAttention > BertSelf...
        3
        >>> count_attention_modules(m, LayerSelection(m, [0, 2]))
        2
    """
    outer: list[str] = []
    for path, module in model.named_modules():
        if not is_attention_module(module) or not selected(path):
            continue
        if not any(o == "" or path.startswith(f"{o}.") for o in outer):
            outer.append(path)
    return max(1, len(outer))


def _block_indices(model: torch.nn.Module) -> dict[str, int]:
    """Module path -> index of the block it sits in, for every stack of attention blocks."""
    found: dict[str, int] = {}
    for path, module in model.named_modules():
        if not isinstance(module, torch.nn.ModuleList):
            continue
        if not any(is_attention_module(m) for child in module for m in child.modules()):
            continue
        prefix = f"{path}." if path else ""
        for index, child in enumerate(module):
            for inner, _ in child.named_modules(prefix=f"{prefix}{index}"):
                found.setdefault(inner, index)
    return found
