"""The blocked causal recompute (weights._causal_probabilities) against a hand computation and
against eager attention, across block edges, batches, soft-capping and NaN keys."""

from __future__ import annotations

import copy
import gc

import pytest
import torch
from transformers import GPT2Config, GPT2Model

import attnwidgets as aw
from attnwidgets.recording.attention.recompute import _CAUSAL_BLOCK, attention_steps


def reference_causal(query: torch.Tensor, key: torch.Tensor, softcap: float | None = None):
    """softmax(Q K^T / sqrt(d)) with future keys masked, written out in float64."""
    q, k = query.double(), key.double()
    scores = q @ k.transpose(-1, -2) * q.shape[-1] ** -0.5
    if softcap:
        scores = torch.tanh(scores / softcap) * softcap
    future = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).triu(1)
    return torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1).float()


@pytest.mark.parametrize(
    "tokens", [1, 2, _CAUSAL_BLOCK - 1, _CAUSAL_BLOCK, _CAUSAL_BLOCK + 1, 3 * _CAUSAL_BLOCK + 5]
)
def test_blocked_causal_probabilities_equal_the_full_computation(tokens: int) -> None:
    generator = torch.Generator().manual_seed(tokens)
    query = torch.randn(2, 3, tokens, 8, generator=generator)
    key = torch.randn(2, 3, tokens, 8, generator=generator)
    got = attention_steps(query, key, is_causal=True)["probability"]
    assert got.shape == (2, 3, tokens, tokens) and got.is_contiguous()
    torch.testing.assert_close(got, reference_causal(query, key), rtol=0, atol=1e-6)
    assert torch.count_nonzero(got.triu(1)) == 0  # nothing above the diagonal
    # the rows sum to one and are the same whichever path computes them
    full = attention_steps(query, key, is_causal=True, kinds=("probability", "masked"))
    torch.testing.assert_close(got, full["probability"], rtol=0, atol=1e-6)


def test_blocked_path_with_softcap_and_grouped_keys() -> None:
    generator = torch.Generator().manual_seed(1)
    query = torch.randn(1, 4, 150, 8, generator=generator) * 3
    key = torch.randn(1, 2, 150, 8, generator=generator)  # two KV heads for four query heads
    got = attention_steps(query, key, is_causal=True, softcap=5.0)["probability"]
    want = reference_causal(query, key.repeat_interleave(2, dim=1), softcap=5.0)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)


def test_nan_in_a_later_key_leaves_earlier_rows_as_the_model_sees_them() -> None:
    generator = torch.Generator().manual_seed(2)
    query = torch.randn(1, 2, 100, 8, generator=generator)
    key = torch.randn(1, 2, 100, 8, generator=generator)
    key[0, :, 70] = float("nan")  # inside a diagonal block: rows before 70 must stay finite
    got = attention_steps(query, key, is_causal=True)["probability"]
    assert torch.isfinite(got[:, :, :70]).all()
    assert torch.isnan(got[:, :, 70:]).any(dim=-1).all()
    want = reference_causal(query[:, :, :70], key[:, :, :70])
    torch.testing.assert_close(got[:, :, :70, :70], want, rtol=0, atol=1e-6)


def test_long_gpt2_sequence_matches_eager_and_keeps_outputs_bit_identical() -> None:
    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_head=4, n_embd=32, vocab_size=64, n_positions=256)
    model = GPT2Model(config).eval()
    ids = torch.randint(0, 64, (1, 3 * _CAUSAL_BLOCK + 7))
    reference = copy.deepcopy(model)
    reference.set_attn_implementation("eager")
    with torch.no_grad():
        plain = model(input_ids=ids).last_hidden_state
        eager = reference(input_ids=ids, output_attentions=True).attentions
        with aw.capture(model) as cap:
            captured = model(input_ids=ids).last_hidden_state
    assert torch.equal(captured, plain)
    for layer, want in enumerate(eager):
        torch.testing.assert_close(
            torch.from_numpy(cap.attention[layer]), want[0], rtol=0, atol=1e-5
        )


