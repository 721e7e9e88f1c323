"""Breadth sweep (issue 3): more families, each against eager attention or a clear refusal.

Every family in ``tiny_families.FAMILIES`` is captured on its default implementation and
compared with the eager attention of the same weights (``<= 1e-5`` on the query rows of real
tokens); the model's own outputs must be unchanged. Families whose attention is not a query x key
matrix must fail with a ``CaptureError`` that names the module and why, and leave the model as
it was. MPT and Falcon are in test_capture_mpt_falcon.py.
"""

from __future__ import annotations

import copy

import pytest
import torch
import transformers
from tiny_families import FAMILIES, IDS, RIGHT_PAD, eager_reference, text

import attnwidgets as aw


def _main_output(out: object) -> torch.Tensor:
    """The first tensor of a model output (logits or last hidden state)."""
    values = out.values() if hasattr(out, "values") else out
    return next(v for v in values if isinstance(v, torch.Tensor))


def _valid_rows(mask: torch.Tensor | None, item: int, rows: int) -> torch.Tensor:
    if mask is None or mask.shape[-1] != rows:
        return torch.ones(rows, dtype=torch.bool)
    return mask[item].bool()


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_matches_eager_attention(name):
    family = FAMILIES[name]
    model = family.build()
    inputs = family.inputs()
    expected = eager_reference(family, model, inputs)
    with torch.no_grad():
        plain = _main_output(model(**inputs))
    with torch.no_grad(), aw.capture(model) as cap:
        captured = _main_output(model(**inputs))
    assert torch.allclose(captured, plain, atol=1e-6), "the capture changed the model's output"
    calls = cap.calls
    assert len(calls) == len(expected), (name, cap.layer_names)
    assert "+".join(sorted({c.source for c in calls})) == family.source, name
    mask = inputs.get("attention_mask")
    spread = 0.0
    for call, reference in zip(calls, expected, strict=True):
        ours = call.kept["probability"]
        reference = reference.reshape(ours.shape)  # SAM returns [batch * heads, query, key]
        for item in range(ours.shape[0]):
            valid = _valid_rows(mask, item, ours.shape[-2])
            diff = (ours[item][:, valid] - reference[item][:, valid]).abs().max()
            assert diff <= 1e-5, f"{name} {call.name} item {item}: {diff}"
        spread = max(spread, float((reference - reference.mean(-1, keepdim=True)).abs().max()))
    assert spread > 1e-3, f"{name}: eager attention is uniform, so the comparison proves little"


def test_softmax_module_calls_are_named_by_their_attention_module():
    family = FAMILIES["squeezebert"]
    model = family.build()
    with torch.no_grad(), aw.capture(model, layers=[1]) as cap:
        model(**family.inputs())
    assert cap.layer_names == ["encoder.layers.1.attention"]  # not ...attention.softmax
    assert cap["blocks.1.attn.hook_pattern"].shape == (2, 4, 8, 8)


def test_siglip_pooling_head_is_recorded_per_head():
    family = FAMILIES["siglip"]
    model = family.build()
    with torch.no_grad(), aw.capture(model, layers=["vision_model.head.*"]) as cap:
        model(**family.inputs())
    assert cap.layer_names == ["vision_model.head.attention"]
    assert cap.calls[0].kept["probability"].shape == (2, 4, 1, 16)  # one probe over 16 patches


# -- families that cannot be recorded as a matrix: a clear error, the model unchanged -------
def _model_state(model: torch.nn.Module) -> tuple:
    hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    implementation = getattr(model.config, "_attn_implementation", None)
    return hooks, implementation, {k: v.clone() for k, v in model.state_dict().items()}


def _assert_same_state(before: tuple, after: tuple) -> None:
    assert before[:2] == after[:2]
    assert before[2].keys() == after[2].keys()
    assert all(torch.equal(before[2][k], after[2][k]) for k in before[2])


