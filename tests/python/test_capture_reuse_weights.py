"""reuse_weights=True: outputs from the recorded weights (weights @ V) instead of a second sdpa."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tiny_gpt2, tiny_llama_gqa, tiny_t5

import attnwidgets as aw

IDS = torch.tensor([[5, 9, 11, 2, 7, 30, 1], [8, 3, 6, 12, 0, 0, 0]])
MASK = torch.tensor([[1] * 7, [1, 1, 1, 1, 0, 0, 0]])


@pytest.mark.parametrize("factory", [tiny_gpt2, tiny_llama_gqa, tiny_t5])
def test_outputs_stay_within_1e6_of_sdpa_and_weights_agree(factory):
    torch.manual_seed(0)  # float32 rounding scales with the logits (up to ~4.6 for the tiny T5)
    model = factory()
    inputs = {"input_ids": IDS, "attention_mask": MASK}
    if factory is tiny_t5:
        inputs["decoder_input_ids"] = IDS[:, :4]
    with torch.no_grad():
        plain = model(**inputs).logits
        with aw.capture(model) as exact:
            model(**inputs)
        with aw.capture(model, reuse_weights=True) as reused:
            logits = model(**inputs).logits
    real = MASK.bool() if factory is not tiny_t5 else torch.ones(2, 4, dtype=torch.bool)
    assert (logits[real] - plain[real]).abs().max() <= 1e-6 * plain[real].abs().max()
    assert not torch.equal(logits, plain) or factory is tiny_t5  # really a different path
    first_ours, first_theirs = reused.calls[0], exact.calls[0]
    assert torch.equal(first_ours.kept["probability"], first_theirs.kept["probability"])
    for ours, theirs in zip(reused.calls, exact.calls, strict=True):  # later inputs: rounding
        assert (ours.kept["probability"] - theirs.kept["probability"]).abs().max() <= 1e-5


def test_plain_sdpa_call_output_from_weights():
    q, k, v = (torch.randn(1, 2, 6, 8) for _ in range(3))

    class Block(torch.nn.Module):
        def forward(self, q, k, v):
            return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)

    block = Block()
    with torch.no_grad():
        plain = block(q, k, v)
        with aw.capture(block, reuse_weights=True) as cap:
            out = block(q, k, v)
    assert (out - plain).abs().max() <= 1e-6
    assert np.allclose(np.triu(cap.attention[0], 1), 0)


def test_with_gradients_sdpa_runs_and_outputs_are_bit_identical():
    model = tiny_gpt2()
    plain = model(input_ids=IDS[:1]).logits
    with aw.capture(model, reuse_weights=True):
        logits = model(input_ids=IDS[:1]).logits
    assert torch.equal(logits, plain)
    logits.sum().backward()  # gradients flow through the real kernel
    assert model.transformer.h[0].attn.c_attn.weight.grad is not None
