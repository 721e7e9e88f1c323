"""Scores (Q K^T), scaled and masked from nn.MultiheadAttention and nn.TransformerEncoder,
checked against a hand computation from ``in_proj_weight`` / ``in_proj_bias``."""

from __future__ import annotations

import math

import pytest
import torch

import attnwidgets as aw

torch.manual_seed(0)
BATCH, QUERIES, KEYS, EMBED, HEADS = 2, 5, 5, 8, 2
PADDING = torch.tensor([[False] * 5, [False, False, False, True, True]])  # True: hidden key
FLOAT_PADDING = torch.zeros(PADDING.shape).masked_fill(PADDING, float("-inf"))
CAUSAL = torch.ones(5, 5, dtype=torch.bool).triu(1)


def _mha(*args: object, **kwargs: object) -> torch.nn.MultiheadAttention:
    """An eval-mode module whose in-projection biases are not zero (PyTorch starts them at 0)."""
    mha = torch.nn.MultiheadAttention(*args, **kwargs).eval()
    with torch.no_grad():
        if mha.in_proj_bias is not None:
            mha.in_proj_bias.normal_()
    return mha


def _hand(
    mha: torch.nn.MultiheadAttention,
    query: torch.Tensor,  # [batch, query, embed], batch first
    key: torch.Tensor,
    *,
    key_padding_mask: torch.Tensor | None = None,
    attn_mask: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """The textbook steps, [batch, heads, query, key], from the module's parameters."""
    embed, heads = mha.embed_dim, mha.num_heads
    head_dim = embed // heads
    if mha._qkv_same_embed_dim:
        w_q, w_k = mha.in_proj_weight[:embed], mha.in_proj_weight[embed : 2 * embed]
    else:
        w_q, w_k = mha.q_proj_weight, mha.k_proj_weight
    b_q = b_k = torch.zeros(embed)
    if mha.in_proj_bias is not None:
        b_q, b_k = mha.in_proj_bias[:embed], mha.in_proj_bias[embed : 2 * embed]
    batch = query.shape[0]
    q = (query @ w_q.T + b_q).reshape(batch, -1, heads, head_dim).transpose(1, 2)
    k = (key @ w_k.T + b_k).reshape(batch, -1, heads, head_dim).transpose(1, 2)
    if mha.bias_k is not None:  # one learned key column after the projected keys
        k = torch.cat([k, mha.bias_k.reshape(1, heads, 1, head_dim).expand(batch, -1, -1, -1)], 2)
    if mha.add_zero_attn:
        k = torch.cat([k, torch.zeros(batch, heads, 1, head_dim)], dim=2)
    scores = q @ k.transpose(-1, -2)
    scaled = scores / math.sqrt(head_dim)
    sources = k.shape[2]
    hidden = torch.zeros(batch, 1, q.shape[2], sources, dtype=torch.bool)
    added = torch.zeros(batch, heads, q.shape[2], sources)
    if attn_mask is not None:
        if attn_mask.dim() == 3:
            attn_mask = attn_mask.reshape(batch, heads, *attn_mask.shape[1:])
        columns = attn_mask.shape[-1]
        if attn_mask.dtype == torch.bool:
            hidden = hidden.clone()
            hidden[..., :columns] |= attn_mask
        else:
            added[..., :columns] += attn_mask
    if key_padding_mask is not None:
        hidden = hidden.clone()
        hidden_keys = key_padding_mask
        if key_padding_mask.dtype != torch.bool:
            hidden_keys = torch.isneginf(key_padding_mask)
        hidden[..., : key_padding_mask.shape[-1]] |= hidden_keys[:, None, None, :]
    masked = (scaled + added).masked_fill(hidden, float("-inf"))
    return {
        "scores": scores,
        "scaled": scaled,
        "masked": masked,
        "probability": masked.softmax(-1),
    }


def _assert_steps(cap: aw.Capture, expected: dict[str, torch.Tensor], layer: int = 0) -> None:
    for kind, reference in expected.items():
        for item, record in enumerate(cap.records(kind)):
            ours = torch.from_numpy(record[layer])
            want = reference[item]
            assert ours.shape == want.shape, (kind, item)
            hidden = torch.isneginf(want)
            assert torch.equal(torch.isneginf(ours), hidden), (kind, item)
            diff = (ours[~hidden] - want[~hidden]).abs().max()
            assert diff <= 1e-5, (kind, item, diff)


def _run(mha, query, key, value, batch_first, **masks):
    """Call the module as users do: batch first or sequence first."""
    if not batch_first:
        query, key, value = (t.transpose(0, 1) for t in (query, key, value))
    with torch.no_grad(), aw.capture(mha, scores=True) as cap:
        output, weights = mha(query, key, value, **masks)
    return cap, output, weights


def _run_plain(mha, x, batch_first, **masks):
    if not batch_first:
        x = x.transpose(0, 1)
    with torch.no_grad():
        return mha(x, x, x, **masks)[0]


MASKS = {
    "none": {},
    "key-padding": {"key_padding_mask": PADDING},
    "causal-bool": {"attn_mask": CAUSAL},
    "float-mask": {"attn_mask": torch.randn(5, 5)},
    "per-head-float-and-float-padding": {
        "attn_mask": torch.randn(BATCH * HEADS, 5, 5),
        "key_padding_mask": FLOAT_PADDING,
    },
    "causal-and-padding": {"attn_mask": CAUSAL, "key_padding_mask": PADDING},
}


@pytest.mark.parametrize("batch_first", [True, False], ids=["batch-first", "seq-first"])
@pytest.mark.parametrize("masks", sorted(MASKS))
def test_self_attention_steps_match_a_hand_computation(batch_first, masks):
    mha = _mha(EMBED, HEADS, batch_first=batch_first)
    x = torch.randn(BATCH, QUERIES, EMBED)
    cap, output, weights = _run(mha, x, x, x, batch_first, **MASKS[masks])
    with torch.no_grad():
        expected = _hand(mha, x, x, **MASKS[masks])
    _assert_steps(cap, expected)
    # the caller still gets what it asked for: the output and head-averaged weights
    plain = _run_plain(mha, x, batch_first, **MASKS[masks])
    assert torch.allclose(output, plain, atol=1e-6)
    assert weights.shape == (BATCH, QUERIES, KEYS)
    assert torch.allclose(weights, expected["probability"].mean(1), atol=1e-6)


@pytest.mark.parametrize("batch_first", [True, False], ids=["batch-first", "seq-first"])
def test_cross_attention_with_kdim_and_vdim(batch_first):
    """Separate q/k/v projection weights; keys longer than queries, of another width."""
    mha = _mha(EMBED, HEADS, kdim=6, vdim=3, batch_first=batch_first)
    query = torch.randn(BATCH, 3, EMBED)
    key, value = torch.randn(BATCH, 7, 6), torch.randn(BATCH, 7, 3)
    padding = torch.tensor([[False] * 7, [False] * 4 + [True] * 3])
    cap, _, _ = _run(mha, query, key, value, batch_first, key_padding_mask=padding)
    with torch.no_grad():
        expected = _hand(mha, query, key, key_padding_mask=padding)
    assert expected["scores"].shape == (BATCH, HEADS, 3, 7)
    _assert_steps(cap, expected)


def test_bias_kv_and_zero_attention_add_key_columns():
    mha = _mha(EMBED, HEADS, add_bias_kv=True, add_zero_attn=True)
    x = torch.randn(BATCH, QUERIES, EMBED)
    cap, _, _ = _run(mha, x, x, x, False, key_padding_mask=PADDING, attn_mask=CAUSAL)
    with torch.no_grad():
        expected = _hand(mha, x, x, key_padding_mask=PADDING, attn_mask=CAUSAL)
    assert expected["scores"].shape[-1] == KEYS + 2
    assert torch.all(expected["scores"][..., -1] == 0)  # the zero key
    _assert_steps(cap, expected)


def test_unbatched_input():
    mha = _mha(EMBED, HEADS)
    x = torch.randn(QUERIES, EMBED)
    with torch.no_grad(), aw.capture(mha, scores=True) as cap:
        mha(x, x, x, attn_mask=CAUSAL)
    with torch.no_grad():
        expected = _hand(mha, x[None], x[None], attn_mask=CAUSAL)
    _assert_steps(cap, expected)


def test_scores_without_probabilities():
    mha = _mha(EMBED, HEADS, batch_first=True)
    x = torch.randn(1, QUERIES, EMBED)
    with torch.no_grad(), aw.capture(mha, attention=False, scores="scaled") as cap:
        _, weights = mha(x, x, x, need_weights=False)
    assert weights is None  # the caller asked for none
    assert set(cap.calls[0].kept) == {"scaled"}
    with torch.no_grad():
        expected = _hand(mha, x, x)
    _assert_steps(cap, {"scaled": expected["scaled"]})


def test_transformer_encoder_fast_path_gives_every_step():
    """eval + no_grad (the fused fast path), padding and a causal mask, two layers."""
    layer = torch.nn.TransformerEncoderLayer(EMBED, HEADS, dim_feedforward=16, batch_first=True)
    encoder = torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False).eval()
    with torch.no_grad():
        for block in encoder.layers:
            block.self_attn.in_proj_bias.normal_()
    x = torch.randn(BATCH, QUERIES, EMBED)
    with torch.no_grad(), aw.capture(encoder, scores=True) as cap:
        encoder(x, mask=CAUSAL, src_key_padding_mask=PADDING, is_causal=True)
    assert cap.layer_names == ["layers.0.self_attn", "layers.1.self_attn"]
    masks = {"attn_mask": CAUSAL, "key_padding_mask": PADDING}
    with torch.no_grad():
        _assert_steps(cap, _hand(encoder.layers[0].self_attn, x, x, **masks), layer=0)
    with torch.enable_grad():  # the plain (unfused) path gives layer 1 its input
        second = encoder.layers[0](x, src_mask=CAUSAL, src_key_padding_mask=PADDING).detach()
    with torch.no_grad():
        _assert_steps(cap, _hand(encoder.layers[1].self_attn, second, second, **masks), layer=1)


