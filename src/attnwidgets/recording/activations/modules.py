"""Outputs of any named modules (``aw.capture(model, modules=["model.layers.*.mlp"])``).

A small recorder: names are module paths, globs (``*``, ``?``, ``[...]``) or TransformerLens
block aliases (``blocks.2.mlp``); each one must match a module of the model, or the capture
raises at once with the closest paths. A forward hook per matched module copies its output
tensor (the first tensor of a tuple or model output) to the CPU in the capture's dtype; a later
call of the same module replaces the earlier one. ``on_output(path, tensor)``, when given, sees
every call before it is kept (pool there to keep less than whole activations).
"""

from __future__ import annotations

import difflib
import fnmatch
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch.utils.hooks import RemovableHandle

from ..aliases import resolve


def output_tensor(value: Any) -> torch.Tensor | None:
    """The tensor a module returned: itself, the first of a tuple, or a model output's first.

    Example:
        >>> output_tensor((torch.ones(2), None)).tolist()
        [1.0, 1.0]
    """
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        return next((v for v in value if isinstance(v, torch.Tensor)), None)
    values = getattr(value, "values", None)  # transformers' ModelOutput is a mapping
    if callable(values):
        return next((v for v in values() if isinstance(v, torch.Tensor)), None)
    return None


def match_modules(model: torch.nn.Module, names: str | Iterable[str]) -> list[str]:
    """The module paths ``names`` select, in the model's order; raises ``ValueError`` naming
    a name that matches nothing, with the closest module paths.

    Example:
        >>> from collections import OrderedDict
        >>> layer = lambda: torch.nn.Sequential(OrderedDict(mlp=torch.nn.Linear(2, 2)))
        >>> model = torch.nn.Sequential(layer(), layer())
        >>> match_modules(model, ["*.mlp"])
        ['0.mlp', '1.mlp']
        >>> match_modules(model, "*.mpl")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: modules=: '*.mpl' matches no module of Sequential. Closest: ['0.mlp', ...
    """
    if isinstance(names, str):
        names = [names]
    paths = [path for path, _ in model.named_modules() if path]
    chosen: set[str] = set()
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"modules= takes module paths or globs, not {type(name).__name__}")
        if any(c in name for c in "*?["):
            found = [path for path in paths if fnmatch.fnmatchcase(path, name)]
        elif name in paths:
            found = [name]
        else:
            found = _alias(model, name)
        if not found:
            raise ValueError(_no_match(model, name, paths))
        chosen.update(found)
    return [path for path in paths if path in chosen]


def _alias(model: torch.nn.Module, name: str) -> list[str]:
    try:
        target = resolve(model, name)
    except KeyError:
        return []
    return [target.path] if target.what is None and target.path else []


def _no_match(model: torch.nn.Module, name: str, paths: list[str]) -> str:
    probe = name.replace("*", "0").replace("?", "0")
    close = difflib.get_close_matches(probe, paths, n=5, cutoff=0.5)
    if not close:  # the last part alone: "mlp" against "feed_forward"
        tail = probe.rsplit(".", 1)[-1]
        ends = sorted({path.rsplit(".", 1)[-1] for path in paths})
        close = [f"*.{end}" for end in difflib.get_close_matches(tail, ends, n=5, cutoff=0.4)]
    hint = f" Closest: {close}" if close else ""
    return (
        f"modules=: {name!r} matches no module of {type(model).__name__}.{hint} "
        "(print(model) lists the module paths; '*' matches one or more path parts)"
    )


class ModuleRecorder:
    """``outputs[path]``: the last output of each matched module, ``[batch, ...]`` on the CPU.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU())
        >>> rec = ModuleRecorder(model, ["0"], dtype=torch.float32)
        >>> with rec.hooked():
        ...     _ = model(torch.ones(4, 2))
        >>> rec.outputs["0"].shape
        torch.Size([4, 3])
    """

    def __init__(
        self,
        model: torch.nn.Module,
        names: str | Iterable[str],
        *,
        dtype: torch.dtype = torch.float32,
        on_output: Callable[[str, torch.Tensor], None] | None = None,
        thread: int | None = None,
    ) -> None:
        self.model = model
        self.thread = threading.get_ident() if thread is None else thread  # its calls only
        self.dtype = dtype
        self.on_output = on_output
        self.paths = match_modules(model, names)
        self.outputs: dict[str, torch.Tensor] = {}

    @contextmanager
    def hooked(self) -> Iterator[ModuleRecorder]:
        modules = dict(self.model.named_modules())
        handles: list[RemovableHandle] = []
        try:
            for path in self.paths:
                handles.append(modules[path].register_forward_hook(self._hook(path)))
            yield self
        finally:
            for handle in handles:
                handle.remove()

    def _hook(self, path: str) -> Callable[..., None]:
        def keep(module: torch.nn.Module, args: Any, output: Any) -> None:
            if threading.get_ident() != self.thread:
                return  # another thread's forward of the same model
            tensor = output_tensor(output)
            if tensor is None:
                return
            if self.on_output is not None:
                self.on_output(path, tensor)
            dtype = self.dtype if tensor.is_floating_point() else tensor.dtype
            self.outputs[path] = tensor.detach().to("cpu", dtype, copy=True)

        return keep
