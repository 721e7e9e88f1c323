"""Scores, layers=, dtype=, aliases, memory, NaN flags and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tiny_gpt2, tiny_llama_gqa

import attnwidgets as aw

IDS = torch.tensor([[4, 8, 15, 16, 23, 42]])


def _gpt2_qk(model: torch.nn.Module, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Layer ``layer``'s queries and keys from the model's own modules: [heads, seq, dim]."""
    hidden = model(input_ids=IDS, output_hidden_states=True).hidden_states[layer]
    block = model.transformer.h[layer]
    q, k, _ = block.attn.c_attn(block.ln_1(hidden)).split(32, dim=-1)
    return q.view(6, 4, 8).transpose(0, 1), k.view(6, 4, 8).transpose(0, 1)


def test_scores_scaled_masked_and_probability_are_the_textbook_steps():
    model = tiny_gpt2()
    with torch.no_grad(), aw.capture(model, scores=True) as cap:
        model(input_ids=IDS)
    with torch.no_grad():
        q, k = _gpt2_qk(model, 1)
    raw = (q @ k.transpose(-1, -2)).numpy()
    causal = np.triu(np.ones((6, 6), bool), 1)
    assert np.abs(cap.record("scores")[1] - raw).max() <= 1e-5
    assert np.abs(cap.record("scaled")[1] - raw / np.sqrt(8)).max() <= 1e-5
    masked = cap.record("masked")[1]
    assert np.all(np.isneginf(masked[:, causal]))
    assert np.abs(masked[:, ~causal] - raw[:, ~causal] / np.sqrt(8)).max() <= 1e-5
    softmax = np.exp(masked - masked.max(-1, keepdims=True))
    softmax /= softmax.sum(-1, keepdims=True)
    assert np.abs(cap.attention[1] - softmax).max() <= 1e-6
    assert cap.record("masked").kind == "masked"


def test_layers_selects_by_index_path_and_alias():
    model = tiny_llama_gqa()
    with torch.no_grad(), aw.capture(model, layers=[1]) as by_index:
        model(input_ids=IDS)
    with torch.no_grad(), aw.capture(model, layers="model.layers.1.self_attn") as by_path:
        model(input_ids=IDS)
    with torch.no_grad(), aw.capture(model, layers="blocks.1.attn.hook_pattern") as by_alias:
        model(input_ids=IDS)
    with torch.no_grad(), aw.capture(model) as everything:
        model(input_ids=IDS)
    for cap in (by_index, by_path, by_alias):
        assert cap.layer_names == ["model.layers.1.self_attn"]
        assert np.array_equal(cap.attention[0], everything.attention[1])


def test_aliases_resolve_to_the_same_tensor_as_module_paths():
    model = tiny_gpt2()
    with torch.no_grad(), aw.capture(model, scores="masked", residual=True) as cap:
        out = model(input_ids=IDS, output_hidden_states=True)
    assert cap["blocks.1.attn.hook_pattern"] is cap["transformer.h.1.attn"]
    assert cap["blocks.1.attn.hook_attn_scores"] is cap.calls[1].kept["masked"]
    assert torch.equal(cap["blocks.0.hook_resid_pre"], out.hidden_states[0])
    assert torch.equal(cap["blocks.0.hook_resid_post"], out.hidden_states[1])
    # the residual stream adds up: resid_post = resid_pre + attn_out + mlp_out (GPT-2 pre-LN)
    summed = cap["blocks.1.hook_resid_pre"] + cap["blocks.1.hook_attn_out"]
    summed = summed + cap["blocks.1.hook_mlp_out"]
    assert (summed - cap["blocks.1.hook_resid_post"]).abs().max() <= 1e-5


def test_norms_flag_and_norm_alias():
    model = tiny_gpt2()
    with torch.no_grad(), aw.capture(model, norms=True) as cap:
        model(input_ids=IDS)
    assert cap["blocks.0.ln1.hook_normalized"].name == "transformer.h.0.ln_1"
    assert cap["blocks.1.ln2.hook_normalized"].name == "transformer.h.1.ln_2"


def test_bad_selection_and_dtype_errors_name_the_problem():
    model = tiny_gpt2()
    with pytest.raises(ValueError, match=r"layer 5 out of range.*0\.\.1 \(transformer\.h\)"):
        aw.capture(model, layers=[5]).__enter__()
    with pytest.raises(ValueError, match=r"transformer\.h\.0\.atn.*Did you mean"):
        aw.capture(model, layers=["transformer.h.0.atn"]).__enter__()
    with pytest.raises(TypeError, match=r"bfloat16 cannot be kept.*numpy has no bfloat16"):
        aw.capture(model, dtype=torch.bfloat16).__enter__()
    assert sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules()) == 0


