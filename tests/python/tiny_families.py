"""More tiny families built from config (issue 3 breadth), shared by the sweep tests.

Each ``Family`` names a transformers model class and a small config (2 layers, hidden 32,
vocab 64), the inputs it takes, and how its eager ``output_attentions`` line up with the calls a
capture records. ``eager_twin`` builds the independent reference: the same weights, built from
the same config with ``attn_implementation="eager"``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import transformers

IDS = torch.tensor([[5, 9, 11, 2, 7, 30, 3, 4], [8, 3, 6, 12, 13, 14, 15, 16]])
RIGHT_PAD = torch.tensor([[1] * 8, [1, 1, 1, 1, 1, 0, 0, 0]])
LEFT_PAD = RIGHT_PAD.flip(-1)
PIXELS = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))

SMALL = dict(
    num_hidden_layers=2,
    num_attention_heads=4,
    hidden_size=32,
    intermediate_size=64,
    vocab_size=64,
    max_position_embeddings=64,
)
IDS_012 = dict(bos_token_id=0, eos_token_id=0, pad_token_id=0)
SEQ2SEQ = dict(
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=4,
    decoder_attention_heads=4,
    d_model=32,
    encoder_ffn_dim=64,
    decoder_ffn_dim=64,
    vocab_size=64,
    max_position_embeddings=64,
    pad_token_id=1,
    bos_token_id=0,
    eos_token_id=2,
    decoder_start_token_id=2,
)
VISION = dict(
    num_hidden_layers=2,
    num_attention_heads=4,
    hidden_size=32,
    intermediate_size=64,
    image_size=16,
    patch_size=4,
)


def seq2seq(out: Any) -> list[torch.Tensor]:
    """Call order: encoder layers, then per decoder layer self- then cross-attention."""
    pairs = zip(out.decoder_attentions, out.cross_attentions, strict=True)
    return [*out.encoder_attentions, *(t for pair in pairs for t in pair)]


def two_towers(out: Any) -> list[torch.Tensor]:
    """CLIP/SigLIP: the vision tower runs first, then the text tower."""
    return [*out.vision_model_output.attentions, *out.text_model_output.attentions]


@dataclass
class Family:
    """One family to sweep: model class, config, inputs and how to read eager's attentions.

    ``source``: the capture path expected (``interface``, or a fallback: ``sdpa``, ``softmax``,
    ``mha``). ``reference`` turns eager's outputs into one tensor per recorded call; with
    ``hooks`` it gets instead the weights each eager attention module returned (``output[1]``),
    for families whose outputs leave some calls out.
    """

    model: str
    config: str
    options: dict[str, Any]
    inputs: Callable[[], dict[str, torch.Tensor]]
    reference: Callable[[Any], list[torch.Tensor]] = field(default=lambda out: list(out.attentions))
    source: str = "interface"
    hooks: tuple[str, ...] = ()  # class names of the eager modules whose weights are read
    notes: str = ""
    perturb: bool = False  # attention weights start near zero: draw them larger

    def build(self, attn_implementation: str | None = None) -> torch.nn.Module:
        config = getattr(transformers, self.config)(**self.options)
        model_class = getattr(transformers, self.model)
        torch.manual_seed(0)
        if attn_implementation is None:
            model = model_class(config)
        else:
            model = model_class._from_config(config, attn_implementation=attn_implementation)
        if self.perturb:
            with torch.no_grad():
                for name, parameter in model.named_parameters():
                    if "attn" in name:
                        parameter.normal_(0.0, 0.3)
        return model.eval()


def eager_twin(family: Family, model: torch.nn.Module) -> torch.nn.Module:
    """The same weights in a model built with ``attn_implementation="eager"``."""
    twin = family.build("eager")
    twin.load_state_dict(model.state_dict())
    return twin


def eager_reference(family: Family, model: torch.nn.Module, inputs: dict) -> list[torch.Tensor]:
    """Eager attention of the same weights, one tensor per call the capture should record."""
    twin = eager_twin(family, model)
    returned: list[torch.Tensor] = []
    handles = []
    for module in twin.modules():
        if type(module).__name__ in family.hooks:
            handles.append(module.register_forward_hook(_keep_weights(returned)))
    try:
        with torch.no_grad():
            out = twin(**inputs, output_attentions=True)
    finally:
        for handle in handles:
            handle.remove()
    return family.reference(returned if family.hooks else out)


def _keep_weights(returned: list[torch.Tensor]) -> Callable[..., None]:
    def hook(module: torch.nn.Module, args: Any, output: Any) -> None:
        if isinstance(module, torch.nn.MultiheadAttention):  # per head, not the average
            query, key, value = args[:3]
            output = module.forward(query, key, value, average_attn_weights=False)
        returned.append(output[1])

    return hook


def as_is(weights: list[torch.Tensor]) -> list[torch.Tensor]:
    return weights


def softmaxed(weights: Any) -> list[torch.Tensor]:
    """SqueezeBERT returns the scores before the softmax as its ``attentions``."""
    return [w.softmax(-1) for w in weights.attentions]


def prophetnet(out: Any) -> list[torch.Tensor]:
    """ProphetNet returns encoder and cross scores before the softmax; decoder self-attention
    (its main stream) after it."""
    pairs = zip(out.decoder_attentions, out.cross_attentions, strict=True)
    decoder = (t for self_, cross in pairs for t in (self_, cross.softmax(-1)))
    return [*(t.softmax(-1) for t in out.encoder_attentions), *decoder]


def text(mask: torch.Tensor | None = RIGHT_PAD, offset: int = 0) -> Callable[[], dict]:
    def inputs() -> dict[str, torch.Tensor]:
        found = {"input_ids": IDS + offset}
        if mask is not None:
            found["attention_mask"] = mask
        return found

    return inputs


def translation() -> dict[str, torch.Tensor]:
    return {"input_ids": IDS + 3, "attention_mask": RIGHT_PAD, "decoder_input_ids": IDS[:, :5] + 3}


def pixels() -> dict[str, torch.Tensor]:
    return {"pixel_values": PIXELS}


def pixels_and_text() -> dict[str, torch.Tensor]:
    return {"input_ids": IDS + 3, "pixel_values": PIXELS}


def _causal(**options: Any) -> dict[str, Any]:
    return {**SMALL, **IDS_012, **options}


AUDIO = torch.randn(2, 400, generator=torch.Generator().manual_seed(3))
SAM_PIXELS = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(4))
OPT = dict(
    num_hidden_layers=2,
    num_attention_heads=4,
    hidden_size=32,
    ffn_dim=64,
    vocab_size=64,
    max_position_embeddings=64,
    word_embed_proj_dim=32,
    pad_token_id=1,
)
T5_LIKE = dict(
    num_layers=2,
    num_decoder_layers=2,
    num_heads=4,
    d_model=32,
    d_kv=8,
    d_ff=64,
    vocab_size=64,
    decoder_start_token_id=0,
    pad_token_id=0,
    eos_token_id=1,
)
PROPHETNET = dict(
    vocab_size=64,
    hidden_size=32,
    encoder_ffn_dim=64,
    num_encoder_layers=2,
    num_encoder_attention_heads=4,
    decoder_ffn_dim=64,
    num_decoder_layers=2,
    num_decoder_attention_heads=4,
    max_position_embeddings=64,
    ngram=2,
    num_buckets=8,
    relative_max_distance=16,
    pad_token_id=0,
    decoder_start_token_id=0,
)
GROUPS_OF_ONE = dict(
    q_groups=1,
    k_groups=1,
    v_groups=1,
    post_attention_groups=1,
    intermediate_groups=1,
    output_groups=1,
)
MOE = dict(num_key_value_heads=2, num_experts_per_tok=2)


def _decoder(model: str, config: str, notes: str = "", **options: Any) -> Family:
    """A decoder-only language model, left padded (as for generation)."""
    return Family(model, config, _causal(**options), text(LEFT_PAD), notes=notes)


FAMILIES: dict[str, Family] = {
    # -- decoder-only, through the attention interface ---------------------------------------
    "opt": Family("OPTForCausalLM", "OPTConfig", OPT, text(LEFT_PAD, offset=2)),
    "gpt-j": Family(
        "GPTJForCausalLM",
        "GPTJConfig",
        dict(n_layer=2, n_head=4, n_embd=32, rotary_dim=4, vocab_size=64, n_positions=64),
        text(LEFT_PAD),
    ),
    "codegen": Family(
        "CodeGenForCausalLM",
        "CodeGenConfig",
        dict(n_layer=2, n_head=4, n_embd=32, rotary_dim=4, vocab_size=64, n_positions=64),
        text(LEFT_PAD),
    ),
    "gpt-bigcode-mqa": Family(
        "GPTBigCodeForCausalLM",
        "GPTBigCodeConfig",
        dict(n_layer=2, n_head=4, n_embd=32, vocab_size=64, n_positions=64, multi_query=True),
        text(LEFT_PAD),
        notes="multi-query",
    ),
    "phi": _decoder(
        "PhiForCausalLM", "PhiConfig", "partial rotary, qk layernorm", qk_layernorm=True
    ),
    "phi3": _decoder("Phi3ForCausalLM", "Phi3Config", num_key_value_heads=2),
    "mixtral-moe": _decoder(
        "MixtralForCausalLM", "MixtralConfig", "mixture of experts", num_local_experts=4, **MOE
    ),
    "qwen3-qk-norm": _decoder(
        "Qwen3ForCausalLM", "Qwen3Config", "q_norm/k_norm", num_key_value_heads=2, head_dim=8
    ),
    "qwen3-moe": _decoder(
        "Qwen3MoeForCausalLM",
        "Qwen3MoeConfig",
        "mixture of experts",
        num_experts=4,
        moe_intermediate_size=32,
        **MOE,
    ),
    "llama4-text": _decoder(
        "Llama4ForCausalLM",
        "Llama4TextConfig",
        "chunked attention, NoPE layers, temperature tuning",
        head_dim=8,
        intermediate_size_mlp=64,
        num_local_experts=2,
        **MOE,
    ),
    "deepseek-v3-mla": _decoder(
        "DeepseekV3ForCausalLM",
        "DeepseekV3Config",
        "multi-head latent attention (q/k head 12, v head 8)",
        num_key_value_heads=4,
        kv_lora_rank=16,
        q_lora_rank=16,
        qk_rope_head_dim=4,
        v_head_dim=8,
        qk_nope_head_dim=8,
        n_routed_experts=4,
        num_experts_per_tok=2,
        n_group=1,
        topk_group=1,
        moe_intermediate_size=32,
        first_k_dense_replace=1,
    ),
    "gpt-oss-sinks": _decoder(
        "GptOssForCausalLM",
        "GptOssConfig",
        "attention sinks (eager only)",
        head_dim=8,
        num_local_experts=4,
        sliding_window=4,
        layer_types=["sliding_attention", "full_attention"],
        **MOE,
    ),
    "smollm3-nope": _decoder(
        "SmolLM3ForCausalLM", "SmolLM3Config", "NoPE layers", num_key_value_heads=2
    ),
    "stablelm": _decoder("StableLmForCausalLM", "StableLmConfig", num_key_value_heads=2),
    "starcoder2": _decoder("Starcoder2ForCausalLM", "Starcoder2Config", num_key_value_heads=2),
    "olmo2": _decoder("Olmo2ForCausalLM", "Olmo2Config", num_key_value_heads=2),
    "cohere": _decoder("CohereForCausalLM", "CohereConfig", num_key_value_heads=2),
    "glm4": _decoder("Glm4ForCausalLM", "Glm4Config", num_key_value_heads=2, head_dim=8),
    "persimmon": _decoder("PersimmonForCausalLM", "PersimmonConfig", qk_layernorm=True),
    "nemotron": _decoder(
        "NemotronForCausalLM", "NemotronConfig", num_key_value_heads=2, head_dim=8
    ),
    "granite": _decoder(
        "GraniteForCausalLM",
        "GraniteConfig",
        "scale 0.5 instead of 1/sqrt(d)",
        num_key_value_heads=2,
        attention_multiplier=0.5,
    ),
    "dbrx": Family(
        "DbrxForCausalLM",
        "DbrxConfig",
        dict(
            d_model=32,
            n_heads=4,
            n_layers=2,
            max_seq_len=64,
            vocab_size=64,
            attn_config=dict(kv_n_heads=2, rope_theta=10000.0, clip_qkv=8.0),
            ffn_config=dict(ffn_hidden_size=64, moe_num_experts=2, moe_top_k=1),
            pad_token_id=0,
        ),
        text(LEFT_PAD),
    ),
    "jamba-hybrid": _decoder(
        "JambaForCausalLM",
        "JambaConfig",
        "one attention layer beside Mamba",
        num_key_value_heads=2,
        num_experts=2,
        attn_layer_period=2,
        attn_layer_offset=1,
        expert_layer_period=2,
        expert_layer_offset=1,
        use_mamba_kernels=False,
    ),
    "biogpt": Family("BioGptModel", "BioGptConfig", dict(SMALL, pad_token_id=1), text(offset=2)),
    # -- decoder-only outside the interface: fallbacks ---------------------------------------
    "gpt-neo": Family(
        "GPTNeoForCausalLM",
        "GPTNeoConfig",
        dict(
            num_layers=2,
            num_heads=4,
            hidden_size=32,
            vocab_size=64,
            max_position_embeddings=64,
            attention_types=[[["global", "local"], 1]],
            window_size=4,
        ),
        text(LEFT_PAD),
        source="softmax",
        notes="no 1/sqrt(d) scale; local layers slide",
    ),
    "xglm": Family(
        "XGLMModel",
        "XGLMConfig",
        dict(
            num_layers=2,
            attention_heads=4,
            d_model=32,
            ffn_dim=64,
            vocab_size=64,
            max_position_embeddings=64,
            pad_token_id=1,
        ),
        text(offset=2),
        source="softmax",
        notes="[batch * heads, query, key] softmax",
    ),
    "trocr-decoder": Family(
        "TrOCRForCausalLM",
        "TrOCRConfig",
        dict(
            vocab_size=64,
            d_model=32,
            decoder_layers=2,
            decoder_attention_heads=4,
            decoder_ffn_dim=64,
            max_position_embeddings=64,
            pad_token_id=1,
        ),
        text(offset=2),
        source="softmax",
        notes="[batch * heads, query, key] softmax",
    ),
    # -- encoder-decoder ----------------------------------------------------------------------
    "bart": Family("BartModel", "BartConfig", dict(SEQ2SEQ), translation, seq2seq),
    "mbart": Family("MBartModel", "MBartConfig", dict(SEQ2SEQ), translation, seq2seq),
    "pegasus": Family("PegasusModel", "PegasusConfig", dict(SEQ2SEQ), translation, seq2seq),
    "marian": Family("MarianModel", "MarianConfig", dict(SEQ2SEQ), translation, seq2seq),
    "m2m100": Family("M2M100Model", "M2M100Config", dict(SEQ2SEQ), translation, seq2seq),
    "blenderbot": Family(
        "BlenderbotModel", "BlenderbotConfig", dict(SEQ2SEQ), translation, seq2seq
    ),
    "mt5": Family("MT5Model", "MT5Config", dict(T5_LIKE), translation, seq2seq),
    "fsmt": Family(
        "FSMTModel",
        "FSMTConfig",
        dict(
            langs=["en", "de"],
            src_vocab_size=64,
            tgt_vocab_size=64,
            d_model=32,
            encoder_layers=2,
            decoder_layers=2,
            encoder_attention_heads=4,
            decoder_attention_heads=4,
            encoder_ffn_dim=64,
            decoder_ffn_dim=64,
            max_position_embeddings=64,
            pad_token_id=1,
            bos_token_id=0,
            eos_token_id=2,
            decoder_start_token_id=2,
        ),
        translation,
        seq2seq,
        source="softmax",
        notes="sequence-first, [batch * heads, query, key] softmax",
    ),
    "mvp": Family(
        "MvpModel",
        "MvpConfig",
        dict(SEQ2SEQ),
        translation,
        seq2seq,
        source="softmax",
        notes="[batch * heads, query, key] softmax",
    ),
    "prophetnet": Family(
        "ProphetNetModel",
        "ProphetNetConfig",
        PROPHETNET,
        translation,
        prophetnet,
        source="softmax",
        notes="decoder: the main stream (n-gram streams are 5-D)",
    ),
    # -- encoders -----------------------------------------------------------------------------
    "xlm-roberta": Family(
        "XLMRobertaModel", "XLMRobertaConfig", dict(SMALL, pad_token_id=1), text(offset=2)
    ),
    "electra": Family("ElectraModel", "ElectraConfig", dict(SMALL, embedding_size=16), text()),
    "albert": Family("AlbertModel", "AlbertConfig", dict(SMALL, embedding_size=16), text()),
    "modernbert": Family(
        "ModernBertModel",
        "ModernBertConfig",
        dict(SMALL, global_attn_every_n_layers=2, local_attention=4, pad_token_id=0),
        text(),
        notes="alternating local/global",
    ),
    "esm-rotary": Family(
        "EsmModel",
        "EsmConfig",
        dict(SMALL, pad_token_id=1, position_embedding_type="rotary", mask_token_id=3),
        text(offset=4),
    ),
    "deberta-v2": Family(
        "DebertaV2Model",
        "DebertaV2Config",
        dict(
            SMALL, relative_attention=True, pos_att_type=["p2c", "c2p"], max_relative_positions=16
        ),
        text(),
        source="softmax",
        notes="disentangled relative attention",
    ),
    "roformer": Family(
        "RoFormerModel", "RoFormerConfig", dict(SMALL, embedding_size=32), text(), source="softmax"
    ),
    "bigbird-full": Family(
        "BigBirdModel",
        "BigBirdConfig",
        dict(SMALL, attention_type="original_full"),
        text(),
        source="softmax",
    ),
    "funnel": Family(
        "FunnelModel",
        "FunnelConfig",
        dict(vocab_size=64, block_sizes=[1, 1], num_decoder_layers=1, d_model=32, n_head=4),
        text(),
        source="softmax",
        notes="pooled queries, relative attention",
    ),
    "xlnet": Family(
        "XLNetModel",
        "XLNetConfig",
        dict(vocab_size=64, d_model=32, n_layer=2, n_head=4, d_inner=64),
        text(),
        source="softmax",
        notes="relative attention (content stream)",
    ),
    "squeezebert": Family(
        "SqueezeBertModel",
        "SqueezeBertConfig",
        dict(SMALL, embedding_size=32, **GROUPS_OF_ONE),
        text(),
        softmaxed,
        source="softmax",
        notes="nn.Softmax module; eager returns the scores before the softmax",
    ),
    "wav2vec2": Family(
        "Wav2Vec2Model",
        "Wav2Vec2Config",
        dict(
            VISION,
            conv_dim=(16, 16),
            conv_stride=(5, 4),
            conv_kernel=(10, 8),
            num_conv_pos_embeddings=8,
            num_conv_pos_embedding_groups=2,
        ),
        lambda: {"input_values": AUDIO},
    ),
    # -- vision -------------------------------------------------------------------------------
    "deit": Family("DeiTModel", "DeiTConfig", dict(VISION), pixels),
    "beit": Family(
        "BeitModel",
        "BeitConfig",
        dict(VISION, use_relative_position_bias=True),
        pixels,
        notes="relative position bias",
    ),
    "dinov2": Family("Dinov2Model", "Dinov2Config", dict(VISION), pixels),
    "yolos": Family(
        "YolosModel",
        "YolosConfig",
        dict(VISION, image_size=[16, 16], num_detection_tokens=2),
        pixels,
    ),
    "swin": Family(
        "SwinModel",
        "SwinConfig",
        dict(image_size=16, patch_size=2, embed_dim=16, depths=[2], num_heads=[4], window_size=4),
        pixels,
        as_is,
        hooks=("SwinAttention",),
        notes="shifted windows: [batch * windows, heads, 16, 16]",
    ),
    "sam": Family(
        "SamModel",
        "SamConfig",
        dict(
            vision_config=dict(
                hidden_size=32,
                output_channels=16,
                num_hidden_layers=2,
                num_attention_heads=4,
                image_size=32,
                patch_size=4,
                window_size=4,
                global_attn_indexes=[1],
                mlp_dim=64,
                num_pos_feats=8,
            ),
            prompt_encoder_config=dict(
                hidden_size=16, image_size=32, patch_size=4, mask_input_channels=4
            ),
            mask_decoder_config=dict(
                hidden_size=16,
                num_hidden_layers=2,
                num_attention_heads=2,
                mlp_dim=32,
                iou_head_hidden_dim=16,
            ),
        ),
        lambda: {"pixel_values": SAM_PIXELS, "input_points": torch.tensor([[[[10.0, 12.0]]]])},
        as_is,
        source="interface+sdpa",
        hooks=("SamVisionAttention", "SamAttention"),
        notes="vision: windowed + global with relative positions (sdpa); mask decoder: two-way",
        perturb=True,
    ),
    "siglip": Family(
        "SiglipModel",
        "SiglipConfig",
        dict(text_config=dict(SMALL), vision_config=dict(VISION)),
        pixels_and_text,
        as_is,
        source="interface+mha",
        hooks=("SiglipAttention", "MultiheadAttention"),
        notes="both towers, and the pooling head's nn.MultiheadAttention",
    ),
}
