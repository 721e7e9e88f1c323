"""Plain PyTorch: nn.MultiheadAttention and nn.TransformerEncoder, fast path included."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import attnwidgets as aw

torch.manual_seed(0)


def _by_hand(mha: torch.nn.MultiheadAttention, x: torch.Tensor, pad: torch.Tensor | None):
    """softmax(Q K^T / sqrt(d) + mask) per head, from the module's own parameters."""
    d, heads = mha.embed_dim, mha.num_heads
    q, k, _ = (x @ mha.in_proj_weight.T + mha.in_proj_bias).split(d, dim=-1)
    b, n = x.shape[:2]
    q = q.view(b, n, heads, d // heads).transpose(1, 2)
    k = k.view(b, n, heads, d // heads).transpose(1, 2)
    scores = q @ k.transpose(-1, -2) / np.sqrt(d // heads)
    if pad is not None:
        scores = scores.masked_fill(pad[:, None, None, :], float("-inf"))
    return torch.softmax(scores, -1)


@pytest.mark.parametrize("need_weights", [False, True])
def test_multihead_attention_fast_path_gives_per_head_weights(need_weights):
    mha = torch.nn.MultiheadAttention(16, 4, batch_first=True).eval()
    x = torch.randn(2, 5, 16)
    pad = torch.tensor([[False] * 5, [False, False, False, True, True]])
    with torch.no_grad():
        plain_out, plain_weights = mha(x, x, x, key_padding_mask=pad, need_weights=need_weights)
        with aw.capture(mha) as cap:
            out, weights = mha(x, x, x, key_padding_mask=pad, need_weights=need_weights)
        expected = _by_hand(mha, x, pad)
    assert cap.layer_names == [""]  # the root module itself
    kept = cap.calls[0].kept["probability"]
    assert kept.shape == (2, 4, 5, 5)  # per head, never averaged
    assert (kept - expected).abs().max() <= 1e-6
    # the caller gets what it asked for: nothing, or the head average
    if need_weights:
        assert weights.shape == (2, 5, 5)
        assert (weights - expected.mean(1)).abs().max() <= 1e-6
    else:
        assert weights is None and plain_weights is None
    # documented trade-off: the explicit softmax path rounds differently from the fused kernel
    real = ~pad
    assert (out[real] - plain_out[real]).abs().max() <= 1e-6


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors:UserWarning")
def test_transformer_encoder_fast_path_with_padding():
    layer = torch.nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, batch_first=True)
    encoder = torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=True).eval()
    x = torch.randn(2, 6, 16)
    pad = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])
    with torch.no_grad():
        plain = encoder(x, src_key_padding_mask=pad)
        with aw.capture(encoder) as cap:
            captured = encoder(x, src_key_padding_mask=pad)
        after = encoder(x, src_key_padding_mask=pad)
        inputs = [x, encoder.layers[0](x, src_key_padding_mask=pad)]
    assert cap.layer_names == ["layers.0.self_attn", "layers.1.self_attn"]
    real = ~pad
    for index, layer_input in enumerate(inputs):
        expected = _by_hand(encoder.layers[index].self_attn, layer_input, pad)
        kept = cap.calls[index].kept["probability"]
        for item in range(2):  # query rows of real tokens
            diff = (kept[item][:, real[item]] - expected[item][:, real[item]]).abs().max()
            assert diff <= 1e-5, (index, item, diff)
    assert (captured[real] - plain[real]).abs().max() <= 1e-5
    assert torch.equal(after, plain)  # the fast path is back after the capture


def test_mha_scaled_scores_are_recorded_beside_the_weights():
    """Hand computations for every mask and layout are in test_mha_scores.py."""
    mha = torch.nn.MultiheadAttention(8, 2).eval()
    x = torch.randn(3, 1, 8)  # sequence first
    with torch.no_grad(), aw.capture(mha, scores="scaled") as cap:
        mha(x, x, x)
    assert cap.attention.shape == cap.record("scaled").shape == (1, 2, 3, 3)
    softmax = torch.from_numpy(cap.record("scaled")[0]).softmax(-1).numpy()
    assert np.abs(softmax - cap.attention[0]).max() <= 1e-6


def test_nanogpt_manual_softmax_attention_is_recorded():
    class ManualAttention(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = torch.nn.Linear(8, 24)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            q, k, v = self.qkv(x).view(1, 4, 3, 2, 4).permute(2, 0, 3, 1, 4)
            att = (q @ k.transpose(-2, -1)) * (1.0 / 2.0)
            att = att.masked_fill(torch.ones(4, 4).triu(1).bool(), float("-inf"))
            att = torch.nn.functional.softmax(att, dim=-1)
            return att @ v

    model = ManualAttention()
    x = torch.randn(1, 4, 8)
    with torch.no_grad(), aw.capture(model, scores="masked") as cap:
        model(x)
        q, k, _ = model.qkv(x).view(1, 4, 3, 2, 4).permute(2, 0, 3, 1, 4)
    scores = (q @ k.transpose(-2, -1) / 2.0)[0].numpy()
    causal = np.triu(np.ones((4, 4), bool), 1)
    masked = cap.record("masked")[0]
    assert np.all(np.isneginf(masked[:, causal]))
    assert np.abs(masked[:, ~causal] - scores[:, ~causal]).max() <= 1e-6
    expected = torch.softmax(torch.from_numpy(np.where(causal, -np.inf, scores)), -1).numpy()
    assert np.abs(cap.attention[0] - expected).max() <= 1e-6
