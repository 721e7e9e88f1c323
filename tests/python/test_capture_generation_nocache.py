"""Capture during model.generate WITHOUT a KV cache: each step recomputes the whole sequence,
and the record is the same as with a cache (one record of the sequence, plus per-step rows)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import eager_attentions, tiny_bert, tiny_gpt2, tiny_llama_gqa, tiny_t5

import attnwidgets as aw

PROMPT = torch.tensor([[5, 9, 11, 2]])


def _generate(model: torch.nn.Module, ids: torch.Tensor, **kwargs: object) -> torch.Tensor:
    with torch.no_grad():
        # min_new_tokens: an untrained model may draw its EOS token and stop early
        return model.generate(ids, max_new_tokens=4, min_new_tokens=4, do_sample=False, **kwargs)


def _capture_generate(model: torch.nn.Module, ids: torch.Tensor, **kwargs: object):
    with aw.capture(model, scores="masked") as cap:
        generated = _generate(model, ids, **kwargs)
    return cap, generated


@pytest.mark.parametrize("factory", [tiny_gpt2, tiny_llama_gqa])
def test_no_cache_record_equals_eager_and_the_cached_record(factory):
    model = factory()
    cap, generated = _capture_generate(model, PROMPT, use_cache=False)
    cached, generated_with_cache = _capture_generate(model, PROMPT)
    assert torch.equal(generated, generated_with_cache)
    # every step ran the whole sequence again: 4 forwards over 4, 5, 6, 7 tokens
    assert [call.step for call in cap._calls[::2]] == [1, 2, 3, 4]
    fed = generated[:, :-1]
    expected = eager_attentions(model, input_ids=fed)
    record = cap.attention
    assert record.shape == cached.attention.shape == (2, 4, 7, 7)
    for layer, reference in enumerate(expected):
        diff = np.abs(record[layer] - reference[0].numpy()).max()
        assert diff <= 1e-5, (layer, diff)
        assert np.abs(record[layer] - cached.attention[layer]).max() <= 1e-5
    masked = cap.record("masked")[0]
    assert np.all(np.isneginf(masked[:, np.triu(np.ones((7, 7), bool), 1)]))
    cached_masked = cached.record("masked")[0]
    assert np.array_equal(np.isneginf(masked), np.isneginf(cached_masked))
    finite = np.isfinite(masked)
    assert np.abs(masked[finite] - cached_masked[finite]).max() <= 1e-5
    steps, cached_steps = cap.step_attentions(), cached.step_attentions()
    assert [s.shape for s in steps] == [s.shape for s in cached_steps]
    assert [s.shape[2:] for s in steps] == [(4, 4), (1, 5), (1, 6), (1, 7)]
    for step, cached_step in zip(steps, cached_steps, strict=True):
        for layer in range(2):
            assert np.abs(step[layer] - cached_step[layer]).max() <= 1e-5


def test_no_cache_steps_keep_only_their_new_row():
    """The recomputed rows are dropped: memory is one sequence, not one per step."""
    model = tiny_gpt2()
    cap, _ = _capture_generate(model, PROMPT, use_cache=False)
    later = [call for call in cap._calls if call.step > 1]
    assert later and {call.kept["probability"].shape[-2] for call in later} == {1}
    merged = cap.calls[1].kept["probability"].numpy()
    assert np.shares_memory(cap._calls[-1].kept["probability"].numpy(), merged)


def test_no_cache_left_padded_batch():
    model = tiny_llama_gqa()
    ids = torch.tensor([[0, 0, 8, 3], [5, 9, 11, 2]])
    mask = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    with aw.capture(model) as cap:
        generated = _generate(model, ids, attention_mask=mask, pad_token_id=0, use_cache=False)
    full_mask = torch.cat([mask, torch.ones(2, 3, dtype=mask.dtype)], dim=1)
    expected = eager_attentions(model, input_ids=generated[:, :-1], attention_mask=full_mask)
    for item, record in enumerate(cap.attentions):
        assert record.shape == (2, 4, 7, 7)
        valid = full_mask[item].bool().numpy()
        for layer, reference in enumerate(expected):
            diff = np.abs(record[layer][:, valid] - reference[item].numpy()[:, valid]).max()
            assert diff <= 1e-5, (item, layer, diff)


def test_no_cache_encoder_decoder_matches_the_cached_record():
    model = tiny_t5()
    source = torch.tensor([[5, 9, 11, 2, 1]])
    cap, generated = _capture_generate(model, source, use_cache=False)
    cached, generated_with_cache = _capture_generate(model, source)
    assert torch.equal(generated, generated_with_cache)
    assert cap.layer_names == cached.layer_names
    rows = generated.shape[1] - 1
    shapes = dict(zip(cap.layer_names, (layer.shape for layer in cap.attention), strict=True))
    assert shapes["encoder.block.0.layer.0.SelfAttention"] == (4, 5, 5)
    assert shapes["decoder.block.0.layer.0.SelfAttention"] == (4, rows, rows)
    assert shapes["decoder.block.1.layer.1.EncDecAttention"] == (4, rows, 5)
    for ours, reference in zip(cap.attention, cached.attention, strict=True):
        assert np.abs(ours - reference).max() <= 1e-5
    # and the decoder rows equal a single eager forward over the generated decoder tokens
    out = _eager_t5(model, source, generated[:, :-1])
    decoder_self = cap.layer_names.index("decoder.block.1.layer.0.SelfAttention")
    cross = cap.layer_names.index("decoder.block.1.layer.1.EncDecAttention")
    assert np.abs(cap.attention[decoder_self] - out.decoder_attentions[1][0].numpy()).max() <= 1e-5
    assert np.abs(cap.attention[cross] - out.cross_attentions[1][0].numpy()).max() <= 1e-5


def _eager_t5(model: torch.nn.Module, source: torch.Tensor, decoder_ids: torch.Tensor) -> object:
    import copy

    reference = copy.deepcopy(model)
    reference.set_attn_implementation("eager")
    with torch.no_grad():
        return reference(input_ids=source, decoder_input_ids=decoder_ids, output_attentions=True)


def test_growing_inputs_that_change_old_rows_stay_separate_calls():
    """A bidirectional encoder run on 4 then 5 tokens changes its old rows: not a generation."""
    model = tiny_bert()
    ids = torch.tensor([[5, 9, 11, 2, 7]])
    with torch.no_grad(), aw.capture(model) as cap:
        model(input_ids=ids[:, :4])
        model(input_ids=ids)
    shapes = [tuple(call.kept["probability"].shape) for call in cap.calls]
    assert shapes == [(1, 4, 4, 4), (1, 4, 4, 4), (1, 4, 5, 5), (1, 4, 5, 5)]
    expected = eager_attentions(model, input_ids=ids)
    for call, reference in zip(cap.calls[2:], expected, strict=True):
        assert (call.kept["probability"] - reference).abs().max() <= 1e-5
    with pytest.raises(ValueError, match="layers differ in shape"):
        cap.attention.shape


def test_unrelated_causal_inputs_stay_separate_calls():
    """A causal model run on two different sequences (the second one token longer)."""
    model = tiny_gpt2()
    with torch.no_grad(), aw.capture(model) as cap:
        model(input_ids=torch.tensor([[5, 9, 11, 2]]))
        model(input_ids=torch.tensor([[30, 31, 32, 33, 34]]))
    assert [call.queries for call in cap.calls] == [4, 4, 5, 5]


def test_lens_generate_without_cache_equals_with_cache():
    model = tiny_gpt2()
    lens = aw.wrap(model)
    # min_new_tokens: the untrained model may draw its EOS token (0) and stop early
    cached = lens.generate(input_ids=PROMPT, max_new_tokens=4, min_new_tokens=4)
    run = lens.generate(input_ids=PROMPT, max_new_tokens=4, min_new_tokens=4, use_cache=False)
    assert torch.equal(run.outputs, cached.outputs)
    assert run.tokens == cached.tokens
    assert run.attention.shape == cached.attention.shape == (2, 4, 7, 7)
    for layer in range(2):
        assert np.abs(run.attention[layer] - cached.attention[layer]).max() <= 1e-5


def test_streamed_steps_without_cache_match_the_cached_steps():
    """``on_step`` sees the same growing record with or without a cache."""
    lens = aw.wrap(tiny_gpt2())
    seen: dict[bool, list] = {True: [], False: []}
    for use_cache in (True, False):
        lens.generate(
            input_ids=PROMPT,
            max_new_tokens=4,
            min_new_tokens=4,
            use_cache=use_cache,
            on_step=lambda run, new, kept=seen[use_cache]: kept.append(run.attention),
        )
    shapes = [record.shape for record in seen[False]]
    assert len(shapes) == 4, shapes  # one call per new token
    assert shapes == [record.shape for record in seen[True]]
    assert [shape[-1] for shape in shapes] == sorted(set(shape[-1] for shape in shapes))
    for ours, cached in zip(seen[False], seen[True], strict=True):
        for layer in range(2):
            assert np.abs(ours[layer] - cached[layer]).max() <= 1e-5


def test_bfloat16_no_cache_record_equals_the_cached_record():
    """In bfloat16 the recomputed rows move by a few ulp: still recognised as the same rows."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        num_hidden_layers=4,
        num_attention_heads=8,
        num_key_value_heads=4,
        hidden_size=256,
        intermediate_size=512,
        vocab_size=1000,
        max_position_embeddings=128,
    )
    model = LlamaForCausalLM(config).eval().to(torch.bfloat16)
    prompt = torch.randint(0, 1000, (1, 64), generator=torch.Generator().manual_seed(1))
    records = []
    for use_cache in (False, True):
        with torch.no_grad(), aw.capture(model) as cap:
            model.generate(prompt, max_new_tokens=8, do_sample=False, use_cache=use_cache)
        records.append(cap.attention)
    assert records[0].shape == records[1].shape == (4, 8, 71, 71)
    for layer in range(4):
        assert np.abs(records[0][layer] - records[1][layer]).max() <= 1e-3


def test_bfloat16_eager_left_padded_rows_are_recognised():
    """Padded rows are uniform over every key; bfloat16 rounds 1/keys, still recognised."""
    model = tiny_llama_gqa().to(torch.bfloat16)
    model.set_attn_implementation("eager")  # the model's own bfloat16 weights are kept
    ids = torch.tensor([[0, 0, 0, 8, 3], [5, 9, 11, 2, 4]])
    mask = torch.tensor([[0, 0, 0, 1, 1], [1, 1, 1, 1, 1]])
    records = []
    for use_cache in (False, True):
        with aw.capture(model) as cap:
            _generate(model, ids, attention_mask=mask, pad_token_id=0, use_cache=use_cache)
        records.append(cap.attentions)
    for ours, cached in zip(*records, strict=True):
        assert ours.shape == cached.shape == (2, 4, 8, 8)
        for layer in range(2):
            assert np.abs(ours[layer] - cached[layer]).max() <= 1e-2
