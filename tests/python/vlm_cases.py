"""Tiny vision-language models built from config, with processors assembled offline (issue 16).

Each builder returns ``(model, processor)``: the model from a small config (seeded, so an eager
twin built with ``attn_implementation="eager"`` gets the same weights through
``load_state_dict``), the processor from an image processor object and a byte-level BPE
tokenizer trained here on a few sentences (with the family's special tokens). Images are real
photos from ``skimage.data``.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import skimage.data
import torch
import transformers as tf

CORPUS = [
    "What is in the picture? A cat sits on a mat. The astronaut looks at the camera.",
    "USER: ASSISTANT: user assistant system answer question image photo describe this",
    "a sneaker, a bag, trousers, a dress, a coat, a sandal, a shirt, an ankle boot",
]
VISION = dict(
    num_hidden_layers=2,
    num_attention_heads=4,
    hidden_size=32,
    intermediate_size=64,
    initializer_range=0.3,  # attention far from uniform, so comparisons prove something
)
TEXT = dict(
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    hidden_size=32,
    intermediate_size=64,
    max_position_embeddings=4096,
    initializer_range=0.3,
)


def photo(name: str = "chelsea", size: tuple[int, int] | None = None) -> np.ndarray:
    """A real photo (uint8 ``[H, W, 3]``), optionally resized (PIL bilinear)."""
    from PIL import Image

    image = getattr(skimage.data, name)()
    if size is None:
        return image
    resized = Image.fromarray(image).resize((size[1], size[0]), Image.Resampling.BILINEAR)
    return np.asarray(resized)


@functools.cache
def _bpe(special: tuple[str, ...]) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=list(special),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS, trainer)
    return tokenizer


def tokenizer(special: tuple[str, ...], **kwargs: Any) -> Any:
    """A fast tokenizer: byte-level BPE on ``CORPUS``, ``special`` tokens first (ids 0..)."""
    built = tf.PreTrainedTokenizerFast(tokenizer_object=copy.deepcopy(_bpe(special)), **kwargs)
    built.add_special_tokens(
        {
            "additional_special_tokens": [
                s
                for s in special
                if s
                not in (kwargs.get("pad_token"), kwargs.get("bos_token"), kwargs.get("eos_token"))
            ]
        }
    )
    return built


def build(model_class: Any, config: Any, attn_implementation: str | None = None) -> Any:
    torch.manual_seed(0)
    if attn_implementation is None:
        return model_class(config).eval()
    return model_class._from_config(config, attn_implementation=attn_implementation).eval()


def eager_twin(model: torch.nn.Module) -> torch.nn.Module:
    """The same weights on transformers' eager attention (the independent reference)."""
    twin = build(type(model), model.config, "eager")
    twin.load_state_dict(model.state_dict())
    return twin