def test_transformer_decoder_cross_attention_with_memory_padding():
    """nn.Transformer: encoder self, decoder self (causal) and cross attention over padding."""
    model = torch.nn.Transformer(
        d_model=EMBED,
        nhead=HEADS,
        num_encoder_layers=1,
        num_decoder_layers=1,
        dim_feedforward=16,
        batch_first=True,
    ).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.MultiheadAttention):
                module.in_proj_bias.normal_()
    source, target = torch.randn(BATCH, 5, EMBED), torch.randn(BATCH, 3, EMBED)
    causal = model.generate_square_subsequent_mask(3)  # float, -inf above the diagonal
    cross = model.decoder.layers[0].multihead_attn
    seen: dict[str, torch.Tensor] = {}
    handle = cross.register_forward_pre_hook(
        lambda module, args: seen.update(query=args[0], memory=args[1])
    )
    try:
        with torch.no_grad(), aw.capture(model, scores=True) as cap:
            model(
                source,
                target,
                tgt_mask=causal,
                src_key_padding_mask=PADDING,
                memory_key_padding_mask=PADDING,
            )
    finally:
        handle.remove()
    assert cap.layer_names == [
        "encoder.layers.0.self_attn",
        "decoder.layers.0.self_attn",
        "decoder.layers.0.multihead_attn",
    ]
    with torch.no_grad():
        encoder_self = _hand(
            model.encoder.layers[0].self_attn, source, source, key_padding_mask=PADDING
        )
        decoder_self = _hand(model.decoder.layers[0].self_attn, target, target, attn_mask=causal)
        expected = _hand(cross, seen["query"], seen["memory"], key_padding_mask=PADDING)
    _assert_steps(cap, encoder_self, layer=0)
    _assert_steps(cap, decoder_self, layer=1)
    _assert_steps(cap, expected, layer=2)
    assert expected["masked"].shape == (BATCH, HEADS, 3, 5)
