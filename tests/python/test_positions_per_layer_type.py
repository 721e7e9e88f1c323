"""Models with more than one rotary table (local and global layers at different bases): every
table is read, labelled with the layers that use it, and shown in the Positions tab."""

from __future__ import annotations

import ipywidgets
import numpy as np
import pytest
import torch
from conftest import tiny_gemma3

import attnwidgets as aw
from attnwidgets.recording.positions import extract_all_positions, extract_positions


def gemma3(layer_types: list[str]) -> torch.nn.Module:
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    config = Gemma3TextConfig(
        num_hidden_layers=len(layer_types), num_attention_heads=2, num_key_value_heads=1,
        head_dim=8, hidden_size=16, intermediate_size=32, vocab_size=64,
        max_position_embeddings=64, sliding_window=4, layer_types=layer_types,
        bos_token_id=0, eos_token_id=0, pad_token_id=0,
    )  # fmt: skip
    return Gemma3ForCausalLM(config).eval()


def rotation_of(model: torch.nn.Module, layer_type: str, positions: int) -> np.ndarray:
    """Independent: the cos the model's own rotary module gives a layer type."""
    x = torch.zeros(1, positions, 8)
    ids = torch.arange(positions)[None]
    with torch.no_grad():
        cos, _ = model.model.rotary_emb(x, ids, layer_type)
    return cos[0].numpy()


def test_every_rotary_table_is_read_with_its_layers() -> None:
    model = gemma3(["sliding_attention"] * 2 + ["full_attention"] + ["sliding_attention"])
    schemes = extract_all_positions(model, length=16)
    assert [(s.params["layer_type"], s.params["layers"]) for s in schemes] == [
        ("sliding_attention", [0, 1, 3]),
        ("full_attention", [2]),
    ]
    local, full = schemes
    assert (local.theta, full.theta) == (10_000.0, 1_000_000.0)
    assert local.source.endswith("rotary_emb.sliding_attention_inv_freq")
    for scheme, layer_type in ((local, "sliding_attention"), (full, "full_attention")):
        cos, _ = scheme.cos_sin()
        np.testing.assert_allclose(cos, rotation_of(model, layer_type, 16), atol=1e-6)
    assert not np.allclose(local.inv_freq, full.inv_freq)
    assert extract_positions(model, length=16).params["layer_type"] == "sliding_attention"


def test_modernbert_per_layer_type_tables() -> None:
    from tiny_families import FAMILIES as MORE

    model = MORE["modernbert"].build().eval()
    schemes = extract_all_positions(model)
    by_type = {s.params["layer_type"]: s for s in schemes}
    assert set(by_type) == {"full_attention", "sliding_attention"}
    assert by_type["full_attention"].params["layers"] == [0]
    assert by_type["sliding_attention"].params["layers"] == [1]
    rotary = model.rotary_emb
    for layer_type, scheme in by_type.items():
        np.testing.assert_array_equal(
            scheme.inv_freq, getattr(rotary, f"{layer_type}_inv_freq").numpy()
        )


class PairRotary(torch.nn.Module):
    """A rotary module found by its class name and buffer, whatever the attribute is called."""

    def __init__(self, theta: float) -> None:
        super().__init__()
        self.register_buffer("inv_freq", theta ** -(torch.arange(0, 8, 2).float() / 8))


class Attention(torch.nn.Module):
    def __init__(self, theta: float) -> None:
        super().__init__()
        self.rope = PairRotary(theta)


class Block(torch.nn.Module):
    def __init__(self, theta: float) -> None:
        super().__init__()
        self.attn = Attention(theta)


class Stack(torch.nn.Module):
    def __init__(self, thetas: list[float]) -> None:
        super().__init__()
        self.blocks = torch.nn.ModuleList([Block(theta) for theta in thetas])


def test_per_layer_rotary_modules_are_grouped_by_table() -> None:
    schemes = extract_all_positions(Stack([10_000.0, 10_000.0, 500.0, 10_000.0]), length=8)
    assert [(s.source, s.params["layers"]) for s in schemes] == [
        ("Stack.blocks.0.attn.rope", [0, 1, 3]),
        ("Stack.blocks.2.attn.rope", [2]),
    ]
    np.testing.assert_allclose(schemes[1].inv_freq, [1.0, 500**-0.25, 500**-0.5, 500**-0.75])


def test_positions_tab_shows_every_table() -> None:
    model = tiny_gemma3()  # layer 0 sliding, layer 1 full
    run = aw.wrap(model, norms=False)(input_ids=torch.tensor([[1, 2, 3, 4, 5]]))
    tabs = run.widget()
    titles = [tabs.get_title(i) for i in range(len(tabs.children))]
    assert "Positions" in titles
    panel = tabs.children[titles.index("Positions")]
    assert isinstance(panel, ipywidgets.Tab)
    names = [panel.get_title(i) for i in range(len(panel.children))]
    assert names == ["rotary: layers 0 (sliding_attention)", "rotary: layers 1 (full_attention)"]
    views = [box.children[1] for box in panel.children]
    assert [v.params["theta"] for v in views] == [10_000.0, 1_000_000.0]
    assert views[1].title.endswith("· layers 1 (full_attention)")


def test_one_table_models_are_unchanged() -> None:
    from conftest import tiny_llama_gqa

    (scheme,) = extract_all_positions(tiny_llama_gqa())
    assert "layer_type" not in scheme.params
    with pytest.raises(TypeError):
        extract_all_positions("not a model")  # type: ignore[arg-type]
