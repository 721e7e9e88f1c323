"""Models dispatched with accelerate (device_map with CPU and disk offload) capture correctly."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from conftest import eager_attentions, tiny_llama_gqa

import attnwidgets as aw

accelerate = pytest.importorskip("accelerate")

IDS = torch.tensor([[4, 8, 15, 16, 23, 42]])


def _hooks(model: torch.nn.Module) -> list[int]:
    return [len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules()]


def test_disk_offloaded_split_captures_and_stays_dispatched(tmp_path):
    model = tiny_llama_gqa()
    expected = eager_attentions(model, input_ids=IDS)
    with torch.no_grad():
        plain = model(input_ids=IDS).logits
    device_map = {
        "model.embed_tokens": "cpu",
        "model.layers.0": "cpu",
        "model.layers.1": "disk",  # weights on meta, loaded from disk by accelerate's hook
        "model.norm": "cpu",
        "model.rotary_emb": "cpu",
        "lm_head": "cpu",
    }
    dispatched = accelerate.dispatch_model(
        copy.deepcopy(model), device_map=device_map, offload_dir=str(tmp_path), main_device="cpu"
    )
    assert dispatched.model.layers[1].self_attn.q_proj.weight.device.type == "meta"
    before = _hooks(dispatched)
    with torch.no_grad(), aw.capture(dispatched, scores="masked", residual=True) as cap:
        logits = dispatched(input_ids=IDS).logits
    assert torch.equal(logits, plain)
    assert cap.layer_names == ["model.layers.0.self_attn", "model.layers.1.self_attn"]
    for layer, reference in enumerate(expected):
        assert np.abs(cap.attention[layer] - reference[0].numpy()).max() <= 1e-5
    assert cap["blocks.1.hook_resid_post"].device.type == "cpu"
    assert _hooks(dispatched) == before  # accelerate's own hooks untouched, ours gone
    assert dispatched.model.layers[1].self_attn.q_proj.weight.device.type == "meta"