def test_large_results_match_the_reference_and_stay_valid() -> None:
    """A 5 MB result (eight blocks of rows): the upper triangle is zero, the values match,
    and numpy sees the same memory after garbage collection."""
    generator = torch.Generator().manual_seed(3)
    query = torch.randn(1, 8, 400, 8, generator=generator)
    key = torch.randn(1, 8, 400, 8, generator=generator)
    got = attention_steps(query, key, is_causal=True)["probability"]
    full = attention_steps(query, key, kinds=("probability", "scores"))
    gc.collect()
    torch.testing.assert_close(got, reference_causal(query, key), rtol=0, atol=1e-6)
    assert torch.count_nonzero(got.triu(1)) == 0
    scores = query.double() @ key.double().transpose(-1, -2)
    torch.testing.assert_close(full["scores"], scores.float(), rtol=1e-5, atol=1e-5)
    want = torch.softmax(scores * 8**-0.5, dim=-1).float()
    torch.testing.assert_close(full["probability"], want, rtol=0, atol=1e-6)
    assert got.numpy().sum() == pytest.approx(8 * 400, rel=1e-5)  # numpy shares the memory


@pytest.mark.parametrize("tokens", [1, _CAUSAL_BLOCK, _CAUSAL_BLOCK + 1, 3 * _CAUSAL_BLOCK + 5])
def test_blocked_path_weighs_the_values_like_sdpa_with_grouped_heads(tokens: int) -> None:
    generator = torch.Generator().manual_seed(tokens + 7)
    query = torch.randn(2, 4, tokens, 8, generator=generator)
    key, value = (torch.randn(2, 2, tokens, 8, generator=generator) for _ in range(2))
    with torch.no_grad():
        steps = attention_steps(query, key, is_causal=True, value=value)
        sdpa = torch.nn.functional.scaled_dot_product_attention(
            query, key, value, is_causal=True, enable_gqa=True
        )
    assert set(steps) == {"probability", "output"}
    repeated = value.double().repeat_interleave(2, dim=1)
    by_hand = reference_causal(query, key.repeat_interleave(2, dim=1)).double() @ repeated
    torch.testing.assert_close(steps["output"], by_hand.float(), rtol=0, atol=1e-5)
    torch.testing.assert_close(steps["output"], sdpa, rtol=0, atol=1e-5)


def test_values_are_weighed_only_where_sdpa_can_be_skipped() -> None:
    query, key, value = (torch.randn(1, 2, 9, 4) for _ in range(3))
    with torch.no_grad():
        assert "output" not in attention_steps(query, key, is_causal=True, value=value.double())
        assert "output" not in attention_steps(query, key, kinds=("masked",), value=value)
        masked = attention_steps(query, key, attn_mask=torch.ones(9, 9).tril().bool(), value=value)
    with torch.enable_grad():  # gradients must flow through the model's own kernel
        assert "output" not in attention_steps(query, key, is_causal=True, value=value)
    want = torch.nn.functional.scaled_dot_product_attention(query, key, value, is_causal=True)
    torch.testing.assert_close(masked["output"], want, rtol=0, atol=1e-6)


@pytest.mark.parametrize("factory", ["gpt2", "llama"])
def test_reuse_weights_without_padding_takes_the_blocked_path(factory: str) -> None:
    from conftest import tiny_gpt2, tiny_llama_gqa

    model = tiny_gpt2() if factory == "gpt2" else tiny_llama_gqa()
    ids = torch.randint(1, 64, (1, 60), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        plain = model(input_ids=ids).logits
        with aw.capture(model) as exact:
            model(input_ids=ids)
        with aw.capture(model, reuse_weights=True) as reused:
            logits = model(input_ids=ids).logits
    assert (logits - plain).abs().max() <= 1e-5 and not torch.equal(logits, plain)
    for ours, theirs in zip(reused.attention, exact.attention, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)
