"""Stacks: models with more than one attention stack (T5, BART, Whisper, CLIP, LLaVA) open in
the explorer one stack at a time, each with its own labels; runs without input_ids show
positions and say why. Every stack's numbers are checked against transformers' own eager
attention of the same weights."""

from __future__ import annotations

import copy
from typing import Any

import ipywidgets
import numpy as np
import pytest
import torch
from conftest import tiny_clip, tiny_gpt2, tiny_t5, tiny_vit, tiny_whisper
from tiny_families import FAMILIES, IDS

import attnwidgets as aw
from attnwidgets.records import AttentionRecord
from attnwidgets.stacks import POSITION_LABELERS, split_stacks
from attnwidgets.widgets import AttentionView
from attnwidgets.widgets.attention import find_attention_view

FEATURES = torch.randn(1, 8, 16, generator=torch.Generator().manual_seed(5))
IMAGE_TOKEN = 63


def tiny_llava() -> torch.nn.Module:
    """LLaVA from config: a tiny CLIP vision tower (4 patches + class token) and a tiny Llama."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig
    from transformers import LlavaForConditionalGeneration as Llava

    vision = CLIPVisionConfig(
        num_hidden_layers=2,
        num_attention_heads=4,
        hidden_size=32,
        intermediate_size=64,
        image_size=8,
        patch_size=4,
    )
    text = LlamaConfig(
        num_hidden_layers=3,
        num_attention_heads=4,
        hidden_size=32,
        intermediate_size=64,
        vocab_size=64,
        max_position_embeddings=64,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_index=IMAGE_TOKEN,
        vision_feature_layer=-1,
    )
    torch.manual_seed(0)
    return Llava(config).eval()


def eager(model: torch.nn.Module, **inputs: Any) -> Any:
    """Independent reference: the same weights on transformers' eager attention."""
    twin = copy.deepcopy(model)
    twin.set_attn_implementation("eager")
    with torch.no_grad():
        return twin(**inputs, output_attentions=True), twin


def close(ours: np.ndarray, reference: torch.Tensor) -> None:
    assert ours.shape == tuple(reference.shape)
    assert np.abs(ours - reference.numpy()).max() <= 1e-5


def check_seq2seq(run: Any, out: Any, enc_ids: torch.Tensor, dec_ids: torch.Tensor) -> None:
    stacks = run.stacks
    assert list(stacks) == ["encoder", "decoder", "cross"]
    n_enc, n_dec = enc_ids.shape[1], dec_ids.shape[1]
    assert stacks["encoder"].record.shape[2:] == (n_enc, n_enc)
    assert stacks["decoder"].record.shape[2:] == (n_dec, n_dec)
    assert stacks["cross"].record.shape[2:] == (n_dec, n_enc)
    for layer, reference in enumerate(out.encoder_attentions):
        close(stacks["encoder"].record[layer], reference[0])
    for layer, reference in enumerate(out.decoder_attentions):
        close(stacks["decoder"].record[layer], reference[0])
    for layer, reference in enumerate(out.cross_attentions):
        close(stacks["cross"].record[layer], reference[0])
    encoder_labels = [str(i) for i in enc_ids[0].tolist()]
    decoder_labels = [str(i) for i in dec_ids[0].tolist()]
    cross = stacks["cross"]
    assert (cross.query_axis, cross.key_axis) == ("decoder", "encoder")
    assert cross.query_tokens == decoder_labels and cross.key_tokens == encoder_labels
    assert stacks["encoder"].query_tokens == encoder_labels
    assert stacks["decoder"].key_tokens == decoder_labels
    assert all(not stack.note for stack in stacks.values())


def test_t5_stacks_encoder_decoder_cross_match_eager() -> None:
    model = tiny_t5()
    inputs = {"input_ids": IDS[:1], "decoder_input_ids": IDS[:1, :5]}
    run = aw.wrap(model)(**inputs)
    out, _ = eager(model, **inputs)
    check_seq2seq(run, out, inputs["input_ids"], inputs["decoder_input_ids"])
    assert run.stacks["cross"].record.layer_names[0] == "decoder.block.0.layer.1.EncDecAttention"


def test_bart_stacks_match_eager() -> None:
    family = FAMILIES["bart"]
    model = family.build()
    inputs = {"input_ids": IDS[:1] + 3, "decoder_input_ids": IDS[:1, :5] + 3}
    run = aw.wrap(model)(**inputs)
    out, _ = eager(model, **inputs)
    check_seq2seq(run, out, inputs["input_ids"], inputs["decoder_input_ids"])


