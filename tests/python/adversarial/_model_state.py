"""Everything a capture or a lens may touch on a model, to compare before and after an attack."""

from __future__ import annotations

import sys
from typing import Any

import torch

from attnwidgets.recording.attention import interface as hf_interface


def _configs(model: torch.nn.Module) -> list[Any]:
    return [m.config for m in model.modules() if hasattr(getattr(m, "config", None), "to_dict")]


def snapshot(model: torch.nn.Module) -> dict[str, Any]:
    """Hooks of every module (and torch's global ones), every module's training flag, every
    config's attention implementation, and a copy of every weight and buffer."""
    global_hooks = torch.nn.modules.module
    return {
        "hooks": [
            (
                path,
                list(m._forward_hooks),
                list(m._forward_pre_hooks),
                list(m._forward_hooks_always_called),
                list(m._forward_hooks_with_kwargs),
            )
            for path, m in model.named_modules()
        ],
        "global_hooks": (
            len(global_hooks._global_forward_hooks),
            len(global_hooks._global_forward_pre_hooks),
        ),
        "training": [(path, m.training) for path, m in model.named_modules()],
        "implementations": [config._attn_implementation for config in _configs(model)],
        "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
    }


def assert_restored(model: torch.nn.Module, before: dict[str, Any]) -> None:
    """The model is exactly as ``snapshot`` saw it, and no capture state is left anywhere."""
    after = snapshot(model)
    assert after["hooks"] == before["hooks"]
    assert after["global_hooks"] == before["global_hooks"]
    assert after["training"] == before["training"]
    assert after["implementations"] == before["implementations"]
    assert after["state"].keys() == before["state"].keys()
    for key, value in before["state"].items():
        now = after["state"][key]
        if value.is_meta:  # shapes without values
            assert now.is_meta and (now.shape, now.dtype) == (value.shape, value.dtype), key
        else:
            assert torch.equal(now, value), key
    assert hf_interface.active_sinks.get() == ()
    assert getattr(hf_interface, "_switched", {}) == {}  # configs switched by live captures
    threads = sys.modules.get("attnwidgets.recording.threads")
    assert threads is None or threads._holds == {}  # models held in eval by a lens
    assert torch._C._len_torch_function_stack() == 0