LONG_IDS = torch.arange(4, 36).reshape(1, 32)
REFUSED = {
    "longformer": (
        "LongformerModel",
        transformers.LongformerConfig(
            num_hidden_layers=2,
            num_attention_heads=4,
            hidden_size=32,
            intermediate_size=64,
            vocab_size=64,
            max_position_embeddings=64,
            attention_window=4,
            pad_token_id=1,
        ),
        {"input_ids": IDS + 2, "attention_mask": RIGHT_PAD},
        r"encoder\.layer\.0\.attention\.self, encoder\.layer\.1\.attention\.self "
        r"\(LongformerSelfAttention: sliding-window attention",
    ),
    "bigbird-block-sparse": (
        "BigBirdModel",
        transformers.BigBirdConfig(
            num_hidden_layers=2,
            num_attention_heads=4,
            hidden_size=32,
            intermediate_size=64,
            vocab_size=64,
            max_position_embeddings=64,
            attention_type="block_sparse",
            block_size=2,
            num_random_blocks=1,
        ),
        {"input_ids": LONG_IDS},
        r"encoder\.layer\.0\.attention\.self.*\(BigBirdBlockSparseAttention: block-sparse",
    ),
    "nystromformer": (
        "NystromformerModel",
        transformers.NystromformerConfig(
            num_hidden_layers=2,
            num_attention_heads=4,
            hidden_size=32,
            intermediate_size=64,
            vocab_size=64,
            max_position_embeddings=64,
            num_landmarks=4,
            segment_means_seq_len=8,
        ),
        {"input_ids": IDS},
        r"\(NystromformerSelfAttention: Nystrom approximation",
    ),
    "reformer-no-softmax": (
        "ReformerModel",
        transformers.ReformerConfig(
            attn_layers=["local", "lsh"],
            hidden_size=32,
            num_attention_heads=2,
            attention_head_size=16,
            feed_forward_size=64,
            vocab_size=64,
            axial_pos_shape=[4, 8],
            axial_pos_embds_dim=[16, 16],
            max_position_embeddings=32,
            local_attn_chunk_length=4,
            lsh_attn_chunk_length=4,
            num_buckets=2,
            is_decoder=True,
        ),
        {"input_ids": LONG_IDS},
        r"no attention was captured from ReformerModel.*\(LocalSelfAttention\).*"
        r"\(LSHSelfAttention\)",
    ),
    "fnet-no-attention": (
        "FNetModel",
        transformers.FNetConfig(
            num_hidden_layers=2, hidden_size=32, intermediate_size=64, vocab_size=64
        ),
        {"input_ids": IDS},
        r"no attention was captured from FNetModel",
    ),
    "mamba-no-attention": (
        "MambaModel",
        transformers.MambaConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, state_size=4),
        {"input_ids": IDS},
        r"no attention was captured from MambaModel",
    ),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_family_without_a_matrix_fails_clearly_and_leaves_the_model(name):
    model_class, config, inputs, message = REFUSED[name]
    torch.manual_seed(0)
    model = getattr(transformers, model_class)(config).eval()
    before = _model_state(model)
    torch.manual_seed(1)  # Reformer draws random hash rotations in each forward
    with torch.no_grad():
        plain = _main_output(model(**inputs))
    torch.manual_seed(1)
    with torch.no_grad(), aw.capture(model) as cap:
        captured = _main_output(model(**inputs))
    assert torch.equal(captured, plain)
    _assert_same_state(before, _model_state(model))
    with pytest.raises(aw.CaptureError, match=message):
        cap.attention


def test_led_decoder_is_read_once_its_longformer_encoder_is_left_out():
    """LED: banded encoder (refused, named), ordinary decoder; layers= picks the decoder."""
    config = transformers.LEDConfig(
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        d_model=32,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        vocab_size=64,
        max_encoder_position_embeddings=64,
        max_decoder_position_embeddings=64,
        attention_window=4,
        pad_token_id=1,
    )
    torch.manual_seed(0)
    model = transformers.LEDModel(config).eval()
    inputs = {"input_ids": IDS + 3, "decoder_input_ids": IDS[:, :5] + 3}
    with torch.no_grad(), aw.capture(model) as cap:
        model(**inputs)
    with pytest.raises(aw.CaptureError, match=r"LEDEncoderSelfAttention.*layers="):
        cap.attentions
    with torch.no_grad(), aw.capture(model, layers=["decoder.*"]) as cap:
        model(**inputs)
    reference = copy.deepcopy(model)
    with torch.no_grad():
        out = reference(**inputs, output_attentions=True)  # LED runs eager attention
    pairs = zip(out.decoder_attentions, out.cross_attentions, strict=True)
    expected = [t for pair in pairs for t in pair]
    assert cap.layer_names == [
        "decoder.layers.0.self_attn",
        "decoder.layers.0.encoder_attn",
        "decoder.layers.1.self_attn",
        "decoder.layers.1.encoder_attn",
    ]
    for call, want in zip(cap.calls, expected, strict=True):
        assert (call.kept["probability"] - want).abs().max() <= 1e-5, call.name


def test_text_inputs_are_shared_and_untouched():
    """The helper hands each family fresh tensors: one family cannot edit another's inputs."""
    first, second = text(offset=2)(), text(offset=2)()
    first["input_ids"].add_(1)
    assert torch.equal(second["input_ids"], IDS + 2)
