"""AttentionView value kinds: probability / scores / scaled / masked, and masked cells."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tiny_gpt2

import attnwidgets as aw
from attnwidgets.records import AttentionRecord
from attnwidgets.widgets import AttentionView
from attnwidgets.widgets.attention.tiles import TileRequest, make_tile
from attnwidgets.widgets.attention.transport import EncodedBlock, decode_block, encode_block


def causal_records(layers: int = 2, heads: int = 2, n: int = 5):
    rng = np.random.default_rng(0)
    scores = rng.normal(0, 3, (layers, heads, n, n)).astype(np.float32)
    upper = np.triu(np.ones((n, n), bool), 1)
    masked = np.where(upper, np.float32(-np.inf), scores)
    probs = np.exp(masked - masked.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    names = [f"h.{i}.attn" for i in range(layers)]
    make = lambda a, kind: AttentionRecord(list(a), names, kind=kind)  # noqa: E731
    return make(probs, "probability"), {"scores": make(scores, "scores"),
                                        "masked": make(masked, "masked")}  # fmt: skip


def test_encode_decode_round_trips_minus_inf():
    block = np.array([[[-3.0, -np.inf], [0.5, 4.0]], [[1.0, 2.0], [-np.inf, -np.inf]]], np.float32)
    encoded = encode_block(block)
    assert encoded.masked and encoded.value()["masked_byte"] == 0
    raw = np.frombuffer(encoded.data, np.uint8).reshape(block.shape)
    assert (raw[np.isneginf(block)] == 0).all() and (raw[np.isfinite(block)] >= 1).all()
    decoded = decode_block(encoded)
    assert np.array_equal(np.isneginf(decoded), np.isneginf(block))
    finite = np.isfinite(block)
    steps = np.repeat(np.asarray(encoded.scale), 4).reshape(block.shape)
    assert (np.abs(decoded[finite] - block[finite]) <= steps[finite] / 2 + 1e-6).all()
    assert decoded[0, 0, 0] == pytest.approx(-3.0) and decoded[0, 1, 1] == pytest.approx(4.0)
    plain = encode_block(np.ones((1, 2, 2), np.float32))
    assert not plain.masked and "masked_byte" not in plain.value()
    assert isinstance(plain, EncodedBlock)


def test_view_kinds_and_layer_requests_follow_value_kind():
    probs, scores = causal_records()
    view = AttentionView(probs, scores=scores, preload="layer")
    assert view.available_kinds == ["probability", "scores", "masked"]
    assert view.value_kind == "probability" and "masked_byte" not in view.chunk
    sent: list = []
    view.send = lambda content, buffers=None: sent.append((content, buffers))  # type: ignore[method-assign]
    view.value_kind = "masked"
    assert view.value_kind == "masked" and view.chunk["masked_byte"] == 0
    assert view.chunk["kind"] == "masked"
    meta = view.chunk
    shape = tuple(meta["shape"][1:])
    enc = EncodedBlock(view.chunk["value"], shape, meta["offset"][0], meta["scale"][0], True)
    decoded = decode_block(enc)
    want = scores["masked"][0]
    assert np.array_equal(np.isneginf(decoded), np.isneginf(want))
    fin = np.isfinite(want)
    assert np.abs(decoded[fin] - want[fin]).max() <= max(meta["scale"][0]) / 2 + 1e-5
    view._on_message(view, {"type": "request_layer", "layer": 1, "id": 3, "kind": "scores"}, [])
    content, buffers = sent[-1]
    assert content["kind"] == "scores" and "masked_byte" not in content
    enc = EncodedBlock(buffers[0], tuple(content["shape"]), content["offset"], content["scale"])
    assert np.abs(decode_block(enc) - scores["scores"][1]).max() <= max(content["scale"]) / 2 + 1e-5
    with pytest.raises(Exception, match="value_kind"):
        view.value_kind = "nope"
    assert view.value_kind == "masked"


def test_tile_request_for_kind_matches_record():
    probs, scores = causal_records(n=6)
    view = AttentionView(probs, scores=scores, mode="tiles")
    sent: list = []
    view.send = lambda content, buffers=None: sent.append((content, buffers))  # type: ignore[method-assign]
    request = {"type": "request_tile", "id": "tile-1", "layer": 1, "head": 0, "rows": [0, 6],
               "cols": [0, 6], "pixels": [6, 6], "kind": "masked"}  # fmt: skip
    view._on_message(view, request, [])
    content, buffers = sent[-1]
    assert content["kind"] == "masked" and content["masked_byte"] == 0
    raw = np.frombuffer(buffers[0], np.uint8).reshape(6, 6)
    want = scores["masked"].head(1, 0)
    assert (raw[np.isneginf(want)] == 0).all()
    lo, hi = content["lo"], content["hi"]
    values = lo + (raw.astype(np.float64) - 1) * (hi - lo) / 254
    fin = np.isfinite(want)
    assert lo == pytest.approx(want[fin].min()) and hi == pytest.approx(want[fin].max())
    assert np.abs(values[fin] - want[fin]).max() <= (hi - lo) / 254 / 2 + 1e-5
    view.value_kind = "scores"
    assert view.tile0["kind"] == "scores" and "masked_byte" not in view.tile0
    plain = make_tile(np.eye(2, dtype=np.float32), TileRequest(0, 0, (0, 2), (0, 2), 2, 2))
    assert "kind" not in plain and "masked_byte" not in plain


def test_scores_must_match_the_attention_shape():
    probs, scores = causal_records()
    with pytest.raises(ValueError, match="shape"):
        AttentionView(probs, scores={"scores": AttentionRecord([np.zeros((1, 2, 2))])})
    with pytest.raises(ValueError, match="value_kind"):
        AttentionView(probs, scores=scores, value_kind="scaled")


def test_run_from_wrap_with_scores_carries_the_kinds():
    lens = aw.wrap(tiny_gpt2(), scores=True)
    run = lens(input_ids=torch.tensor([[1, 2, 3, 4]]))
    assert set(run.scores) == {"scores", "scaled", "masked"}
    for kind, record in run.scores.items():
        assert record.kind == kind and record.shape == run.attention.shape
    assert np.isneginf(run.scores["masked"][0][0, 0, 1])
    view = AttentionView(run)
    assert view.available_kinds == ["probability", "scores", "scaled", "masked"]
    assert aw.wrap(tiny_gpt2())(input_ids=torch.tensor([[1, 2]])).scores == {}
