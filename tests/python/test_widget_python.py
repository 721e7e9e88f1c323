"""AttentionView's Python side: traits, preload policy, and the layer request protocol."""

from __future__ import annotations

import numpy as np
import pytest

from attnwidgets import AttentionView, attention_explorer
from attnwidgets.widgets.attention.transport import EncodedBlock, decode_block


def _record(layers: int = 4, heads: int = 3, n: int = 6) -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.dirichlet(np.ones(n), size=(layers, heads, n)).astype(np.float32)


def test_traits_describe_the_record():
    tokens = ["<b>x</b>", "a", "b", "c", "d", "e"]
    view = AttentionView(_record(), tokens, layer=2, head=1)
    assert (view.layer, view.head, view.n_layers, view.n_heads) == (2, 1, 4, 3)
    assert view.query_tokens == tokens and view.key_tokens == tokens
    assert view.chunk["shape"][1:] == [3, 6, 6]


def test_large_records_preload_only_the_shown_layer():
    data = _record(layers=3, heads=4, n=160)  # 3 * 4 * 160 * 160 bytes > budget
    view = AttentionView(data, layer=1)
    assert view.chunk["layers"] == [1]
    assert len(view.chunk["value"]) == 4 * 160 * 160
    meta = view.chunk
    block = EncodedBlock(
        bytes(view.chunk["value"]), tuple(meta["shape"][1:]), meta["offset"][0], meta["scale"][0]
    )
    np.testing.assert_allclose(decode_block(block), data[1], atol=0.5 / 255 + 1e-6)


def test_request_layer_replies_with_binary_buffer(monkeypatch):
    data = _record()
    view = AttentionView(data, preload="layer")
    sent = []
    monkeypatch.setattr(view, "send", lambda content, buffers=None: sent.append((content, buffers)))
    view._on_message(view, {"type": "request_layer", "layer": 3, "id": 11}, [])
    content, buffers = sent[0]
    assert content["type"] == "layer" and content["id"] == 11 and content["layer"] == 3
    assert len(buffers) == 1 and len(buffers[0]) == data[3].size
    block = EncodedBlock(buffers[0], tuple(content["shape"]), content["offset"], content["scale"])
    np.testing.assert_allclose(decode_block(block), data[3], atol=0.5 / 255 + 1e-6)
    view._on_message(view, {"type": "request_layer", "layer": 9, "id": 12}, [])
    assert sent[1][0] == {"type": "error", "id": 12, "message": "layer 9 out of range 0..3"}


def test_out_of_range_layer_or_head_is_an_index_error():
    with pytest.raises(IndexError, match=r"0\.\.3"):
        AttentionView(_record(), layer=4)
    with pytest.raises(IndexError, match=r"0\.\.2"):
        AttentionView(_record(), head=3)


def test_token_count_mismatch_is_explained():
    with pytest.raises(ValueError, match="2 query tokens given for an attention of 6"):
        AttentionView(_record(), ["a", "b"])


def test_explorer_sliders_match_the_record():
    box = attention_explorer(AttentionView(_record(), layer=1, head=2))
    layer, head = box.children[0].children
    assert (layer.min, layer.max, layer.value) == (0, 3, 1)
    assert (head.min, head.max, head.value) == (0, 2, 2)
