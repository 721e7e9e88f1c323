"""An AttentionView of a Q/K record (``aw.wrap(model, attention="qk")``) answers the page's
tile, focus, thumbnail and metric requests from Q and K with what a view of the dense record
of the same forward sends (the dense capture is the reference), and never builds a dense
layer (its dense limit is set below one layer)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from conftest import tiny_llama_gqa

import attnwidgets as aw
from attnwidgets.widgets.attention.qk_tiles import qk_tiles
from attnwidgets.widgets.attention.requests import answer_request

TOKENS = 48


@pytest.fixture(scope="module")
def views() -> tuple[aw.AttentionView, aw.AttentionView]:
    model = tiny_llama_gqa()
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.q_proj.weight.mul_(5)
    ids = torch.arange(1, TOKENS + 1)[None] % 60
    qk = aw.wrap(model, attention="qk")(input_ids=ids)
    dense = aw.wrap(model)(input_ids=ids)
    assert isinstance(qk.attention, aw.QKRecord)
    qk.attention.dense_limit = 1  # any dense layer would raise
    shown = aw.AttentionView(qk, mode="tiles", show_overview=True, show_metrics=True)
    reference = aw.AttentionView(dense, mode="tiles", show_overview=True, show_metrics=True)
    return shown, reference


def _values(payload: dict[str, Any], buffers: Any = None) -> np.ndarray:
    data = buffers[0] if buffers else payload["value"]
    return np.frombuffer(bytes(data), np.uint8).reshape(payload["shape"]).astype(int)


def test_first_view_and_panels_match_the_dense_view(views: Any) -> None:
    shown, reference = views
    assert shown.mode == "tiles" and shown.query_tokens == reference.query_tokens
    assert shown.tile0["hi"] == pytest.approx(reference.tile0["hi"], abs=1e-6)
    assert np.abs(_values(shown.tile0) - _values(reference.tile0)).max() <= 1
    np.testing.assert_allclose(shown.thumbnails["hi"], reference.thumbnails["hi"], atol=1e-6)
    assert np.abs(_values(shown.thumbnails) - _values(reference.thumbnails)).max() <= 1

    def floats(value: dict[str, Any]) -> np.ndarray:
        return np.frombuffer(bytes(value["value"]), np.float32).reshape(value["shape"])

    got, want = floats(shown.metrics), floats(reference.metrics)
    np.testing.assert_allclose(got, want, atol=1e-4, equal_nan=True)


@pytest.mark.parametrize(
    "rows, cols, pixels",
    [
        ([0, TOKENS], [0, TOKENS], [20, 20]),
        ([5, 30], [0, 17], [25, 17]),
        ([40, 48], [3, 44], [3, 9]),
    ],
)
def test_tiles_match_the_dense_view(views: Any, rows: list[int], cols: list[int],
                                    pixels: list[int]) -> None:  # fmt: skip
    shown, reference = views
    for layer, head in ((0, 0), (1, 3)):
        request = {"type": "request_tile", "id": "t", "layer": layer, "head": head,
                   "rows": rows, "cols": cols, "pixels": pixels}  # fmt: skip
        got, got_buffers = answer_request(request, shown._data, TOKENS, "probability", "tiles")
        want, want_buffers = answer_request(request, reference._data, TOKENS, "probability",
                                            "tiles")  # fmt: skip
        assert got["shape"] == want["shape"] and got["rows"] == rows
        assert got["hi"] == pytest.approx(want["hi"], abs=1e-6)
        assert np.abs(_values(got, got_buffers) - _values(want, want_buffers)).max() <= 1


def test_focus_matches_the_dense_view(views: Any) -> None:
    shown, reference = views
    request = {"type": "request_focus", "id": "f", "token": 7, "width": 20}
    got, got_buffers = answer_request(request, shown._data, TOKENS)
    want, want_buffers = answer_request(request, reference._data, TOKENS)
    np.testing.assert_allclose(got["max"], want["max"], atol=1e-6)
    assert np.abs(_values(got, got_buffers) - _values(want, want_buffers)).max() <= 1


def test_bad_tile_requests_are_error_replies(views: Any) -> None:
    shown, _ = views
    request = {"type": "request_tile", "id": 3, "layer": 0, "head": 0, "rows": [0, 49],
               "cols": [0, 4], "pixels": [4, 4]}  # fmt: skip
    reply, _ = answer_request(request, shown._data, TOKENS, "probability", "tiles")
    assert reply == {"type": "error", "id": 3, "message": "tile rows must be [start, stop] "
                     "within 0..48, got [0, 49]"}  # fmt: skip


def test_background_overviews_answer_head_switches_from_the_cache(views: Any) -> None:
    shown, _ = views
    tiles = qk_tiles(shown.record)
    request = {"type": "request_tile", "id": "t", "layer": 0, "head": 1, "rows": [0, TOKENS],
               "cols": [0, TOKENS], "pixels": [31, 31]}  # fmt: skip
    answer_request(request, shown._data, TOKENS, "probability", "tiles")
    tiles.wait(30)
    for layer in range(2):
        for head in range(4):
            assert (layer, head, 0, TOKENS, 0, TOKENS, 31, 31) in tiles._kept, (layer, head)


def test_run_widget_of_a_qk_run_has_a_row_tab_following_the_locked_query() -> None:
    model = tiny_llama_gqa()
    run = aw.wrap(model, attention="qk", norms=False)(input_ids=torch.arange(1, 31)[None])
    tab = run.widget()
    titles = [tab.get_title(i) for i in range(len(tab.children))]
    row = tab.children[titles.index("Row")]
    assert isinstance(row, aw.RowView) and row.query == 29
    view = tab.children[0].children[1]
    view.focus_token = 12
    assert row.query == 12
    np.testing.assert_allclose(
        np.frombuffer(bytes(row.row["value"]), np.float32), run.attention.row(0, 0, 12), atol=0
    )
    assert [item["key"] for item in row.top][:1] == [int(np.argmax(run.attention.row(0, 0, 12)))]
    with pytest.raises(IndexError, match=r"query 30 out of range 0\.\.29"):
        row.query = 30
    assert row.query == 12
    shorter = aw.wrap(model, attention="qk", norms=False)(input_ids=torch.arange(1, 11)[None])
    view.set_data(shorter)  # what the live box does with a new text: the row follows
    assert row.n_queries == 10 and row.query == 9 and row.record is shorter.attention
    np.testing.assert_allclose(
        np.frombuffer(bytes(row.row["value"]), np.float32), shorter.attention.row(0, 0, 9)
    )


def test_a_padded_batch_gives_one_qk_run_per_example_cut_to_its_tokens() -> None:
    model = tiny_llama_gqa()
    ids = torch.arange(1, 41).reshape(2, 20) % 60
    mask = torch.ones(2, 20, dtype=torch.long)
    mask[1, :6] = 0  # left padding
    qk = aw.wrap(model, attention="qk", norms=False)(input_ids=ids, attention_mask=mask)
    dense = aw.wrap(model, norms=False)(input_ids=ids, attention_mask=mask)
    assert [len(run.tokens) for run in qk] == [20, 14] == [len(run.tokens) for run in dense]
    for got, want in zip(qk, dense, strict=True):
        assert isinstance(got.attention, aw.QKRecord)
        for layer in range(2):
            np.testing.assert_allclose(got.attention[layer], want.attention[layer], atol=1e-6)
