"""What one data request costs the kernel: memory for a layer, work for a burst of tiles.

Peak memory is read from tracemalloc (numpy reports its buffers to it); work is the number of
tiles encoded, counted on the real encoder, never a time.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from typing import Any

import numpy as np
import pytest

from attnwidgets import AttentionView
from attnwidgets.widgets.attention import requests as attention_requests
from attnwidgets.widgets.attention.transport import EncodedBlock, decode_block, encode_block

MAX_QUEUED = 64  # what the brief asks of request_queue.MAX_QUEUED (checked below)


def capture_sent(view: AttentionView) -> list[tuple[dict[str, Any], Any]]:
    sent: list[tuple[dict[str, Any], Any]] = []
    view.send = lambda content, buffers=None: sent.append((content, buffers))  # type: ignore[method-assign]
    return sent


def peak_bytes(action: Any) -> int:
    """Peak bytes allocated (above what was held before) while ``action()`` runs."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        action()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - before


@pytest.mark.parametrize("special", ["none", "masked and NaN"])
def test_a_layer_request_costs_its_output_and_one_head(special: str) -> None:
    heads, n = 12, 384
    rng = np.random.default_rng(0)
    data = rng.random((2, heads, n, n), dtype=np.float32)
    if special != "none":
        data[1][:, np.triu_indices(n, 1)[0], np.triu_indices(n, 1)[1]] = -np.inf
        data[1, 3, 5, 7] = np.nan
    view = AttentionView(data, mode="layers", preload="layer")
    sent = capture_sent(view)
    request = {"type": "request_layer", "id": 1, "layer": 1}
    peak = peak_bytes(lambda: view._on_message(view, request, []))
    output, head = heads * n * n, 4 * n * n
    assert peak < 2 * output + head, (peak / output, "x the uint8 output")
    content, buffers = sent[-1]
    assert content["type"] == "layer" and len(buffers[0]) == output
    # and the bytes are right: decoded within half a step of the float32 record
    block = EncodedBlock(
        buffers[0],
        (heads, n, n),
        content["offset"],
        content["scale"],
        "masked_byte" in content,
        "nan_byte" in content,
    )
    decoded, want = decode_block(block), data[1]
    assert np.array_equal(np.isneginf(decoded), np.isneginf(want))
    assert np.array_equal(np.isnan(decoded), np.isnan(want))
    finite = np.isfinite(want)
    steps = np.asarray(content["scale"], np.float32)[:, None, None] * np.ones_like(want)
    assert (np.abs(decoded[finite] - want[finite]) <= steps[finite] / 2 + 1e-6).all()


def test_encoding_matches_a_float64_reference() -> None:
    rng = np.random.default_rng(1)
    block = (rng.standard_normal((3, 20, 30)) * 4).astype(np.float32)
    block[1, 2, 3] = -np.inf
    enc = encode_block(block)
    low = np.where(np.isfinite(block), block, np.inf).min(axis=(1, 2)).astype(np.float64)
    high = np.where(np.isfinite(block), block, -np.inf).max(axis=(1, 2)).astype(np.float64)
    scale = (high - low) / 254
    offset = low - scale
    want = np.clip(np.rint((block - offset[:, None, None]) / scale[:, None, None]), 1, 255)
    want[np.isneginf(block)] = 0
    got = np.frombuffer(enc.data, np.uint8).reshape(block.shape)
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1  # float32 vs float64 rounding
    np.testing.assert_allclose(enc.offset, offset, rtol=1e-6)
    np.testing.assert_allclose(enc.scale, scale, rtol=1e-6)


def test_layer_requests_the_view_did_not_advertise_are_refused() -> None:
    tiled = AttentionView(np.full((2, 1, 1100, 1100), 1 / 1100, np.float32))
    assert tiled.mode == "tiles"
    sent = capture_sent(tiled)
    tiled._on_message(tiled, {"type": "request_layer", "id": 4, "layer": 0}, [])
    assert sent[-1][0]["type"] == "error" and sent[-1][0]["id"] == 4
    assert "tiles" in sent[-1][0]["message"] and sent[-1][1] is None

    small = AttentionView(np.full((2, 1, 3, 3), 1 / 3, np.float32))
    sent = capture_sent(small)
    for bad, field in [
        ({"layer": 2}, "layer 2 out of range 0..1"),
        ({"layer": 0, "kind": "scores"}, "kind 'scores' is not one of"),
        ({"layer": True}, "layer True out of range"),
    ]:
        small._on_message(small, {"type": "request_layer", "id": 5, **bad}, [])
        assert sent[-1][0]["type"] == "error" and field in sent[-1][0]["message"]


def run_burst(view: AttentionView, messages: list[dict[str, Any]]) -> None:
    """Deliver every message to the handler inside a running loop (as a kernel does), then
    let the loop run until the queue is drained."""

    async def deliver() -> None:
        for message in messages:
            view._handle_custom_msg(message, [])
        while len(view._requests) or view._requests._scheduled:
            await asyncio.sleep(0.005)

    asyncio.run(deliver())


@pytest.fixture
def long_view() -> AttentionView:
    n = 2048
    data = np.zeros((1, 4, n, n), np.float32)
    for h in range(4):
        data[0, h, np.arange(n), (np.arange(n) - h) % n] = 1.0 - 0.1 * h
    return AttentionView(data)


