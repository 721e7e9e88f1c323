"""Attention records reuse the memory of dropped records, never of records still in use."""

from __future__ import annotations

import gc

import numpy as np
import pytest
import torch
from conftest import tiny_gpt2

import attnwidgets as aw
from attnwidgets.recording import RecordMemory, record_memory
from attnwidgets.recording.attention.recompute import attention_steps

IDS = torch.randint(1, 64, (1, 40), generator=torch.Generator().manual_seed(0))


@pytest.fixture(autouse=True)
def pool_every_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tiny models' records are below the size the pool takes by default."""
    monkeypatch.setattr(record_memory, "smallest", 0)


def captured(model: torch.nn.Module, ids: torch.Tensor = IDS) -> aw.capture.Capture:
    with torch.no_grad(), aw.capture(model) as cap:
        model(input_ids=ids)
    return cap


def addresses(cap: aw.capture.Capture) -> set[int]:
    return {call.kept["probability"].data_ptr() for call in cap.calls}


def test_a_dropped_capture_lends_its_memory_to_the_next_with_right_values() -> None:
    model = tiny_gpt2()
    first = captured(model)
    expected = [layer.copy() for layer in first.attention]
    old = addresses(first)
    record_memory.release()
    del first
    assert record_memory.kept_bytes == sum(layer.nbytes for layer in expected)
    second = captured(model)
    assert addresses(second) == old and record_memory.kept_bytes == 0  # all taken again
    for got, want in zip(second.attention, expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_records_still_held_are_never_overwritten() -> None:
    model = tiny_gpt2()
    record = captured(model).record()  # only the numpy arrays of the record stay alive
    kept = [layer.copy() for layer in record]
    other = captured(model, IDS.flip(-1))  # different tokens: different weights
    assert not addresses(other) & {layer.ctypes.data for layer in record}
    for layer, copy in zip(record, kept, strict=True):
        np.testing.assert_array_equal(layer, copy)
    views = [layer[0] for layer in record]  # numpy views keep the memory too
    pointers = {layer.ctypes.data for layer in record}
    del record
    gc.collect()
    third = captured(model, IDS.flip(-1))
    assert not addresses(third) & pointers
    for view, copy in zip(views, kept, strict=True):
        np.testing.assert_array_equal(view, copy[0])


def test_limit_bounds_what_is_kept_and_zero_keeps_nothing() -> None:
    memory = RecordMemory(limit=3000, smallest=0)
    first, second = memory.empty((25, 25)), memory.empty((25, 25))  # 2,500 bytes each
    del first, second
    assert memory.kept_bytes == 2500  # the second would pass the limit
    memory.limit = 0
    memory.release()
    third = memory.empty((10,))
    del third
    assert memory.kept_bytes == 0
    default = RecordMemory()  # small buffers: torch's own, never kept
    small = default.empty((4, 4))
    del small
    assert default.kept_bytes == 0
    large = default.empty((1 << 16,))  # 256 KiB: the smallest size the pool keeps
    del large
    assert default.kept_bytes == 256 << 10


def test_reused_memory_gives_the_textbook_steps_again() -> None:
    """A buffer full of another computation's numbers: every element is written again."""
    generator = torch.Generator().manual_seed(5)
    query, key = (torch.randn(1, 2, 70, 8, generator=generator) for _ in range(2))
    stale = record_memory.empty((1, 2, 70, 70))
    stale.fill_(float("nan"))
    del stale
    for rules in ({"is_causal": True}, {"attn_mask": torch.ones(70, 70).tril().bool()}):
        got = attention_steps(query, key, **rules)["probability"]
        want = torch.nn.functional.scaled_dot_product_attention(
            query, key, torch.eye(70).expand(1, 2, 70, 70), is_causal=True
        )
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
        del got
