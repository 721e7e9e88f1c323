"""The model is left exactly as it was: hooks, implementation, outputs, even after errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tiny_bert, tiny_gpt2, tiny_llama_gqa

import attnwidgets as aw
from attnwidgets.recording.attention import interface as hf_interface


def _hook_counts(model: torch.nn.Module) -> int:
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._forward_hooks_always_called)
        for m in model.modules()
    )


def _state(model: torch.nn.Module) -> dict:
    return {
        "hooks": _hook_counts(model),
        "impl": model.config._attn_implementation,
        "training": model.training,
        "params": {k: v.clone() for k, v in model.state_dict().items()},
    }


def _assert_same(model: torch.nn.Module, before: dict) -> None:
    after = _state(model)
    assert after["hooks"] == before["hooks"]
    assert after["impl"] == before["impl"]
    assert after["training"] == before["training"]
    for key, value in before["params"].items():
        assert torch.equal(after["params"][key], value), key
    assert model not in hf_interface._watchers


@pytest.mark.parametrize("factory", [tiny_gpt2, tiny_llama_gqa, tiny_bert])
def test_outputs_identical_to_an_uncaptured_run(factory):
    model = factory()
    ids = torch.tensor([[4, 8, 15, 16, 23, 42]])
    with torch.no_grad():
        plain = model(input_ids=ids).last_hidden_state if hasattr(model, "pooler") else None
        plain = plain if plain is not None else model(input_ids=ids).logits
        before = _state(model)
        with aw.capture(model) as cap:
            out = model(input_ids=ids)
        captured = out.last_hidden_state if hasattr(model, "pooler") else out.logits
    assert torch.equal(plain, captured)  # bit-identical: the sdpa kernel still runs
    assert len(cap.attention) == 2
    _assert_same(model, before)


def test_cleanup_when_forward_raises():
    model = tiny_gpt2()
    before = _state(model)
    with pytest.raises(IndexError), aw.capture(model):
        model(input_ids=torch.tensor([[1, 2, 999]]))  # token id out of the vocabulary
    _assert_same(model, before)
    # and the model still works normally afterwards
    with torch.no_grad():
        assert model(input_ids=torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 64)


def test_eager_model_stays_eager_and_weights_are_eager_weights():
    model = tiny_llama_gqa()
    model.set_attn_implementation("eager")
    ids = torch.tensor([[3, 1, 4, 1, 5]])
    with torch.no_grad():
        reference = model(input_ids=ids, output_attentions=True).attentions
        with aw.capture(model) as cap:
            model(input_ids=ids)
    assert model.config._attn_implementation == "eager"
    for layer, expected in enumerate(reference):
        assert torch.equal(torch.from_numpy(cap.attention[layer]), expected[0].float())


def test_nested_captures_and_two_models_do_not_interfere():
    first, second = tiny_gpt2(), tiny_bert()
    with torch.no_grad(), aw.capture(first) as outer, aw.capture(second) as other:
        with aw.capture(first) as inner:
            first(input_ids=torch.tensor([[1, 2, 3]]))
        second(input_ids=torch.tensor([[1, 2, 3, 4]]))
    assert inner.attention.shape == (2, 4, 3, 3)
    assert outer.attention.shape == (2, 4, 3, 3)
    assert other.attention.shape == (2, 4, 4, 4)
    assert first.config._attn_implementation == "sdpa"
    assert second.config._attn_implementation == "sdpa"


def test_model_without_visible_attention_gets_a_clear_error():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU())
    with aw.capture(model) as cap:
        model(torch.randn(2, 4))
    with pytest.raises(aw.CaptureError, match=r"Sequential.*AttentionInterface.*scaled_dot"):
        cap.attention


def test_batch_needs_an_index():
    model = tiny_gpt2()
    with torch.no_grad(), aw.capture(model) as cap:
        model(input_ids=torch.tensor([[1, 2], [3, 4]]))
    with pytest.raises(ValueError, match=r"2 sequences.*attentions\[i\]"):
        cap.attention
    assert len(cap.attentions) == 2


def test_capture_rejects_non_modules():
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"), aw.capture("gpt2"):
        pass


class _CausalSelfAttention(torch.nn.Module):
    """nanoGPT-style attention: calls sdpa itself (is_causal, probabilities only: the blocked
    recompute, whose own softmax calls an outer capture must not mistake for attention)."""

    def __init__(self) -> None:
        super().__init__()
        self.n_head = 2
        self.qkv = torch.nn.Linear(8, 24)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).view(1, x.shape[1], 3, 2, 4).permute(2, 0, 3, 1, 4)
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return out.transpose(1, 2).reshape(1, x.shape[1], 8)


def test_nested_captures_of_plain_sdpa_record_the_same_calls_once():
    torch.manual_seed(0)
    model = torch.nn.Sequential(_CausalSelfAttention(), _CausalSelfAttention())
    x = torch.randn(1, 70, 8)  # two blocks of query rows in the recompute
    with torch.no_grad(), aw.capture(model) as outer, aw.capture(model) as inner:
        model(x)
    assert outer.layer_names == inner.layer_names == ["0", "1"]
    assert outer.attention.shape == (2, 2, 70, 70)
    np.testing.assert_array_equal(outer.attention.to_numpy(), inner.attention.to_numpy())
    with torch.no_grad():
        q, k, _ = model[0].qkv(x).view(1, 70, 3, 2, 4).permute(2, 0, 3, 1, 4)
    scores = (q @ k.transpose(-2, -1) / 2.0).masked_fill(
        torch.ones(70, 70, dtype=torch.bool).triu(1), float("-inf")
    )
    np.testing.assert_allclose(inner.attention[0], torch.softmax(scores, -1)[0], atol=1e-6)