def test_whisper_encoder_shows_frame_positions_and_says_why() -> None:
    model = tiny_whisper()
    inputs = {"input_features": FEATURES, "decoder_input_ids": torch.tensor([[1, 5, 7]])}
    run = aw.wrap(model)(**inputs)
    out, _ = eager(model, **inputs)
    stacks = run.stacks
    assert list(stacks) == ["encoder", "decoder", "cross"]
    for name, references in [
        ("encoder", out.encoder_attentions),
        ("decoder", out.decoder_attentions),
        ("cross", out.cross_attentions),
    ]:
        for layer, reference in enumerate(references):
            close(stacks[name].record[layer], reference[0])
    assert stacks["encoder"].query_tokens == [str(i) for i in range(8)]
    assert "input_features" in stacks["encoder"].note and "input_ids" in stacks["encoder"].note
    assert stacks["decoder"].query_tokens == ["1", "5", "7"] and stacks["decoder"].note == ""
    assert stacks["cross"].key_tokens == [str(i) for i in range(8)]
    assert stacks["cross"].note.startswith("encoder positions:")


def test_clip_vision_and_text_towers() -> None:
    model = tiny_clip()
    inputs = {"input_ids": IDS[:1], "pixel_values": torch.randn(1, 3, 8, 8)}
    run = aw.wrap(model)(**inputs)
    out, _ = eager(model, **inputs)
    stacks = run.stacks
    assert list(stacks) == ["vision", "text"]
    for layer, reference in enumerate(out.vision_model_output.attentions):
        close(stacks["vision"].record[layer], reference[0])
    for layer, reference in enumerate(out.text_model_output.attentions):
        close(stacks["text"].record[layer], reference[0])
    assert stacks["text"].query_tokens == [str(i) for i in IDS[0].tolist()]
    # a dual encoder's run names its patches (VLMRun, issue 16)
    assert stacks["vision"].query_tokens == ["[CLS]", "(0, 0)", "(0, 1)", "(1, 0)", "(1, 1)"]


def test_llava_vision_tower_and_language_model() -> None:
    model = tiny_llava()
    ids = torch.tensor([[1, 5] + [IMAGE_TOKEN] * 4 + [7, 8]])
    inputs = {"input_ids": ids, "pixel_values": torch.randn(1, 3, 8, 8)}
    run = aw.wrap(model)(**inputs)
    out, twin = eager(model, **inputs)
    stacks = run.stacks
    assert list(stacks) == ["vision", "text"]
    assert stacks["vision"].record.shape == (2, 4, 5, 5)
    assert stacks["text"].record.shape == (3, 4, 8, 8)
    for layer, reference in enumerate(out.attentions):
        close(stacks["text"].record[layer], reference[0])
    with torch.no_grad():
        tower = twin.model.vision_tower(inputs["pixel_values"], output_attentions=True)
    for layer, reference in enumerate(tower.attentions):
        close(stacks["vision"].record[layer], reference[0])
    image = [f"<img 0 ({r}, {c})>" for r in range(2) for c in range(2)]  # VLMRun (issue 16)
    assert stacks["text"].query_tokens == ["1", "5", *image, "7", "8"]


def t5_deeper_encoder() -> torch.nn.Module:
    from tiny_families import T5_LIKE
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    config = T5Config(**{**T5_LIKE, "num_layers": 3, "num_decoder_layers": 2})
    return T5ForConditionalGeneration(config).eval()


def test_explorer_switches_stack_and_sliders_follow() -> None:
    run = aw.wrap(t5_deeper_encoder())(input_ids=IDS[:1], decoder_input_ids=IDS[:1, :5])
    tabs = run.widget(layer=2, head=3)  # Attention, Norms and Positions tabs
    view = find_attention_view(tabs)
    layer_slider, head_slider = tabs.children[0].children[0].children
    assert view.stacks == ["encoder", "decoder", "cross"] and view.stack == "encoder"
    assert (view.n_layers, layer_slider.max, view.layer) == (3, 2, 2)
    view.focus_token = 4
    version = view.data_version
    view.stack = "cross"  # as the select in the browser sets it
    assert view.data_version == version + 1
    assert (view.n_layers, view.layer, view.head) == (2, 1, 3)  # layer clamped, head kept
    assert layer_slider.max == 1 and head_slider.max == 3
    assert view.focus_token == -1  # another stack: other tokens
    assert view.query_tokens == [str(i) for i in IDS[0, :5].tolist()]
    assert view.key_tokens == [str(i) for i in IDS[0].tolist()]
    assert view.chunk["shape"][1:] == [4, 5, 8]
    cross = run.stacks["cross"].record
    assert view.record.layer_names == cross.layer_names
    np.testing.assert_array_equal(view.record[1], cross[1])
    with pytest.raises(ValueError, match="stack 'vision' is not one of"):
        AttentionView(run, stack="vision")
    with pytest.raises(Exception, match="not one of"):
        view.stack = "vision"
    assert view.stack == "cross"


