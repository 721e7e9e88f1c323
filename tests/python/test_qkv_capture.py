"""``aw.capture(model, qkv=True)``: queries, keys, values and head outputs as the attention
function saw them, and every step redone from them equal to the model's own numbers.

References are independent of the capture: transformers' eager ``output_attentions``, the
model's own output projection input (hooked), the rotary embedding applied by hand, and
PyTorch's own ``nn.MultiheadAttention`` weights and output.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from conftest import eager_attentions, tiny_gpt2, tiny_llama_gqa

import attnwidgets as aw

ATOL = 2e-5


def tiny_gemma2_scaled() -> torch.nn.Module:
    """Gemma 2 whose scale is NOT 1/sqrt(head_dim) (query_pre_attn_scalar=32, head_dim=8),
    with strong soft-capping and a sliding window of 4 on layer 0."""
    from transformers import Gemma2Config, Gemma2ForCausalLM

    config = Gemma2Config(
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=8,
        hidden_size=32, intermediate_size=64, vocab_size=64, max_position_embeddings=64,
        sliding_window=4, attn_logit_softcapping=1.0, query_pre_attn_scalar=32,
        bos_token_id=0, eos_token_id=0, pad_token_id=0,
    )  # fmt: skip
    torch.manual_seed(0)
    model = Gemma2ForCausalLM(config).eval()
    with torch.no_grad():  # larger q/k weights, so the soft-cap really bends the scores
        for layer in model.model.layers:
            layer.self_attn.q_proj.weight.mul_(8)
            layer.self_attn.k_proj.weight.mul_(8)
    return model


FAMILIES = {"gpt2": tiny_gpt2, "llama-gqa": tiny_llama_gqa, "gemma2": tiny_gemma2_scaled}


def head_outputs(model: torch.nn.Module, ids: torch.Tensor) -> list[torch.Tensor]:
    """Independent z: what each output projection receives, ``[batch, Q, heads * d]``."""
    seen: list[torch.Tensor] = []
    targets = [
        m for n, m in model.named_modules() if n.endswith(("attn.c_proj", "self_attn.o_proj"))
    ]
    handles = [
        t.register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
        for t in targets
    ]
    try:
        with torch.no_grad():
            model(input_ids=ids)
    finally:
        for handle in handles:
            handle.remove()
    return seen


def captured(model: torch.nn.Module, ids: torch.Tensor, **options: Any) -> Any:
    with torch.no_grad(), aw.capture(model, qkv=True, scores=True, **options) as cap:
        model(input_ids=ids)
    return cap


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_step_equals_the_models_own(name: str) -> None:
    model = FAMILIES[name]()
    ids = torch.tensor([[3, 17, 5, 9, 22, 41, 8, 13, 2]])
    eager = eager_attentions(model, input_ids=ids)
    z_model = head_outputs(model, ids)
    cap = captured(model, ids)
    record = cap.qkv
    assert len(record) == len(eager) == len(z_model)
    for index, layer in enumerate(record):
        n_heads, n_tokens, d_head = layer.q.shape
        z_heads = z_model[index][0].reshape(n_tokens, n_heads, d_head).transpose(0, 1).numpy()
        np.testing.assert_allclose(layer.z, z_heads, atol=ATOL)
        for head in range(n_heads):
            steps = layer.steps(head)
            np.testing.assert_allclose(steps["probability"], eager[index][0, head], atol=ATOL)
            np.testing.assert_allclose(steps["output"], z_heads[head], atol=ATOL)
            for kind in ("scores", "scaled"):
                np.testing.assert_allclose(
                    steps[kind], cap.record(kind)[index][head], rtol=1e-5, atol=ATOL
                )
            masked = cap.record("masked")[index][head]
            assert np.array_equal(np.isinf(steps["masked"]), np.isinf(masked))
            finite = np.isfinite(masked)
            np.testing.assert_allclose(steps["masked"][finite], masked[finite], atol=ATOL)


def test_llama_keeps_grouped_keys_after_rotary() -> None:
    """K and V stay per key/value head; Q and K are the rotated ones (checked by hand)."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    model = tiny_llama_gqa()
    ids = torch.tensor([[1, 7, 3, 30, 12, 5]])
    seen: dict[str, Any] = {}
    attn = model.model.layers[1].self_attn

    def grab(module: Any, args: Any, kwargs: Any) -> None:
        seen["hidden"], seen["rope"] = kwargs["hidden_states"], kwargs["position_embeddings"]

    handle = attn.register_forward_pre_hook(grab, with_kwargs=True)
    try:
        cap = captured(model, ids)
    finally:
        handle.remove()
    layer = cap.qkv[1]
    assert (layer.heads, layer.kv_heads, layer.group) == (4, 2, 2)
    assert [layer.kv_head(h) for h in range(4)] == [0, 0, 1, 1]
    with torch.no_grad():
        h = seen["hidden"]
        q = attn.q_proj(h).view(1, 6, 4, 8).transpose(1, 2)
        k = attn.k_proj(h).view(1, 6, 2, 8).transpose(1, 2)
        v = attn.v_proj(h).view(1, 6, 2, 8).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, *seen["rope"])
    np.testing.assert_allclose(layer.q, q[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(layer.k, k[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(layer.v, v[0].numpy(), atol=1e-6)
    # TransformerLens names and layout: [batch, pos, heads, d_head]
    assert torch.equal(cap["blocks.1.attn.hook_q"][0], torch.from_numpy(layer.q).transpose(0, 1))
    assert cap["blocks.1.attn.hook_k"].shape == (1, 6, 2, 8)
    assert cap["blocks.1.attn.hook_v"].shape == (1, 6, 2, 8)
    assert torch.equal(
        cap["blocks.0.attn.hook_z"][0], torch.from_numpy(cap.qkv[0].z).transpose(0, 1)
    )


def test_gemma2_scale_softcap_and_window_come_from_the_call() -> None:
    model = tiny_gemma2_scaled()
    ids = torch.tensor([[5, 9, 2, 33, 14, 7, 21, 3, 11]])
    cap = captured(model, ids)
    local, full = cap.qkv
    assert local.scale == pytest.approx(32**-0.5) and local.scale != pytest.approx(8**-0.5)
    assert local.softcap == full.softcap == 1.0
    assert local.step_names() == [
        "scores", "scaled", "softcapped", "masked", "probability", "output"
    ]  # fmt: skip
    steps = local.steps(0)
    np.testing.assert_allclose(steps["softcapped"], np.tanh(steps["scaled"]), atol=1e-6)
    assert np.abs(steps["softcapped"] - steps["scaled"]).max() > 0.2  # the cap bends these
    assert local.window == (-3, 0) and full.window is None and local.causal
    assert cap.attention.windows == [(-3, 0), None]
    # the recorded window is the model's own mask: hidden exactly outside the band
    offsets = np.arange(9)[None, :] - np.arange(9)[:, None]
    masked = np.isinf(cap.record("masked")[0][0])
    assert np.array_equal(masked, (offsets < -3) | (offsets > 0))


def test_modernbert_two_sided_window_matches_its_mask() -> None:
    from tiny_families import FAMILIES as MORE

    model = MORE["modernbert"].build().eval()
    ids = torch.tensor([[2, 9, 14, 7, 21, 3, 11, 5, 8, 3]])
    with torch.no_grad(), aw.capture(model, scores="masked") as cap:
        model(input_ids=ids)
    windows = cap.attention.windows  # layer types: full, then sliding (local_attention=4)
    assert windows[0] is None and windows[1] is not None
    low, high = windows[1]
    offsets = np.arange(10)[None, :] - np.arange(10)[:, None]
    masked = np.isinf(cap.record("masked")[1][0])
    assert (low, high) == (-2, 2)
    assert np.array_equal(masked, (offsets < low) | (offsets > high))


def test_plain_multihead_attention_and_sdpa() -> None:
    torch.manual_seed(1)
    mha = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
    x = torch.randn(1, 5, 8)
    future = torch.ones(5, 5, dtype=torch.bool).triu(1)
    with torch.no_grad(), aw.capture(mha, qkv=True) as cap:
        out, weights = mha(x, x, x, attn_mask=future, average_attn_weights=False)
    layer = cap.qkv[0]
    assert layer.causal and layer.scale == pytest.approx(4**-0.5)
    joined = torch.from_numpy(layer.z).transpose(0, 1).reshape(5, 8)
    np.testing.assert_allclose(mha.out_proj(joined).detach(), out[0], atol=1e-6)
    for head in range(2):
        np.testing.assert_allclose(layer.steps(head)["probability"], weights[0, head], atol=1e-6)

    class Scaled(torch.nn.Module):
        def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.scaled_dot_product_attention(
                q, k, v, is_causal=True, scale=0.3, enable_gqa=True
            )

    q, k, v = torch.randn(1, 4, 6, 8), torch.randn(1, 2, 6, 8), torch.randn(1, 2, 6, 8)
    plain = Scaled()
    with torch.no_grad(), aw.capture(plain, qkv=True, attention=False) as cap:
        out = plain(q, k, v)
    layer = cap.qkv[0]
    assert (layer.scale, layer.group, layer.causal) == (0.3, 2, True)
    for head in range(4):
        np.testing.assert_allclose(layer.steps(head)["output"], out[0, head], atol=1e-6)


def test_qkv_during_generation_holds_every_row() -> None:
    model = tiny_llama_gqa()
    lens = aw.wrap(model, qkv=True, norms=False)
    run = lens.generate(input_ids=torch.tensor([[1, 5, 9]]), max_new_tokens=3)
    assert run.qkv is not None
    layer = run.qkv[0]
    fed = run.attention.shape[2]
    assert layer.q.shape[1] == layer.k.shape[1] == fed == 5
    for head in range(4):
        np.testing.assert_allclose(
            layer.steps(head)["probability"], run.attention[0][head], atol=ATOL
        )
        np.testing.assert_allclose(layer.steps(head)["output"], layer.z[head], atol=ATOL)


def test_qkv_not_captured_says_how() -> None:
    model = tiny_gpt2()
    with torch.no_grad(), aw.capture(model) as cap:
        model(input_ids=torch.tensor([[1, 2, 3]]))
    with pytest.raises(aw.CaptureError, match="qkv=True"):
        cap.qkv
    with pytest.raises(KeyError, match="qkv=True"):
        cap["blocks.0.attn.hook_q"]