def test_a_burst_of_tile_requests_costs_one_encode_per_picture(
    long_view: AttentionView, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = long_view
    encodes: list[Any] = []
    real = attention_requests.make_tile
    monkeypatch.setattr(
        attention_requests, "make_tile", lambda *a, **k: encodes.append(a[1]) or real(*a, **k)
    )
    replies: list[tuple[str, Any, bool, str]] = []  # type, id, retry, message
    final: dict[str, Any] = {}

    def keep(content: dict[str, Any], buffers: Any = None) -> None:
        replies.append(
            (content["type"], content["id"], bool(content.get("retry")), content.get("message", ""))
        )
        if content["id"] == "tile-last":
            final.update(content, buffer=bytes(buffers[0]))  # other buffers are dropped

    view.send = keep  # type: ignore[method-assign]
    # 2,000 zoom steps on head 2 and prefetches of its neighbours, interleaved
    messages = []
    for i in range(2000):
        q0 = i % 1500
        messages.append(
            {
                "type": "request_tile",
                "id": f"tile-{i}",
                "layer": 0,
                "head": 2 if i % 4 else 1 + (i // 4) % 3 * 1,
                "rows": [q0, q0 + 8],
                "cols": [q0, q0 + 8],
                "pixels": [8, 8],
            }
        )
    last = {
        "type": "request_tile",
        "id": "tile-last",
        "layer": 0,
        "head": 2,
        "rows": [1000, 1064],
        "cols": [990, 1054],
        "pixels": [16, 16],
    }
    messages.append(last)
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    run_burst(view, messages)
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    slots = {(m["head"], tuple(m["pixels"])) for m in messages}
    assert len(encodes) == len(slots) == 4  # heads 1, 2, 3 at 8 px and head 2 at 16 px
    assert len(replies) == len(messages)  # every request answered: a tile or a retry error
    dropped = [r for r in replies if r[0] == "error"]
    assert len(dropped) == len(messages) - 4
    assert all(retry and "superseded" in message for _, _, retry, message in dropped)
    assert final["type"] == "tile" and final["shape"] == [16, 16]
    head = view.record.head(0, 2)
    region = head[1000:1064, 990:1054].reshape(16, 4, 16, 4).max(axis=(1, 3))
    want = np.rint(region / 0.8 * 255).astype(np.uint8)  # head 2 peaks at 0.8, lo = 0
    assert (final["lo"], final["hi"]) == pytest.approx((0.0, 0.8))
    np.testing.assert_array_equal(np.frombuffer(final["buffer"], np.uint8).reshape(16, 16), want)
    assert after - before < 1_000_000  # nothing held after the burst but a few ranges


def test_more_pictures_than_the_queue_holds_are_answered_busy(
    long_view: AttentionView, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = long_view
    encodes: list[Any] = []
    real = attention_requests.make_tile
    monkeypatch.setattr(
        attention_requests, "make_tile", lambda *a, **k: encodes.append(1) or real(*a, **k)
    )
    replies = capture_sent(view)
    messages = [
        {
            "type": "request_tile",
            "id": i,
            "layer": 0,
            "head": 0,
            "rows": [0, 8],
            "cols": [0, 8],
            "pixels": [8, 1 + i],
        }
        for i in range(2000)
    ]
    run_burst(view, messages)
    from attnwidgets.widgets.attention.request_queue import MAX_QUEUED as limit

    assert len(encodes) == limit == MAX_QUEUED
    busy = [c for c, _ in replies if c["type"] == "error"]
    assert len(busy) == 2000 - MAX_QUEUED
    assert all(c["retry"] and c["message"].startswith("busy: dropped") for c in busy)


class ScanCounter(np.ndarray):
    """A layer that counts the numpy operations reading a whole head (or more) of it."""

    whole = 0  # cells of one head
    scans = 0

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if any(isinstance(x, ScanCounter) and x.size >= ScanCounter.whole for x in inputs):
            ScanCounter.scans += 1
        plain = [x.view(np.ndarray) if isinstance(x, ScanCounter) else x for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(
                x.view(np.ndarray) if isinstance(x, ScanCounter) else x for x in kwargs["out"]
            )
        return getattr(ufunc, method)(*plain, **kwargs)


def count_scans(view: AttentionView) -> type[ScanCounter]:
    record = view.kinds["probability"]
    ScanCounter.whole, ScanCounter.scans = record.shape[2] * record.shape[3], 0
    record._layers = [layer.view(ScanCounter) for layer in record._layers]
    return ScanCounter


def test_small_tiles_do_not_rescan_the_head_until_new_data(long_view: AttentionView) -> None:
    view = long_view
    view.head = 1  # the head shown: set_data sends its first tile (and keeps its range)
    sent = capture_sent(view)
    counter = count_scans(view)
    tile = {"type": "request_tile", "layer": 0, "head": 1, "cols": [0, 8], "pixels": [8, 8]}
    for i in range(20):
        view._on_message(view, {**tile, "id": i, "rows": [i, i + 8]}, [])
    assert counter.scans <= 4  # the head's range, found once (min, max), then 8 x 8 regions
    assert sent[-1][0]["hi"] == pytest.approx(0.9) and sent[-1][0]["shape"] == [8, 8]
    view.set_data(view.record.to_numpy() * 0.5)  # new data: its ranges, not the old ones
    view._on_message(view, {**tile, "id": 99, "rows": [0, 8]}, [])
    assert sent[-1][0]["hi"] == pytest.approx(0.45)