def test_set_data_keeps_the_stack_shown() -> None:
    lens = aw.wrap(tiny_t5())
    view = AttentionView(lens(input_ids=IDS[:1, :6], decoder_input_ids=IDS[:1, :3]))
    view.stack = "decoder"
    view.set_data(lens(input_ids=IDS[1:, :7], decoder_input_ids=IDS[1:, :4]))
    assert view.stack == "decoder" and len(view.query_tokens) == 4


def test_a_ragged_record_opens_as_stacks_with_labels_where_they_fit() -> None:
    names = ["vision_model.encoder.layers.0.self_attn", "text_model.encoder.layers.0.self_attn"]
    record = AttentionRecord([np.ones((2, 5, 5)) / 5, np.ones((2, 3, 3)) / 3], names)
    assert {name: r.shape for name, r in record.stacks().items()} == {
        "vision": (1, 2, 5, 5),
        "text": (1, 2, 3, 3),
    }
    view = AttentionView(record, ["a", "b", "c"])
    assert view.stacks == ["vision", "text"]
    assert view.query_tokens == [str(i) for i in range(5)] and "image patches" in view.label_note
    view.stack = "text"
    assert view.query_tokens == ["a", "b", "c"] and view.label_note == ""


def test_plain_pytorch_encoder_decoder_is_split_by_shape() -> None:
    torch.manual_seed(0)
    model = torch.nn.Transformer(16, 2, 2, 2, 32, batch_first=True).eval()
    run = aw.wrap(model)(src=torch.randn(1, 6, 16), tgt=torch.randn(1, 4, 16))
    stacks = run.stacks
    assert list(stacks) == ["encoder", "decoder", "cross"]
    assert stacks["cross"].record.layer_names[0] == "decoder.layers.0.multihead_attn"
    assert stacks["cross"].record.shape[2:] == (4, 6)
    assert "src, tgt" in stacks["cross"].note


@pytest.mark.parametrize("case", ["vit-pixels", "gpt2-embeds", "pytorch-floats"])
def test_runs_without_input_ids_show_positions_and_say_why(case: str) -> None:
    if case == "vit-pixels":
        model, inputs, took = tiny_vit(), {"pixel_values": torch.randn(1, 3, 8, 8)}, "pixel_values"
    elif case == "gpt2-embeds":
        model, inputs, took = tiny_gpt2(), {"inputs_embeds": torch.randn(1, 4, 32)}, "inputs_embeds"
    else:
        layer = torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=True)
        model = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()
        inputs, took = {"src": torch.randn(1, 6, 16)}, "src"
    run = aw.wrap(model)(**inputs)
    n = run.attention[0].shape[1]
    view = find_attention_view(run.widget())  # raised "0 query tokens given..." before
    if case == "vit-pixels":  # a vision run names its positions: [CLS], then patches (r, c)
        assert view.query_tokens == ["[CLS]", "(0, 0)", "(0, 1)", "(1, 0)", "(1, 1)"]
        assert view.key_tokens == view.query_tokens and len(view.query_tokens) == n
        return
    assert view.query_tokens == [str(i) for i in range(n)] == view.key_tokens
    assert view.label_note.startswith("positions: no input_ids")
    assert f"(the run took {took})" in view.label_note and "tokenizer" in view.label_note


def test_position_labels_hook_names_vision_positions() -> None:
    names = ["vision_model.layers.0.attn"]
    record = AttentionRecord([np.ones((1, 3, 3)) / 3], names)
    POSITION_LABELERS["vision"] = lambda count: ["cls", *[f"({i}, 0)" for i in range(count - 1)]]
    try:
        view = AttentionView(record)
        stacks = split_stacks(record)
        vit = aw.wrap(tiny_vit())(pixel_values=torch.randn(1, 3, 8, 8))  # 4 patches + class
        vit_view = AttentionView(vit)
    finally:
        del POSITION_LABELERS["vision"]
    assert list(stacks) == ["vision"]
    assert view.query_tokens == ["cls", "(0, 0)", "(1, 0)"]
    # a vision run names its own positions; the hook is for records that come without names
    assert vit_view.query_tokens == ["[CLS]", "(0, 0)", "(0, 1)", "(1, 0)", "(1, 1)"]


def test_single_stack_views_keep_their_labels_and_errors() -> None:
    view = AttentionView(np.ones((2, 1, 3, 3)) / 3, ["a", "b", "c"])
    assert view.stacks == ["attention"] and view.label_note == ""
    with pytest.raises(ValueError, match="2 query tokens given"):
        AttentionView(np.ones((2, 1, 3, 3)) / 3, ["a", "b"])


def test_explorer_box_children_unchanged() -> None:
    view = AttentionView(np.ones((3, 2, 4, 4)) / 4)
    box = aw.attention_explorer(view)
    play = box.children[2].children[0]
    assert isinstance(play, ipywidgets.Play) and "layers" in play.tooltip