@contextmanager
def eager_weights(
    model: torch.nn.Module, modules: tuple[str, ...]
) -> Iterator[list[tuple[str, torch.Tensor]]]:
    """Collect the weights each ``eager_attention_forward`` of the named modeling modules
    returns while ``model`` runs (towers whose ``output_attentions`` gives nothing included),
    as ``(module path, weights)`` in call order."""
    import importlib

    paths = {id(m): path for path, m in model.named_modules()}
    kept: list[tuple[str, torch.Tensor]] = []
    patched: list[tuple[Any, Callable[..., Any]]] = []
    for name in modules:
        module = importlib.import_module(f"transformers.models.{name}.modeling_{name}")
        original = module.eager_attention_forward

        def recording(attn: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            output, weights = _original(attn, *args, **kwargs)
            kept.append((paths[id(attn)], weights.detach()))
            return output, weights

        module.eager_attention_forward = recording
        patched.append((module, original))
    try:
        yield kept
    finally:
        for module, original in patched:
            module.eager_attention_forward = original


CHAT = (
    "{% for message in messages %}{% if message['role'] == 'user' %}USER: {% else %}ASSISTANT: "
    "{% endif %}{% for part in message['content'] %}{% if part['type'] == 'image' %}<image>\n"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %} {% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


def llava(strategy: str = "default", size: int = 32) -> tuple[Any, Any]:
    """LLaVA: CLIP vision tower (patch 8, so (size/8)^2 patches + CLS), GELU projector, Llama."""
    special = ("<pad>", "<s>", "</s>", "<image>")
    tok = tokenizer(special, pad_token="<pad>", bos_token="<s>", eos_token="</s>")
    vision = tf.CLIPVisionConfig(**VISION, image_size=size, patch_size=8)
    text = tf.LlamaConfig(
        **TEXT, vocab_size=len(tok), pad_token_id=0, bos_token_id=1, eos_token_id=2
    )
    config = tf.LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy=strategy,
        vision_feature_layer=-1,
        image_seq_length=(size // 8) ** 2,
    )
    images = tf.CLIPImageProcessorPil(
        size={"shortest_edge": size}, crop_size={"height": size, "width": size}
    )
    processor = tf.LlavaProcessor(
        image_processor=images,
        tokenizer=tok,
        patch_size=8,
        vision_feature_select_strategy=strategy,
        num_additional_image_tokens=1,
        chat_template=CHAT,
    )
    return build(tf.LlavaForConditionalGeneration, config), processor


LLAVA_SPECIAL = ("<pad>", "<s>", "</s>", "<image>")
PINPOINTS = [[32, 64], [64, 32], [64, 64]]


def _llava_tokenizer() -> Any:
    return tokenizer(LLAVA_SPECIAL, pad_token="<pad>", bos_token="<s>", eos_token="</s>")


def _llama(tok: Any) -> Any:
    return tf.LlamaConfig(
        **TEXT, vocab_size=len(tok), pad_token_id=0, bos_token_id=1, eos_token_id=2
    )


def llava_next() -> tuple[Any, Any]:
    """LLaVA-NeXT: tiles of 32 px (4 x 4 patches of 8 px) chosen among ``PINPOINTS``, a base
    image, unpadding and a newline token after each row of the tiles' grid."""
    tok = _llava_tokenizer()
    vision = tf.CLIPVisionConfig(**VISION, image_size=32, patch_size=8)
    config = tf.LlavaNextConfig(
        vision_config=vision,
        text_config=_llama(tok),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        image_grid_pinpoints=PINPOINTS,
        vision_feature_layer=-1,
        image_seq_length=16,
    )
    images = tf.LlavaNextImageProcessorPil(
        size={"shortest_edge": 32},
        crop_size={"height": 32, "width": 32},
        image_grid_pinpoints=PINPOINTS,
    )
    processor = tf.LlavaNextProcessor(
        image_processor=images,
        tokenizer=tok,
        patch_size=8,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=CHAT,
    )
    model = build(tf.LlavaNextForConditionalGeneration, config)
    with torch.no_grad():  # the newline embedding is zeros at init: make it recognisable
        model.model.image_newline.normal_(generator=torch.Generator().manual_seed(1))
    return model, processor


IDEFICS_SPECIAL = (
    "<pad>",
    "<s>",
    "</s>",
    "<image>",
    "<fake_token_around_image>",
    "<global-img>",
    "<end_of_utterance>",
    *(f"<row_{i}_col_{j}>" for i in range(1, 7) for j in range(1, 7)),
)
IDEFICS_CHAT = (
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}"
    "<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)


def idefics3(kind: str = "idefics3", splitting: bool = True) -> tuple[Any, Any]:
    """Idefics3 / SmolVLM: a SigLIP-like tower on 32 px tiles (patch 4: 8 x 8 patches), pixel
    shuffle with scale factor 2 (16 tokens per tile), images up to 64 px split in 32 px tiles
    plus a global image."""
    tok = tokenizer(IDEFICS_SPECIAL, pad_token="<pad>", bos_token="<s>", eos_token="</s>")
    classes = {
        "idefics3": (
            tf.Idefics3Config,
            tf.Idefics3VisionConfig,
            tf.Idefics3ForConditionalGeneration,
            tf.Idefics3ImageProcessorPil,
            tf.Idefics3Processor,
        ),
        "smolvlm": (
            tf.SmolVLMConfig,
            tf.SmolVLMVisionConfig,
            tf.SmolVLMForConditionalGeneration,
            tf.SmolVLMImageProcessorPil,
            tf.SmolVLMProcessor,
        ),
    }
    config_class, vision_class, model_class, image_class, _ = classes[kind]
    vision = vision_class(**VISION, image_size=32, patch_size=4)
    config = config_class(
        vision_config=vision,
        text_config=_llama(tok),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        scale_factor=2,
        pad_token_id=0,
    )
    images = image_class(
        size={"longest_edge": 64},
        max_image_size={"longest_edge": 32},
        do_image_splitting=splitting,
    )
    # SmolVLMProcessor needs a video processor (torchvision) and num2words: its image layout
    # (tiles, <row_i_col_j>, the global image) is Idefics3's, so Idefics3Processor builds it
    processor = tf.Idefics3Processor(
        image_processor=images, tokenizer=tok, image_seq_len=16, chat_template=IDEFICS_CHAT
    )
    return build(model_class, config), processor


QWEN_SPECIAL = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
QWEN_CHAT = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{% for part in "
    "message['content'] %}{% if part['type'] == 'image' %}<|vision_start|><|image_pad|>"
    "<|vision_end|>{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class _QwenProcessor(tf.Qwen2VLProcessor):
    """Qwen2VLProcessor without a video processor (building one needs torchvision)."""

    def check_argument_for_proper_class(self, name: str, arg: Any) -> Any:
        return None if arg is None else super().check_argument_for_proper_class(name, arg)


def qwen2_vl(version: str = "2") -> tuple[Any, Any]:
    """Qwen2-VL / Qwen2.5-VL: patch 8, 2 x 2 spatial merge (16 px per language-model token),
    dynamic resolution (up to 64 tokens), M-RoPE; 2.5 attends in 32 px windows in its vision
    layers but layer 1."""
    tok = tokenizer(QWEN_SPECIAL, pad_token="<|endoftext|>", eos_token="<|im_end|>")
    ids = {name: tok.convert_tokens_to_ids(name) for name in QWEN_SPECIAL}
    text = dict(
        **TEXT,
        vocab_size=len(tok),
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 1, 1]},
    )
    vision = dict(
        depth=3,
        num_heads=4,
        patch_size=8,
        spatial_merge_size=2,
        temporal_patch_size=2,
        initializer_range=0.3,
    )
    tokens = dict(
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    if version == "2":
        config = tf.Qwen2VLConfig(
            text_config=tf.Qwen2VLTextConfig(**text),
            vision_config=tf.Qwen2VLVisionConfig(**vision, embed_dim=32, hidden_size=32),
            **tokens,
        )
        model_class = tf.Qwen2VLForConditionalGeneration
    else:
        config = tf.Qwen2_5_VLConfig(
            text_config=tf.Qwen2_5_VLTextConfig(**text),
            vision_config=tf.Qwen2_5_VLVisionConfig(
                **vision,
                hidden_size=32,
                intermediate_size=64,
                out_hidden_size=32,
                window_size=32,
                fullatt_block_indexes=[1],
            ),
            **tokens,
        )
        model_class = tf.Qwen2_5_VLForConditionalGeneration
    images = tf.Qwen2VLImageProcessorPil(
        patch_size=8,
        merge_size=2,
        temporal_patch_size=2,
        min_pixels=16 * 16 * 4,
        max_pixels=16 * 16 * 64,
    )
    processor = _QwenProcessor(
        image_processor=images, tokenizer=tok, video_processor=None, chat_template=QWEN_CHAT
    )
    return build(model_class, config), processor


def paligemma() -> tuple[Any, Any]:
    """PaliGemma: SigLIP tower (32 px, patch 8: 16 image tokens, no class token), Gemma with
    the prefix-LM mask (image and prompt attend both ways, the answer causally)."""
    tok = tokenizer(
        ("<pad>", "<bos>", "<eos>", "<image>"),
        pad_token="<pad>",
        bos_token="<bos>",
        eos_token="<eos>",
    )
    images = tf.SiglipImageProcessorPil(size={"height": 32, "width": 32})
    images.image_seq_length = 16
    processor = tf.PaliGemmaProcessor(image_processor=images, tokenizer=tok)
    text = tf.GemmaConfig(
        **{**TEXT, "num_key_value_heads": 1},
        head_dim=8,
        vocab_size=len(tok),
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    config = tf.PaliGemmaConfig(
        vision_config=tf.SiglipVisionConfig(
            **VISION, image_size=32, patch_size=8, projection_dim=32
        ),
        text_config=text,
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        projection_dim=32,
        hidden_size=32,
    )
    return build(tf.PaliGemmaForConditionalGeneration, config), processor


def blip2() -> tuple[Any, Any]:
    """BLIP-2: ViT tower (class token + 16 patches), a Q-Former of 8 query tokens (cross
    attention to the patches in layer 0), OPT reading the query tokens then the text."""
    tok = tokenizer(
        ("<pad>", "</s>", "<image>"), pad_token="<pad>", bos_token="</s>", eos_token="</s>"
    )
    images = tf.BlipImageProcessorPil(size={"height": 32, "width": 32})
    processor = tf.Blip2Processor(image_processor=images, tokenizer=tok, num_query_tokens=8)
    config = tf.Blip2Config(
        vision_config=tf.Blip2VisionConfig(**VISION, image_size=32, patch_size=8),
        qformer_config=tf.Blip2QFormerConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            encoder_hidden_size=32,
            cross_attention_frequency=2,
            initializer_range=0.3,
        ),
        text_config=tf.OPTConfig(
            hidden_size=32,
            num_hidden_layers=2,
            ffn_dim=64,
            num_attention_heads=4,
            vocab_size=len(tok),
            word_embed_proj_dim=32,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=1,
            max_position_embeddings=512,
            init_std=0.3,
        ),
        num_query_tokens=8,
        image_token_index=tok.convert_tokens_to_ids("<image>"),
    )
    return build(tf.Blip2ForConditionalGeneration, config), processor


def dual(kind: str = "clip") -> tuple[Any, Any]:
    """CLIP / SigLIP: an image tower (patch 8 on 32 px) and a text tower, no cross attention."""
    if kind == "clip":
        tok = tokenizer(
            ("<pad>", "<|startoftext|>", "<|endoftext|>"),
            pad_token="<pad>",
            bos_token="<|startoftext|>",
            eos_token="<|endoftext|>",
        )
        text = tf.CLIPTextConfig(
            **{**VISION, "initializer_factor": 8.0},
            vocab_size=len(tok),
            max_position_embeddings=64,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
        )
        vision = tf.CLIPVisionConfig(
            **{**VISION, "initializer_factor": 8.0}, image_size=32, patch_size=8
        )
        config = tf.CLIPConfig(
            text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=16
        )
        images = tf.CLIPImageProcessorPil(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        )
        processor = tf.CLIPProcessor(image_processor=images, tokenizer=tok)
        return build(tf.CLIPModel, config), processor
    tok = tokenizer(
        ("<pad>", "</s>", "<unk>"), pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    text = tf.SiglipTextConfig(
        **VISION, vocab_size=len(tok), max_position_embeddings=64, pad_token_id=0, eos_token_id=1
    )
    vision = tf.SiglipVisionConfig(**VISION, image_size=32, patch_size=8)
    config = tf.SiglipConfig(text_config=text.to_dict(), vision_config=vision.to_dict())
    images = tf.SiglipImageProcessorPil(size={"height": 32, "width": 32})
    processor = tf.SiglipProcessor(image_processor=images, tokenizer=tok)
    return build(tf.SiglipModel, config), processor
