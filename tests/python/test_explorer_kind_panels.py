"""Thumbnails and token focus follow value_kind; the metrics stay on probabilities.
References: hand-computed arrays."""

from __future__ import annotations

import json

import numpy as np

from attnwidgets import AttentionRecord, AttentionView


def kinds(n: int = 6) -> tuple[AttentionRecord, dict[str, AttentionRecord]]:
    q, k = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    scores = (k - q).astype(np.float32)[None, None]
    masked = np.where(k > q, np.float32(-np.inf), scores)
    probs = np.exp(masked - masked.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    rec = lambda a, kind: AttentionRecord(list(a), kind=kind)  # noqa: E731
    return rec(probs, "probability"), {
        "scores": rec(scores, "scores"),
        "masked": rec(masked, "masked"),
    }


def focus(view: AttentionView, **request: object) -> tuple[dict, bytes]:
    out: list = []
    view.send = lambda msg, buffers=None: out.append((msg, buffers[0] if buffers else b""))
    view._on_message(view, {"type": "request_focus", "id": "tile-1", **request}, [])
    return out[0]


def test_thumbnails_follow_the_kind_and_metrics_do_not():
    probs, scores = kinds()
    view = AttentionView(probs, scores=scores, show_overview=True, show_metrics=True)
    metrics = bytes(view.metrics["value"])
    assert view.thumbnails["kind"] == "probability"
    assert view.thumbnails["value"][5] == 0  # row 0, key 5: probability 0
    view.value_kind = "scores"
    assert view.thumbnails["kind"] == "scores"
    # each head over (min(0, lowest), highest) = (-5, 5): key - query = 5 is the top byte
    assert view.thumbnails["lo"] == [[-5.0]] and view.thumbnails["hi"] == [[5.0]]
    assert view.thumbnails["value"][5] == 255 and view.thumbnails["value"][5 * 6] == 0
    assert bytes(view.metrics["value"]) == metrics  # entropy etc. stay of the probabilities


def test_token_focus_of_scores_is_scaled_per_line_over_its_signed_range():
    probs, scores = kinds()
    view = AttentionView(probs, scores=scores)
    meta, data = focus(view, token=2, width=6, kind="scores")
    assert meta["kind"] == "scores" and meta["shape"] == [2, 1, 6]
    row = np.arange(6) - 2  # token 2 as a query: key - 2
    col = 2 - np.arange(6)  # token 2 as a key: 2 - query
    expected = [np.rint((v - v.min()) / (v.max() - v.min()) * 255) for v in (row, col)]
    assert list(data) == [int(x) for x in np.concatenate(expected)]
    assert meta["min"] == [[-2.0], [-3.0]] and meta["max"] == [[3.0], [2.0]]
    meta, data = focus(view, token=0, width=6, kind="masked")
    assert list(data[:6]) == [0] * 6  # query 0 sees key 0 only: one finite value, the rest masked
    column = -np.arange(6)  # key 0 seen from query q: 0 - q, highest for q = 0
    assert list(data[6:]) == [int(x) for x in np.rint((column + 5) / 5 * 255)]
    all_masked = AttentionRecord([np.full((1, 2, 2), -np.inf, np.float32)], kind="masked")
    view = AttentionView(np.full((1, 1, 2, 2), 0.5, np.float32), scores={"masked": all_masked})
    meta, _ = focus(view, token=0, width=2, kind="masked")
    assert meta["min"] == [[None], [None]]
    json.dumps(meta, allow_nan=False)  # valid JSON for the browser: no Infinity
    meta, data = focus(view, token=0, width=2)  # no kind: the one drawn (probability)
    assert "kind" not in meta and list(data) == [255, 255, 255, 255]
