"""AttentionRecord indexing/shape rules and the uint8 transport (Python side of the contract)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from attnwidgets import AttentionRecord
from attnwidgets.widgets.attention.transport import decode_block, encode_block
from attnwidgets.widgets.inputs import as_attention_record

FIXTURE = Path(__file__).parents[1] / "js" / "fixtures" / "layer_uint8.json"


def test_record_indexing_and_errors():
    record = AttentionRecord.from_array(np.random.default_rng(0).random((3, 2, 4, 4)))
    assert record.shape == (3, 2, 4, 4)
    assert record[-1].shape == (2, 4, 4)
    assert record[0].dtype == np.float32
    with pytest.raises(IndexError, match=r"layer 3 out of range.*0\.\.2"):
        record[3]
    with pytest.raises(IndexError, match=r"head 2 out of range.*0\.\.1"):
        record.head(0, 2)
    with pytest.raises(ValueError, match="expected 3 dimensions"):
        AttentionRecord([np.zeros((4, 4))])


def test_ragged_record_explains_itself():
    record = AttentionRecord([np.zeros((2, 3, 3)), np.zeros((2, 1, 4))], ["a", "b"])
    with pytest.raises(ValueError, match="b is"):
        record.shape


def test_bertviz_style_tuple_is_accepted():
    layers = tuple(np.random.default_rng(i).random((1, 2, 5, 5)) for i in range(3))
    record = as_attention_record(layers)
    assert record.shape == (3, 2, 5, 5)
    np.testing.assert_allclose(record[1], layers[1][0], rtol=1e-6)
    with pytest.raises(ValueError, match="empty tuple"):
        as_attention_record(())


def test_transport_round_trip_within_half_a_step():
    rng = np.random.default_rng(1)
    block = rng.dirichlet(np.ones(16), size=(3, 16)).astype(np.float32)
    encoded = encode_block(block)
    assert len(encoded.data) == block.size  # one byte per value
    assert encoded.offset == [0.0, 0.0, 0.0]  # probabilities keep zero exact
    error = np.abs(decode_block(encoded) - block)
    assert (error <= np.asarray(encoded.scale)[:, None, None] / 2 + 1e-7).all()


def test_transport_handles_negative_scores_and_non_finite_values():
    block = np.array([[[-2.0, 0.0], [np.inf, 6.0]]], np.float32)
    encoded = encode_block(block)
    assert encoded.offset == [-2.0]
    decoded = decode_block(encoded)
    assert decoded[0, 0, 0] == pytest.approx(-2.0)
    assert decoded[0, 1, 1] == pytest.approx(6.0)


def test_js_fixture_matches_python_encoding():
    """The JS decode test reads this fixture; the bytes must equal what Python produces."""
    fixture = json.loads(FIXTURE.read_text())
    h, q, k = np.meshgrid(np.arange(2), np.arange(3), np.arange(4), indexing="ij")
    raw = ((h * 12 + q * 4 + k * 10) % 256).astype(np.uint8)
    assert base64.b64decode(fixture["bytes_b64"]) == raw.tobytes()
    assert fixture["shape"] == [2, 3, 4]
    offset = np.array(fixture["offset"])[:, None, None]
    scale = np.array(fixture["scale"])[:, None, None]
    np.testing.assert_allclose(np.array(fixture["expected"]), offset + raw * scale, atol=1e-6)
