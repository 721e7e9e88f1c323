"""Captured attention equals transformers' eager output_attentions on sdpa models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import eager_attentions

import attnwidgets as aw


def test_default_implementation_is_sdpa_and_output_attentions_is_empty(family):
    """The problem attnwidgets solves: on sdpa, output_attentions gives nothing."""
    _, model = family
    assert model.config._attn_implementation == "sdpa"
    with torch.no_grad():
        out = model(input_ids=torch.tensor([[3, 4, 5]]), output_attentions=True)
    assert not out.attentions


def test_single_sequence_matches_eager(family):
    name, model = family
    ids = torch.tensor([[5, 9, 11, 2, 7, 30, 1]])
    expected = eager_attentions(model, input_ids=ids)
    with torch.no_grad(), aw.capture(model) as cap:
        model(input_ids=ids)
    record = cap.attention
    assert record.shape == (len(expected), *expected[0].shape[1:])
    for layer, reference in enumerate(expected):
        diff = np.abs(record[layer] - reference[0].numpy()).max()
        assert diff <= 1e-5, f"{name} layer {layer}: max abs diff {diff}"


@pytest.mark.parametrize("side", ["right", "left"])
def test_padded_batch_matches_eager(family, side):
    name, model = family
    ids = torch.tensor([[5, 9, 11, 2, 7, 30], [8, 3, 6, 12, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]])
    if side == "left":
        ids = torch.tensor([[5, 9, 11, 2, 7, 30], [0, 0, 8, 3, 6, 12]])
        mask = mask.flip(-1)
    expected = eager_attentions(model, input_ids=ids, attention_mask=mask)
    with torch.no_grad(), aw.capture(model) as cap:
        model(input_ids=ids, attention_mask=mask)
    records = cap.attentions
    assert len(records) == 2
    for item, record in enumerate(records):
        valid = mask[item].bool().numpy()
        for layer, reference in enumerate(expected):
            ours = record[layer][:, valid]  # query rows of real tokens
            theirs = reference[item].numpy()[:, valid]
            diff = np.abs(ours - theirs).max()
            assert diff <= 1e-5, f"{name} item {item} layer {layer}: max abs diff {diff}"
            if (~valid).any():  # padded keys get no attention from real queries
                assert np.abs(record[layer][:, valid][:, :, ~valid]).max() <= 1e-6


def test_layer_names_are_module_paths(family):
    _, model = family
    with torch.no_grad(), aw.capture(model) as cap:
        model(input_ids=torch.tensor([[1, 2, 3]]))
    modules = dict(model.named_modules())
    assert len(cap.layer_names) == 2
    for path in cap.layer_names:
        assert path in modules
        assert "attn" in path.lower() or "attention" in path.lower()


def test_plain_pytorch_sdpa_by_name_and_by_module():
    """nanoGPT-style code: F.scaled_dot_product_attention, and the function imported by name."""
    from torch.nn.functional import scaled_dot_product_attention as sdpa_by_name

    class Block(torch.nn.Module):
        def __init__(self, by_name: bool) -> None:
            super().__init__()
            self.qkv = torch.nn.Linear(16, 48)
            self.by_name = by_name

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            q, k, v = self.qkv(x).view(1, -1, 3, 2, 8).permute(2, 0, 3, 1, 4)
            if self.by_name:
                return sdpa_by_name(q, k, v, is_causal=True)
            return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)

    model = torch.nn.Sequential(Block(by_name=False), Block(by_name=True))
    x = torch.randn(1, 5, 16)
    with torch.no_grad(), aw.capture(model) as cap:
        # each block sees a fresh input so we can recompute by hand
        model[0](x)
        model[1](x)
    assert cap.layer_names == ["0", "1"]
    for index in range(2):
        q, k, _ = model[index].qkv(x).view(1, -1, 3, 2, 8).permute(2, 0, 3, 1, 4)
        scores = (q @ k.transpose(-1, -2)) / np.sqrt(8)
        scores = scores.masked_fill(torch.ones(5, 5).triu(1).bool(), float("-inf"))
        expected = torch.softmax(scores, -1)[0].detach().numpy()
        assert np.abs(cap.attention[index] - expected).max() <= 1e-6
