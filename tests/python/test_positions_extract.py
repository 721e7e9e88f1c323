"""extract_positions: tables equal the model's parameters, biases and rotations equal what the
model computes, and the model is left exactly as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tiny_bert, tiny_gpt2, tiny_llama_gqa
from transformers import (
    BloomConfig,
    BloomModel,
    T5Config,
    T5Model,
    ViTConfig,
    ViTModel,
)
from transformers.models.bloom.modeling_bloom import build_alibi_tensor

import attnwidgets.positions as pos
from attnwidgets.recording.positions import (
    PositionSchemeNotFound,
    extract_positions,
    positions_of,
)


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict(keep_vars=False).items()}


def assert_unchanged(model: torch.nn.Module, before: dict[str, torch.Tensor]) -> None:
    after = model.state_dict()
    assert before.keys() == after.keys()
    for key, value in before.items():
        assert torch.equal(value, after[key]), key
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks


def tiny_t5() -> T5Model:
    config = T5Config(
        num_layers=2, d_model=32, d_kv=8, num_heads=4, d_ff=64, vocab_size=64,
        relative_attention_num_buckets=32, relative_attention_max_distance=128,
    )  # fmt: skip
    model = T5Model(config).eval()
    with torch.no_grad():  # random init is tiny; make the table clearly non-constant
        model.encoder.block[0].layer[0].SelfAttention.relative_attention_bias.weight.normal_()
    return model


def test_gpt2_table_is_wpe_weight() -> None:
    model = tiny_gpt2()
    before = snapshot(model)
    scheme = extract_positions(model)
    assert scheme.kind == "learned" and scheme.source == "GPT2LMHeadModel.transformer.wpe"
    np.testing.assert_array_equal(scheme.table, model.transformer.wpe.weight.detach().numpy())
    assert_unchanged(model, before)


def test_bert_table_is_position_embeddings_weight() -> None:
    model = tiny_bert()
    scheme = positions_of(model)
    weight = model.embeddings.position_embeddings.weight.detach().numpy()
    np.testing.assert_array_equal(scheme.table, weight)
    np.testing.assert_allclose(scheme.similarity("dot"), weight @ weight.T, rtol=1e-5, atol=1e-5)


def test_vit_table_and_patch_grid() -> None:
    config = ViTConfig(
        num_hidden_layers=1, hidden_size=16, num_attention_heads=2, intermediate_size=16,
        image_size=24, patch_size=4,
    )  # fmt: skip
    model = ViTModel(config).eval()
    scheme = extract_positions(model)
    table = model.embeddings.position_embeddings.detach()[0].numpy()
    assert scheme.grid == (6, 6) and scheme.grid_offset == 1
    np.testing.assert_array_equal(scheme.table, table)
    assert model.embeddings.patch_embeddings.num_patches == 36


def test_rotary_cos_sin_equal_the_models_rotary_module() -> None:
    model = tiny_llama_gqa()
    model.config.rope_parameters["rope_theta"] = 500.0
    model.model.rotary_emb = type(model.model.rotary_emb)(model.config)
    before = snapshot(model)
    scheme = extract_positions(model, length=64)
    assert scheme.kind == "rotary" and scheme.theta == 500.0
    assert scheme.source == "LlamaForCausalLM.model.rotary_emb"
    head_dim = model.config.hidden_size // model.config.num_attention_heads
    assert scheme.dim == head_dim
    np.testing.assert_allclose(
        scheme.inv_freq, pos.rotary(head_dim, theta=500.0).inv_freq, rtol=1e-6
    )
    positions = torch.tensor([[0, 1, 2, 17, 63, 1000]])
    with torch.no_grad():
        cos, sin = model.model.rotary_emb(torch.zeros(1, dtype=torch.float32), positions)
    my_cos, my_sin = scheme.cos_sin(positions[0].numpy())
    np.testing.assert_allclose(my_cos, cos[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(my_sin, sin[0].numpy(), atol=1e-6)
    assert_unchanged(model, before)


def test_rotary_relative_score_matches_the_models_rotation() -> None:
    """Rotate a query and key with the model's own apply_rotary_pos_emb; q.k only depends on
    the distance and equals relative_score for q = k = ones."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    model = tiny_llama_gqa()
    scheme = extract_positions(model, length=40)
    dim = scheme.dim
    with torch.no_grad():
        cos, sin = model.model.rotary_emb(torch.zeros(1), torch.arange(40)[None])
        ones = torch.ones(1, 1, 40, dim)
        rotated, _ = apply_rotary_pos_emb(ones, ones, cos, sin)
    dots = rotated[0, 0] @ rotated[0, 0].T / dim
    for distance in (0, 1, 5, 20, 39):
        expected = scheme.relative_score([distance])[0]
        assert float(dots[0, distance]) == pytest.approx(expected, abs=1e-5)
        assert float(dots[39 - distance, 39]) == pytest.approx(expected, abs=1e-5)


def test_t5_bias_equals_compute_bias_and_the_bucket_formula() -> None:
    model = tiny_t5()
    before = snapshot(model)
    attention = model.encoder.block[0].layer[0].SelfAttention
    scheme = extract_positions(model, length=200)
    assert scheme.kind == "t5" and scheme.heads == 4 and scheme.params["bidirectional"]
    with torch.no_grad():
        computed = attention.compute_bias(200, 200)[0].numpy()
    for head in range(4):
        np.testing.assert_array_equal(scheme.bias_matrix(head), computed[head])
    weight = attention.relative_attention_bias.weight.detach().numpy()
    by_formula = pos.t5_buckets(length=200, weights=weight)
    np.testing.assert_array_equal(by_formula.bias, scheme.bias)
    np.testing.assert_array_equal(by_formula.buckets, scheme.buckets)
    assert_unchanged(model, before)


def test_bloom_alibi_equals_build_alibi_tensor() -> None:
    model = BloomModel(BloomConfig(n_layer=1, n_head=6, hidden_size=24, vocab_size=32)).eval()
    scheme = extract_positions(model, length=12)
    np.testing.assert_allclose(scheme.slopes, pos.alibi_slopes(6), rtol=1e-6)
    alibi = build_alibi_tensor(torch.ones(1, 12, dtype=torch.long), 6, torch.float32)
    for head in range(6):
        row = alibi[head, 0].numpy()
        # the model adds slope*key to every row; softmax drops the per-row constant slope*query
        expected = row[None, :] - row[:, None]
        np.testing.assert_allclose(scheme.bias_matrix(head), expected, atol=1e-6)
    np.testing.assert_allclose(scheme.bias, pos.alibi(6, length=12).bias, rtol=1e-6, atol=1e-6)


def test_unknown_model_names_its_class() -> None:
    class NoPositions(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(4, 4)

    with pytest.raises(PositionSchemeNotFound, match="no positional encoding found in NoPositions"):
        extract_positions(NoPositions())
    with pytest.raises(TypeError, match="not str"):
        extract_positions("gpt2")  # type: ignore[arg-type]
