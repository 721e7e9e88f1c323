"""Tiny models built from config (no downloads) shared by the Python tests."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import torch
from transformers import (
    BertConfig,
    BertModel,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
)

torch.manual_seed(0)


def tiny_gpt2() -> torch.nn.Module:
    config = GPT2Config(
        n_layer=2,
        n_head=4,
        n_embd=32,
        vocab_size=64,
        n_positions=64,
        bos_token_id=0,
        eos_token_id=0,
    )
    return GPT2LMHeadModel(config).eval()


def tiny_llama_gqa() -> torch.nn.Module:
    config = LlamaConfig(
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        hidden_size=32,
        intermediate_size=64,
        vocab_size=64,
        max_position_embeddings=64,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )
    return LlamaForCausalLM(config).eval()


def tiny_bert() -> torch.nn.Module:
    config = BertConfig(
        num_hidden_layers=2,
        num_attention_heads=4,
        hidden_size=32,
        intermediate_size=64,
        vocab_size=64,
        max_position_embeddings=64,
    )
    return BertModel(config).eval()


MODEL_FACTORIES: dict[str, Callable[[], torch.nn.Module]] = {
    "gpt2": tiny_gpt2,
    "llama-gqa": tiny_llama_gqa,
    "bert": tiny_bert,
}


def eager_attentions(model: torch.nn.Module, **inputs: Any) -> tuple[torch.Tensor, ...]:
    """The independent reference: transformers' own eager attention with output_attentions."""
    reference = copy.deepcopy(model)
    reference.set_attn_implementation("eager")
    with torch.no_grad():
        out = reference(**inputs, output_attentions=True)
    assert len(out.attentions) > 0
    return tuple(out.attentions)


@pytest.fixture(params=sorted(MODEL_FACTORIES))
def family(request: pytest.FixtureRequest) -> tuple[str, torch.nn.Module]:
    return request.param, MODEL_FACTORIES[request.param]()
