"""Capture during model.generate with a KV cache: one record for the whole sequence."""

from __future__ import annotations

import numpy as np
import torch
from conftest import eager_attentions, tiny_gpt2, tiny_llama_gqa, tiny_t5

import attnwidgets as aw


def _generate(model: torch.nn.Module, ids: torch.Tensor, **kwargs: object) -> torch.Tensor:
    with torch.no_grad():
        # min_new_tokens: an untrained model may draw its EOS token and stop early
        return model.generate(ids, max_new_tokens=4, min_new_tokens=4, do_sample=False, **kwargs)


def test_generation_record_equals_eager_attention_of_the_generated_sequence():
    for factory in (tiny_gpt2, tiny_llama_gqa):
        model = factory()
        prompt = torch.tensor([[5, 9, 11, 2]])
        with aw.capture(model, scores="masked") as cap:
            generated = _generate(model, prompt)
        assert generated.shape == (1, 8)
        fed = generated[:, :-1]  # the last token is produced, never fed back
        expected = eager_attentions(model, input_ids=fed)
        record = cap.attention
        assert record.shape == (2, 4, 7, 7)
        for layer, reference in enumerate(expected):
            diff = np.abs(record[layer] - reference[0].numpy()).max()
            assert diff <= 1e-5, (factory.__name__, layer, diff)
        masked = cap.record("masked")[0]
        assert np.all(np.isneginf(masked[:, np.triu(np.ones((7, 7), bool), 1)]))
        steps = cap.step_attentions()
        assert [s.shape[2:] for s in steps] == [(4, 4), (1, 5), (1, 6), (1, 7)]
        assert np.array_equal(steps[-1][1][:, 0], record[1][:, 6])
        # each step's kept tensor is a view into the merged one: nothing is held twice
        step_tensor = cap._calls[-1].kept["probability"].numpy()
        assert np.shares_memory(step_tensor, cap.calls[1].kept["probability"].numpy())


def test_left_padded_batch_generation():
    model = tiny_llama_gqa()
    ids = torch.tensor([[0, 0, 8, 3], [5, 9, 11, 2]])
    mask = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    with aw.capture(model) as cap:
        generated = _generate(model, ids, attention_mask=mask, pad_token_id=0)
    full_mask = torch.cat([mask, torch.ones(2, 3, dtype=mask.dtype)], dim=1)
    expected = eager_attentions(model, input_ids=generated[:, :-1], attention_mask=full_mask)
    for item, record in enumerate(cap.attentions):
        valid = full_mask[item].bool().numpy()
        for layer, reference in enumerate(expected):
            diff = np.abs(record[layer][:, valid] - reference[item].numpy()[:, valid]).max()
            assert diff <= 1e-5, (item, layer, diff)


def test_encoder_decoder_generation_keeps_encoder_cross_and_decoder_rows():
    model = tiny_t5()
    with aw.capture(model) as cap:
        generated = _generate(model, torch.tensor([[5, 9, 11, 2, 1]]))
    names = cap.layer_names
    rows = generated.shape[1] - 1
    shapes = dict(zip(names, (layer.shape for layer in cap.attention), strict=True))
    assert shapes["encoder.block.0.layer.0.SelfAttention"] == (4, 5, 5)
    assert shapes["decoder.block.0.layer.0.SelfAttention"] == (4, rows, rows)
    assert shapes["decoder.block.1.layer.1.EncDecAttention"] == (4, rows, 5)
