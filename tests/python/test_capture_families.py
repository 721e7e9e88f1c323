"""Every family, captured on its default implementation, equals transformers' eager attention."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from conftest import (
    tiny_bloom,
    tiny_clip,
    tiny_distilbert,
    tiny_gemma2,
    tiny_gemma3,
    tiny_mistral,
    tiny_neox,
    tiny_qwen2,
    tiny_roberta,
    tiny_t5,
    tiny_vit,
    tiny_whisper,
)

import attnwidgets as aw

IDS = torch.tensor([[5, 9, 11, 2, 7, 30, 3, 4], [8, 3, 6, 12, 13, 14, 15, 16]])
MASK = torch.tensor([[1] * 8, [1, 1, 1, 1, 1, 0, 0, 0]])
LEFT_MASK = MASK.flip(-1)
PIXELS = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
FEATURES = torch.randn(1, 8, 16, generator=torch.Generator().manual_seed(2))


def _eager(model: torch.nn.Module, inputs: dict) -> object:
    reference = copy.deepcopy(model)
    if reference.config._attn_implementation != "eager":
        reference.set_attn_implementation("eager")
    with torch.no_grad():
        return reference(**inputs, output_attentions=True)


def _decoder_only_reference(out: object) -> list[torch.Tensor]:
    return list(out.attentions)


def _seq2seq_reference(out: object) -> list[torch.Tensor]:
    """Call order: encoder layers, then per decoder layer self- then cross-attention."""
    interleaved = [
        t for pair in zip(out.decoder_attentions, out.cross_attentions, strict=True) for t in pair
    ]
    return [*out.encoder_attentions, *interleaved]


def _clip_reference(out: object) -> list[torch.Tensor]:
    calls = [*out.vision_model_output.attentions, *out.text_model_output.attentions]
    return calls


CASES = {
    "qwen2-gqa": (tiny_qwen2, {"input_ids": IDS, "attention_mask": LEFT_MASK}, None),
    "mistral-sliding": (tiny_mistral, {"input_ids": IDS, "attention_mask": MASK}, None),
    "gemma2-softcap": (tiny_gemma2, {"input_ids": IDS, "attention_mask": LEFT_MASK}, None),
    "gemma3-sliding": (tiny_gemma3, {"input_ids": IDS, "attention_mask": MASK}, None),
    "gpt-neox": (tiny_neox, {"input_ids": IDS, "attention_mask": LEFT_MASK}, None),
    "roberta": (tiny_roberta, {"input_ids": IDS + 2, "attention_mask": MASK}, None),
    "distilbert": (tiny_distilbert, {"input_ids": IDS, "attention_mask": MASK}, None),
    "t5": (
        tiny_t5,
        {"input_ids": IDS, "attention_mask": MASK, "decoder_input_ids": IDS[:, :5]},
        _seq2seq_reference,
    ),
    "vit": (tiny_vit, {"pixel_values": PIXELS}, None),
    "clip": (
        tiny_clip,
        {"input_ids": IDS, "attention_mask": MASK, "pixel_values": PIXELS.expand(2, -1, -1, -1)},
        _clip_reference,
    ),
    "whisper": (
        tiny_whisper,
        {"input_features": FEATURES, "decoder_input_ids": IDS[:1, :4]},
        _seq2seq_reference,
    ),
    "whisper-encoder": (lambda: tiny_whisper().encoder, {"input_features": FEATURES}, None),
    "bloom-alibi-fallback": (tiny_bloom, {"input_ids": IDS, "attention_mask": MASK}, None),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_family_matches_eager_output_attentions(case):
    factory, inputs, reference_of = CASES[case]
    model = factory()
    expected = (reference_of or _decoder_only_reference)(_eager(model, inputs))
    with torch.no_grad(), aw.capture(model) as cap:
        model(**inputs)
    calls = cap.calls
    assert len(calls) == len(expected), (case, cap.layer_names)
    mask = inputs.get("attention_mask")
    for call, reference in zip(calls, expected, strict=True):
        ours = call.kept["probability"]
        assert ours.shape == reference.shape, (case, call.name)
        if mask is not None and ours.shape[-2] == mask.shape[-1]:
            for item in range(ours.shape[0]):  # query rows of real tokens only
                valid = mask[item].bool()
                diff = (ours[item][:, valid] - reference[item][:, valid]).abs().max()
                assert diff <= 1e-5, f"{case} {call.name} item {item}: {diff}"
        else:
            diff = (ours - reference).abs().max()
            assert diff <= 1e-5, f"{case} {call.name}: {diff}"


def test_t5_masked_scores_carry_the_position_bias():
    """T5 does not scale and adds a learned relative position bias before the softmax."""
    model = tiny_t5()
    ids = IDS[:1, :6]
    with torch.no_grad(), aw.capture(model, scores=True, layers=["encoder.block.0"]) as cap:
        model(input_ids=ids, decoder_input_ids=ids[:, :3])
    assert cap.layer_names == ["encoder.block.0.layer.0.SelfAttention"]
    attn = model.encoder.block[0].layer[0].SelfAttention
    with torch.no_grad():
        hidden = model.encoder.block[0].layer[0].layer_norm(model.shared(ids))
        q = attn.q(hidden).view(1, 6, 4, 8).transpose(1, 2)
        k = attn.k(hidden).view(1, 6, 4, 8).transpose(1, 2)
        bias = attn.compute_bias(6, 6)
    raw = (q @ k.transpose(-1, -2))[0].numpy()
    assert np.abs(cap.record("scores")[0] - raw).max() <= 1e-5
    assert np.abs(cap.record("scaled")[0] - raw).max() <= 1e-5  # T5's scale is 1
    assert np.abs(cap.record("masked")[0] - (raw + bias[0].numpy())).max() <= 1e-5


def test_gemma2_softcap_and_sliding_window_in_masked_scores():
    model = tiny_gemma2()
    with torch.no_grad():  # large logits, so that the soft cap bends them
        for layer in model.model.layers:
            layer.self_attn.q_proj.weight.mul_(300)
    ids = IDS[:1]
    expected = _eager(model, {"input_ids": ids}).attentions
    with torch.no_grad(), aw.capture(model, scores=True) as cap:
        model(input_ids=ids)
    for layer, reference in enumerate(expected):
        assert np.abs(cap.attention[layer] - reference[0].numpy()).max() <= 1e-5
    scaled, masked = cap.record("scaled"), cap.record("masked")
    cap_value = model.config.attn_logit_softcapping
    for layer, window in ((0, 4), (1, None)):  # layer 0 slides, layer 1 is global
        capped = np.tanh(scaled[layer] / cap_value) * cap_value
        q, k = np.indices((8, 8))
        visible = (k <= q) & ((q - k < window) if window else True)
        assert np.all(np.isneginf(masked[layer][:, ~visible]))
        assert np.abs(masked[layer][:, visible] - capped[:, visible]).max() <= 1e-5
        assert np.abs(masked[layer][:, visible]).max() <= cap_value
        # the cap is doing something: capped scores differ from the plain scaled ones
        assert np.abs(masked[layer][:, visible] - scaled[layer][:, visible]).max() > 1e-4


def test_bloom_fallback_names_its_source_and_scores_need_a_kernel():
    model = tiny_bloom()
    with torch.no_grad(), aw.capture(model, scores="scores") as cap:
        model(input_ids=IDS[:1])
    assert {call.source for call in cap.calls} == {"softmax"}
    with pytest.raises(aw.CaptureError, match=r"scores is not available for h\.0\.self_attention"):
        cap.record("scores")


def test_unsupported_module_gets_a_message_naming_it():
    class HandRolled(torch.nn.Module):
        """Attention written with exp/sum instead of softmax: nothing any capture can see."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            scores = (x @ x.transpose(-1, -2)).exp()
            return (scores / scores.sum(-1, keepdim=True)) @ x

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attention = HandRolled()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.attention(x)

    model = Net()
    with aw.capture(model) as cap:
        model(torch.randn(1, 2, 3, 4))
    with pytest.raises(aw.CaptureError, match=r"attention \(HandRolled\)"):
        cap.attention