def test_float16_records_keep_half_the_bytes_without_copies():
    model = tiny_gpt2()
    with torch.no_grad(), aw.capture(model, dtype=torch.float16) as cap:
        model(input_ids=IDS)
    record = cap.attention
    assert record[0].dtype == np.float16
    assert record.nbytes == 2 * 4 * 6 * 6 * 2
    assert np.shares_memory(record[0], cap.calls[0].kept["probability"].numpy())


def test_memory_is_the_attention_tensors_and_nothing_else():
    """512 tokens on a GPT-2-small-like shape: kept bytes <= 1.1x the attention itself."""
    from transformers import GPT2Config, GPT2Model

    config = GPT2Config(n_layer=2, n_head=12, n_embd=96, n_positions=512, vocab_size=64)
    model = GPT2Model(config).eval()
    ids = torch.randint(0, 64, (1, 512))
    with torch.no_grad(), aw.capture(model) as cap:
        model(input_ids=ids)
    attention_bytes = 2 * 12 * 512 * 512 * 4
    storages = {}
    for call in cap.calls:
        for tensor in call.kept.values():
            storage = tensor.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
    assert sum(storages.values()) <= 1.1 * attention_bytes
    record = cap.attention  # records are views, not copies
    assert all(
        np.shares_memory(layer, call.kept["probability"].numpy())
        for layer, call in zip(record, cap.calls, strict=True)
    )


def test_nan_activations_are_recorded_and_flagged():
    model = tiny_gpt2()
    with torch.no_grad():
        model.transformer.h[1].attn.c_attn.bias[0] = float("nan")
        with aw.capture(model) as cap:
            model(input_ids=IDS)
    assert cap.nonfinite == {"transformer.h.1.attn": "NaN"}
    assert np.isnan(cap.attention[1]).any() and not np.isnan(cap.attention[0]).any()


@pytest.mark.parametrize("options", [{}, {"attention": False, "norms": True}])
def test_error_inside_forward_names_the_module_and_restores_the_model(options):
    model = tiny_gpt2()
    with pytest.raises(IndexError) as info, aw.capture(model, **options):
        model(input_ids=torch.tensor([[1, 2, 999]]))
    assert "transformer.wte (Embedding)" in "\n".join(info.value.__notes__)
    assert model.config._attn_implementation == "sdpa"
    assert sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules()) == 0


def test_everything_on_then_the_model_is_exactly_as_before():
    model = tiny_gpt2()
    with torch.no_grad():
        before = model(input_ids=IDS).logits
        options = dict(scores=True, norms=True, residual=True, reuse_weights=True, layers=[1])
        with aw.capture(model, **options) as cap:
            model(input_ids=IDS)
        after = model(input_ids=IDS).logits
    assert cap.layer_names == ["transformer.h.1.attn"]
    assert torch.equal(before, after)
    assert model.config._attn_implementation == "sdpa"
    hooks = sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._forward_hooks_always_called)
        for m in model.modules()
    )
    assert hooks == 0


def test_two_threads_capture_two_models_at_once():
    import threading

    models = {"gpt2": tiny_gpt2(), "llama": tiny_llama_gqa()}
    barrier = threading.Barrier(2)
    found: dict[str, list[str]] = {}

    def run(name: str) -> None:
        model = models[name]
        with torch.no_grad(), aw.capture(model) as cap:
            barrier.wait()  # both captures are active at the same time
            model(input_ids=IDS)
            barrier.wait()
        found[name] = cap.layer_names

    threads = [threading.Thread(target=run, args=(name,)) for name in models]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found["gpt2"] == ["transformer.h.0.attn", "transformer.h.1.attn"]
    assert found["llama"] == ["model.layers.0.self_attn", "model.layers.1.self_attn"]


def test_long_causal_sequences_take_the_blocked_path_and_match_the_formula():
    """At >= 256 tokens causal probabilities are computed by blocks of query rows."""
    from attnwidgets.recording.attention.recompute import attention_steps

    q, k = torch.randn(1, 2, 300, 8), torch.randn(1, 2, 300, 8)
    probability = attention_steps(q, k, is_causal=True)["probability"]
    scores = (q @ k.transpose(-1, -2)) / np.sqrt(8)
    scores = scores.masked_fill(torch.ones(300, 300, dtype=torch.bool).triu(1), float("-inf"))
    assert (probability - torch.softmax(scores, -1)).abs().max() <= 1e-6
    assert torch.count_nonzero(probability.triu(1)) == 0
