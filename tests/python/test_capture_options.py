"""Capture options apply or raise at capture time, naming what did not match; ``modules=``
records any module's output by path or glob."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_gpt2, tiny_llama_gqa

import attnwidgets as aw

IDS = torch.tensor([[1, 7, 3, 30, 12, 5]])


def run(model: torch.nn.Module, **options: object) -> aw.Capture:
    with torch.no_grad(), aw.capture(model, **options) as cap:
        model(input_ids=IDS)
    return cap


def test_residual_follows_a_selection_of_attention_modules() -> None:
    model = tiny_llama_gqa()
    cap = run(model, layers="model.layers.*.self_attn", residual=True)
    # independent: the block's output as the model returns it
    with torch.no_grad():
        hidden = model.model(input_ids=IDS, output_hidden_states=True).hidden_states
    torch.testing.assert_close(cap["blocks.0.hook_resid_post"], hidden[1])
    torch.testing.assert_close(cap["blocks.1.hook_resid_pre"], hidden[1])
    cap = run(model, layers="model.layers.1.self_attn", residual=True)
    assert "blocks.1.hook_resid_post" in cap.residual.tensors
    with pytest.raises(KeyError, match=r"layers='model.layers.1.self_attn'"):
        cap["blocks.0.hook_resid_post"]


def test_norms_follow_a_selection_of_attention_modules() -> None:
    model = tiny_llama_gqa()
    cap = run(model, layers="model.layers.1.self_attn", norms=True)
    names = [layer.name for layer in cap.norms]
    assert names == ["model.layers.1.input_layernorm", "model.layers.1.post_attention_layernorm"]


def test_options_that_would_record_nothing_raise_before_the_forward() -> None:
    model = tiny_gpt2()
    forwards = []
    handle = model.register_forward_pre_hook(lambda *_: forwards.append(1))
    try:
        with pytest.raises(ValueError, match=r"layers='transformer\.h\.\*\.mlp' selects no att"):
            run(model, layers="transformer.h.*.mlp")
        with pytest.raises(ValueError, match=r"residual=True: layers='transformer.wte' touches"):
            run(model, layers="transformer.wte", attention=False, residual=True)
        with pytest.raises(ValueError, match=r"norms=True: layers='transformer.wte' selects no"):
            run(model, layers="transformer.wte", attention=False, norms=True)
        with pytest.raises(ValueError, match=r"selects no attention module.*transformer\.h\.0"):
            run(model, layers="transformer.h.*.attn.c_attn")
        with pytest.raises(ValueError, match=r"layers='h\.\*\.mlp' matches no module.*trans"):
            run(model, layers="h.*.mlp")
    finally:
        handle.remove()
    assert forwards == []  # raised before anything ran
    assert not model._forward_hooks and not model._forward_pre_hooks


def test_modules_records_outputs_by_path_and_glob() -> None:
    model = tiny_llama_gqa()
    seen = {}
    handles = [
        model.model.layers[i].mlp.register_forward_hook(
            lambda m, a, out, i=i: seen.__setitem__(i, out.detach().clone())
        )
        for i in range(2)
    ]
    try:
        cap = run(model, modules=["model.layers.*.mlp", "model.norm"], attention=False)
    finally:
        for handle in handles:
            handle.remove()
    assert sorted(cap.modules.outputs) == ["model.layers.0.mlp", "model.layers.1.mlp", "model.norm"]
    torch.testing.assert_close(cap["model.layers.1.mlp"], seen[1])
    assert cap["model.norm"].shape == (1, 6, 32)
    cap = run(model, modules="blocks.0.mlp")  # a TransformerLens block name works too
    torch.testing.assert_close(cap["model.layers.0.mlp"], seen[0])
    assert len(cap.attention) == 2  # attention is still recorded beside it
    assert not any(m._forward_hooks for m in model.modules())


def test_modules_that_match_nothing_name_the_closest() -> None:
    model = tiny_llama_gqa()
    with pytest.raises(ValueError, match=r"'model\.layers\.\*\.mpl' matches no module.*mlp"):
        run(model, modules=["model.layers.*.mpl"])
    with pytest.raises(ValueError, match=r"'model\.layer\.2\.mlp'.*model\.layers\.\d\.mlp"):
        run(model, modules="model.layer.2.mlp")


def test_reading_an_unrecorded_module_says_how_to_record_it() -> None:
    cap = run(tiny_llama_gqa())
    with pytest.raises(KeyError, match=r"modules=\['model.layers.1.mlp'\]"):
        cap["model.layers.1.mlp"]
