"""MPT and Falcon: attention outside transformers' AttentionInterface, read by the fallbacks.

MPT (ALiBi, eager only) is read from its own softmax. Falcon calls
``scaled_dot_product_attention`` itself, with rotary positions or with ALiBi folded into the
mask; the sdpa fallback reads it. Falcon cannot switch implementation at run time, so the eager
reference is a twin built from the same config with ``attn_implementation="eager"``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from transformers import FalconConfig, FalconForCausalLM, MptConfig, MptForCausalLM
from transformers.models.falcon.modeling_falcon import build_alibi_tensor

import attnwidgets as aw

IDS = torch.tensor([[5, 9, 11, 2, 7, 30, 3, 4], [8, 3, 6, 12, 13, 14, 15, 16]])
RIGHT_PAD = torch.tensor([[1] * 8, [1, 1, 1, 1, 1, 0, 0, 0]])
LEFT_PAD = RIGHT_PAD.flip(-1)


def tiny_mpt() -> torch.nn.Module:
    torch.manual_seed(0)
    config = MptConfig(
        n_layers=2, n_heads=4, d_model=32, vocab_size=64, max_seq_len=64, expansion_ratio=2
    )
    return MptForCausalLM(config).eval()


def falcon_config(**options: object) -> FalconConfig:
    return FalconConfig(
        num_hidden_layers=2,
        num_attention_heads=4,
        hidden_size=32,
        vocab_size=64,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
        **options,
    )


def tiny_falcon(**options: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return FalconForCausalLM(falcon_config(**options)).eval()


def eager_falcon_twin(model: torch.nn.Module, **options: object) -> torch.nn.Module:
    config = falcon_config(**options)
    twin = FalconForCausalLM._from_config(config, attn_implementation="eager").eval()
    twin.load_state_dict(model.state_dict())
    return twin


def _assert_rows_match(calls, expected, mask: torch.Tensor) -> None:
    assert len(calls) == len(expected)
    for call, reference in zip(calls, expected, strict=True):
        ours = call.kept["probability"]
        assert ours.shape == reference.shape
        for item in range(ours.shape[0]):
            valid = mask[item].bool()  # query rows of real tokens
            diff = (ours[item][:, valid] - reference[item][:, valid]).abs().max()
            assert diff <= 1e-5, (call.name, item, diff)


@pytest.mark.parametrize("mask", [RIGHT_PAD, LEFT_PAD], ids=["right-pad", "left-pad"])
def test_mpt_alibi_is_read_from_its_softmax(mask):
    model = tiny_mpt()
    with torch.no_grad():
        out = model(input_ids=IDS, attention_mask=mask, output_attentions=True)  # eager only
    with torch.no_grad(), aw.capture(model, scores=["masked"]) as cap:
        logits = model(input_ids=IDS, attention_mask=mask).logits
    assert torch.equal(logits, out.logits)
    assert [c.source for c in cap.calls] == ["softmax", "softmax"]
    assert cap.layer_names == ["transformer.blocks.0.attn", "transformer.blocks.1.attn"]
    _assert_rows_match(cap.calls, out.attentions, mask)
    # masked = what entered the softmax: -inf above the diagonal and on padded keys
    masked = cap.records("masked")[1][0]
    future = np.triu(np.ones((8, 8), bool), 1)
    assert np.all(np.isneginf(masked[:, future]))
    assert np.all(np.isneginf(masked[:, :, ~mask[1].bool().numpy()]))


def test_mpt_raw_scores_are_refused_naming_the_module():
    model = tiny_mpt()
    with torch.no_grad(), aw.capture(model, scores="scores") as cap:
        model(input_ids=IDS[:1])
    with pytest.raises(aw.CaptureError, match=r"scores is not available for transformer\.blocks"):
        cap.record("scores")


@pytest.mark.parametrize("new_architecture", [False, True], ids=["falcon-7b", "falcon-40b-gqa"])
@pytest.mark.parametrize("mask", [RIGHT_PAD, LEFT_PAD], ids=["right-pad", "left-pad"])
def test_falcon_rotary_through_the_sdpa_fallback(new_architecture, mask):
    options = {"new_decoder_architecture": new_architecture}
    if new_architecture:
        options["num_kv_heads"] = 2
    model = tiny_falcon(**options)
    twin = eager_falcon_twin(model, **options)
    with torch.no_grad():
        out = twin(input_ids=IDS, attention_mask=mask, output_attentions=True)
        plain = model(input_ids=IDS, attention_mask=mask).logits
    with torch.no_grad(), aw.capture(model, scores=True) as cap:
        logits = model(input_ids=IDS, attention_mask=mask).logits
    assert torch.equal(logits, plain)
    assert model.config._attn_implementation == "sdpa"
    assert [c.source for c in cap.calls] == ["sdpa", "sdpa"]
    _assert_rows_match(cap.calls, out.attentions, mask)
    # the scaled scores are the scores over sqrt(head_dim)
    scaled, raw = cap.records("scaled")[0], cap.records("scores")[0]
    assert np.abs(scaled[0] - raw[0] / math.sqrt(8)).max() <= 1e-5


def test_falcon_alibi_matches_a_hand_computation_and_the_model_output():
    """Falcon's sdpa path adds ALiBi / sqrt(head_dim) through the mask. (Its eager path in
    transformers 5.24 adds ALiBi twice, once in the scores and once in the mask, so eager
    ``output_attentions`` is no reference here: it is not what the sdpa model computes.)"""
    model = tiny_falcon(alibi=True)
    qkv: dict[int, torch.Tensor] = {}
    handles = [
        block.self_attention.query_key_value.register_forward_hook(
            lambda module, args, out, i=i: qkv.__setitem__(i, out)
        )
        for i, block in enumerate(model.transformer.h)
    ]
    with torch.no_grad():
        plain = model(input_ids=IDS, attention_mask=RIGHT_PAD).logits
    with torch.no_grad(), aw.capture(model) as cap:
        captured = model(input_ids=IDS, attention_mask=RIGHT_PAD).logits
    for handle in handles:
        handle.remove()
    assert torch.equal(captured, plain)
    alibi = build_alibi_tensor(RIGHT_PAD, 4, torch.float32).view(2, 4, 1, 8)
    allowed = torch.ones(8, 8, dtype=torch.bool).tril() & RIGHT_PAD.bool()[:, None, None, :]
    expected = []
    for i, block in enumerate(model.transformer.h):
        query, key, _ = block.self_attention._split_heads(qkv[i])
        query, key = query.transpose(1, 2), key.transpose(1, 2)
        scores = (query @ key.transpose(-1, -2) + alibi) / math.sqrt(8)
        expected.append(scores.masked_fill(~allowed, float("-inf")).softmax(-1))
    _assert_rows_match(cap.calls, expected, RIGHT_PAD)
    # and outputs computed from the recorded weights (weights @ V) give the model's logits
    with torch.no_grad(), aw.capture(model, reuse_weights=True):
        from_weights = model(input_ids=IDS, attention_mask=RIGHT_PAD).logits
    assert (from_weights - plain).abs().max() <= 1e-5


@pytest.mark.parametrize("use_cache", [True, False], ids=["kv-cache", "no-cache"])
def test_falcon_generation_record(use_cache):
    model = tiny_falcon()
    prompt = torch.tensor([[5, 9, 11, 2]])
    with torch.no_grad(), aw.capture(model) as cap:
        generated = model.generate(prompt, max_new_tokens=4, do_sample=False, use_cache=use_cache)
    twin = eager_falcon_twin(model)
    with torch.no_grad():
        out = twin(input_ids=generated[:, :-1], output_attentions=True)
    record = cap.attention
    assert record.shape == (2, 4, 7, 7)
    for layer, reference in enumerate(out.attentions):
        assert np.abs(record[layer] - reference[0].numpy()).max() <= 1e-5
