"""Tiny models built from config (no downloads) shared by the Python tests."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
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


def edge_values(
    bins: int, lo: float, hi: float, base: np.ndarray, *, inside: bool = True
) -> np.ndarray:
    """``base`` and the float32 values on, and one step either side of, every bin edge of
    ``bins`` equal bins over ``[lo, hi]``; only those inside ``[lo, hi]`` unless
    ``inside=False``."""
    edges = np.linspace(lo, hi, bins + 1).astype(np.float32)
    near = [
        edges,
        np.nextafter(edges, np.float32(-np.inf)),
        np.nextafter(edges, np.float32(np.inf)),
    ]
    values = np.concatenate([base, *near]).astype(np.float32)
    return values[(values >= lo) & (values <= hi)] if inside else values


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


# -- more families (issue 3): tiny configs, built from config ----------------------------------
_SMALL = dict(
    num_hidden_layers=2,
    num_attention_heads=4,
    hidden_size=32,
    intermediate_size=64,
    vocab_size=64,
    max_position_embeddings=64,
)
_IDS = dict(bos_token_id=0, eos_token_id=0, pad_token_id=0)


def tiny_qwen2() -> torch.nn.Module:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    return Qwen2ForCausalLM(Qwen2Config(**_SMALL, **_IDS, num_key_value_heads=2)).eval()


def tiny_mistral() -> torch.nn.Module:
    from transformers import MistralConfig, MistralForCausalLM

    config = MistralConfig(**_SMALL, **_IDS, num_key_value_heads=2, sliding_window=4)
    return MistralForCausalLM(config).eval()


def tiny_gemma2() -> torch.nn.Module:
    """Soft-capped logits and alternating sliding-window / global layers."""
    from transformers import Gemma2Config, Gemma2ForCausalLM

    config = Gemma2Config(
        **_SMALL,
        **_IDS,
        num_key_value_heads=2,
        head_dim=8,
        sliding_window=4,
        attn_logit_softcapping=2.0,
        query_pre_attn_scalar=8,
    )
    return Gemma2ForCausalLM(config).eval()


def tiny_gemma3() -> torch.nn.Module:
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    config = Gemma3TextConfig(
        **_SMALL,
        **_IDS,
        num_key_value_heads=2,
        head_dim=8,
        sliding_window=4,
        query_pre_attn_scalar=8,
        layer_types=["sliding_attention", "full_attention"],
    )
    return Gemma3ForCausalLM(config).eval()


def tiny_neox() -> torch.nn.Module:
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    return GPTNeoXForCausalLM(GPTNeoXConfig(**_SMALL, **_IDS)).eval()


def tiny_roberta() -> torch.nn.Module:
    from transformers import RobertaConfig, RobertaModel

    return RobertaModel(RobertaConfig(**_SMALL, pad_token_id=1)).eval()


def tiny_distilbert() -> torch.nn.Module:
    from transformers import DistilBertConfig, DistilBertModel

    config = DistilBertConfig(
        n_layers=2, n_heads=4, dim=32, hidden_dim=64, vocab_size=64, max_position_embeddings=64
    )
    return DistilBertModel(config).eval()


def tiny_t5() -> torch.nn.Module:
    from tiny_families import T5_LIKE
    from transformers import T5Config, T5ForConditionalGeneration

    return T5ForConditionalGeneration(T5Config(**T5_LIKE)).eval()


def tiny_vit() -> torch.nn.Module:
    from transformers import ViTConfig, ViTModel

    config = ViTConfig(**{**_SMALL, "vocab_size": None}, image_size=8, patch_size=4)
    return ViTModel(config).eval()


def tiny_clip() -> torch.nn.Module:
    from transformers import CLIPConfig, CLIPModel

    text = dict(**_SMALL, bos_token_id=0, eos_token_id=1, pad_token_id=1)
    vision = dict(num_hidden_layers=2, num_attention_heads=4, hidden_size=32)
    vision.update(intermediate_size=64, image_size=8, patch_size=4)
    config = CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)
    return CLIPModel(config).eval()


def tiny_whisper() -> torch.nn.Module:
    from transformers import WhisperConfig, WhisperModel

    config = WhisperConfig(
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        d_model=32,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        num_mel_bins=8,
        max_source_positions=8,
        max_target_positions=16,
        vocab_size=64,
        pad_token_id=0,
        bos_token_id=0,
        eos_token_id=0,
        decoder_start_token_id=1,
    )
    return WhisperModel(config).eval()


def tiny_bloom() -> torch.nn.Module:
    """ALiBi, hand-written attention: not dispatched through the AttentionInterface."""
    from transformers import BloomConfig, BloomModel

    return BloomModel(BloomConfig(n_layer=2, n_head=4, hidden_size=32, vocab_size=64)).eval()
