"""The attack, hostile models and inputs: a sentence saying what is supported, never torch's
internal error, and the model left as it was (meta device, torch.compile, complex and empty
attention, ids beyond the tokenizer's vocabulary). (Issue 12, item 7.)
"""

from __future__ import annotations

import pytest
import torch
from _model_state import assert_restored, snapshot
from conftest import tiny_gpt2
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

import attnwidgets as aw

X = torch.tensor([[4, 8, 15, 16, 23, 42, 7]])


def test_a_meta_device_model_gets_a_sentence_not_a_copy_error():
    with torch.device("meta"):
        model = tiny_gpt2()
    before = snapshot(model)
    with pytest.raises(aw.CaptureError) as refused, aw.capture(model):
        model(input_ids=X.to("meta"))
    message = str(refused.value)
    assert message.startswith("transformer.h.0.attn (GPT2Attention) runs on the meta device")
    assert "to_empty" in message and "left as it was" in message
    assert model.config._attn_implementation == "sdpa"
    assert_restored(model, before)


def test_a_compiled_model_is_refused_with_what_to_capture_instead():
    model = tiny_gpt2()
    compiled = torch.compile(model, backend="eager")  # compiles lazily: never run here
    before = snapshot(model)
    with pytest.raises(TypeError) as refused, aw.capture(compiled):
        pass
    message = str(refused.value)
    assert "OptimizedModule around GPT2LMHeadModel" in message
    assert "aw.capture(model._orig_mod)" in message
    assert_restored(model, before)


def test_wrap_runs_a_compiled_model_through_the_module_it_wraps():
    model = tiny_gpt2()
    with torch.no_grad(), aw.capture(model) as cap:
        model(input_ids=X)
    run = aw.wrap(torch.compile(model, backend="eager"))(input_ids=X)
    assert run.model is model
    assert (run.attention.to_numpy() == cap.attention.to_numpy()).all()


def test_a_model_compiled_in_place_is_refused_naming_the_module():
    model = tiny_gpt2()
    model.transformer.h[1].compile(backend="eager")
    with (
        pytest.raises(TypeError, match=r"transformer\.h\.1 \(GPT2Block\) was compiled in place"),
        aw.capture(model),
    ):
        pass
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


class _Attention(torch.nn.Module):
    """Calls sdpa on whatever it is given (complex numbers, zero heads, zero tokens)."""

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.scaled_dot_product_attention(q, q, q)


@pytest.mark.parametrize(
    "query, says",
    [
        (torch.randn(1, 2, 3, 4, dtype=torch.complex64), r"complex tensors \(torch.complex64\)"),
        (torch.randn(1, 0, 3, 4), r"called with 0 heads"),
        (torch.randn(1, 2, 0, 4), r"called with 0 queries, 0 keys"),
    ],
    ids=["complex", "zero-heads", "zero-tokens"],
)
def test_attention_a_capture_cannot_record_gets_a_sentence(query, says):
    model = torch.nn.Sequential(_Attention())
    before = snapshot(model)
    with pytest.raises(aw.CaptureError, match=rf"^0 \(_Attention\) .*{says}"), aw.capture(model):
        model(query)
    assert_restored(model, before)


def test_multihead_attention_on_zero_tokens_gets_a_sentence():
    mha = torch.nn.MultiheadAttention(4, 2, batch_first=True).eval()
    empty = torch.randn(1, 0, 4)
    with (
        pytest.raises(aw.CaptureError, match=r"0 queries, 0 keys.*at least one token"),
        torch.no_grad(),
        aw.capture(mha),
    ):
        mha(empty, empty, empty)


def test_a_lens_given_no_tokens_says_so():
    with pytest.raises(ValueError, match=r"no tokens \(input_ids of shape \[1, 0\]\)"):
        aw.wrap(tiny_gpt2())(input_ids=torch.zeros(1, 0, dtype=torch.long))


def _small_tokenizer() -> PreTrainedTokenizerFast:
    words = ["[UNK]", "the", "cat", "sat", "on", "mat"]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]")


def test_ids_beyond_the_tokenizers_vocabulary_get_a_label():
    """A model whose vocabulary is larger than its tokenizer's (padded embeddings)."""
    tokenizer = _small_tokenizer()
    assert tokenizer.convert_ids_to_tokens([1, 40]) == ["the", None]
    lens = aw.wrap(tiny_gpt2(), tokenizer)
    run = lens(input_ids=torch.tensor([[1, 2, 40, 3]]))
    assert run.tokens == ["the", "cat", "<id 40>", "sat"]


def test_a_generated_id_beyond_the_vocabulary_keeps_the_generated_run():
    model = tiny_gpt2()  # 64 ids, 6 of them known to the tokenizer
    favour = model.lm_head.register_forward_hook(
        lambda m, a, logits: logits + 100 * (torch.arange(64) == 50)
    )  # the model prefers id 50
    lens = aw.wrap(model, _small_tokenizer())
    try:
        run = lens.generate("the cat sat", max_new_tokens=3)
    finally:
        favour.remove()
    assert run.generated == ["<id 50>"] * 3
    assert run.tokens == ["the", "cat", "sat", "<id 50>", "<id 50>"]
    assert run.attention.shape[-1] == 5  # 3 prompt tokens and 2 fed back
