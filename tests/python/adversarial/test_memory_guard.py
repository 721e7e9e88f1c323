"""The attack, memory: a capture whose records would not fit refuses before allocating them.

The issue's case: 16,384 tokens through a 2-layer GPT-2 shape (12 heads) need 24 GiB of
attention records; on a 24 GiB machine without swap the process was killed. Budgets here are
set small, and nothing of that size is ever allocated. (Issue 12, item 3.)
"""

from __future__ import annotations

import resource

import numpy as np
import pytest
import torch
from _model_state import assert_restored, snapshot
from conftest import tiny_gpt2, tiny_llama_gqa
from transformers import GPT2Config, GPT2LMHeadModel

import attnwidgets as aw
from attnwidgets.recording.attention import admission

MiB = 1 << 20


def _gpt2(heads: int, positions: int, layers: int = 2) -> torch.nn.Module:
    config = GPT2Config(
        n_layer=layers, n_head=heads, n_embd=heads * 4, vocab_size=64, n_positions=positions
    )
    return GPT2LMHeadModel(config).eval()


def _ids(length: int) -> torch.Tensor:
    return torch.arange(length).remainder(63).add(1).unsqueeze(0)


def test_the_issues_16k_tokens_are_refused_with_the_estimate_and_what_helps():
    model = _gpt2(heads=12, positions=16384)
    before = snapshot(model)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    with (
        pytest.raises(aw.CaptureError) as refused,
        torch.no_grad(),
        aw.capture(model, max_bytes=8 << 30) as cap,
    ):
        model(input_ids=_ids(16384))
    message = str(refused.value)
    assert "about 24.0 GiB" in message  # 2 x 12 x 16,384 x 16,384 x 4 bytes
    assert "2 attention layers x 1 sequence x 12 heads x 16,384 queries x 16,384 keys" in message
    assert "8.0 GiB (max_bytes=8589934592)" in message
    for advice in ("layers=", "dtype=torch.float16", "shorter input", "max_bytes="):
        assert advice in message
    assert cap.kept_bytes == 0 and cap.calls == []
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    assert grown < 1 << 20  # under 1 GiB more at the peak: no layer was computed
    assert_restored(model, before)


def test_below_the_budget_nothing_changes():
    model = tiny_gpt2()
    with torch.no_grad():
        with aw.capture(model) as free:
            model(input_ids=_ids(32))
        with aw.capture(model, max_bytes=MiB) as guarded:
            model(input_ids=_ids(32))
    np.testing.assert_array_equal(guarded.attention.to_numpy(), free.attention.to_numpy())
    assert guarded.kept_bytes == 2 * 4 * 32 * 32 * 4


@pytest.mark.parametrize(
    "options, fits",
    [
        ({}, False),  # 4 layers x 4 heads x 256 x 256 x 4 bytes = 4 MiB
        ({"layers": [0]}, True),  # 1 MiB
        ({"dtype": torch.float16}, True),  # 2 MiB of float16, and one float32 layer to work in
        ({"scores": True}, False),  # four kinds
    ],
    ids=["all", "layers", "float16", "scores"],
)
def test_the_advice_in_the_message_works(options, fits):
    model = _gpt2(heads=4, positions=256, layers=4)
    ids = _ids(256)
    budget = int(3.5 * MiB)
    with torch.no_grad():
        if fits:
            with aw.capture(model, max_bytes=budget, **options) as cap:
                model(input_ids=ids)
            assert cap.attention.shape[-1] == 256
        else:
            with (
                pytest.raises(aw.CaptureError, match=r"more than this capture's budget"),
                aw.capture(model, max_bytes=budget, **options),
            ):
                model(input_ids=ids)


def test_the_package_default_is_a_fraction_of_available_memory(monkeypatch):
    model = _gpt2(heads=4, positions=512)
    before = snapshot(model)
    monkeypatch.setattr(admission, "available_memory", lambda: 8 * MiB)  # a small machine
    assert aw.record_memory.budget == 0.5
    with pytest.raises(aw.CaptureError) as refused, torch.no_grad(), aw.capture(model):
        model(input_ids=_ids(512))  # 8 MiB of records
    assert "about 8.0 MiB" in str(refused.value)
    assert "4.0 MiB (50% of the 8.0 MiB of memory available" in str(refused.value)
    assert_restored(model, before)
    monkeypatch.setattr(aw.record_memory, "budget", None)  # no limit
    with torch.no_grad(), aw.capture(model) as cap:
        model(input_ids=_ids(512))
    assert cap.attention.shape == (2, 4, 512, 512)
    monkeypatch.setattr(aw.record_memory, "budget", 2 * MiB)  # bytes
    with (
        pytest.raises(aw.CaptureError, match=r"aw.record_memory.budget = 2097152"),
        torch.no_grad(),
        aw.capture(model),
    ):
        model(input_ids=_ids(512))


def test_generation_is_refused_when_the_growing_sequence_passes_the_budget():
    model = tiny_gpt2()
    before = snapshot(model)
    prompt = _ids(8)
    with torch.no_grad(), aw.capture(model) as free:
        model.generate(input_ids=prompt, max_new_tokens=40, do_sample=False)
    assert free.attention.shape == (2, 4, 47, 47)  # 2 x 4 x 47 x 47 x 4 bytes = 70 KiB
    with (
        pytest.raises(aw.CaptureError) as refused,
        torch.no_grad(),
        aw.capture(model, max_bytes=40_000),
    ):
        model.generate(input_ids=prompt, max_new_tokens=40, do_sample=False)
    assert "the generated sequence read back as one square per layer" in str(refused.value)
    assert "already recorded" in str(refused.value)
    assert_restored(model, before)


class _Sdpa(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.qkv = torch.nn.Linear(8, 24)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).view(1, x.shape[1], 3, 2, 4).permute(2, 0, 3, 1, 4)
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return out.transpose(1, 2).reshape(1, x.shape[1], 8)


class _ManualSoftmax(torch.nn.Module):
    n_head = 2

    def __init__(self) -> None:
        super().__init__()
        self.qkv = torch.nn.Linear(8, 24)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).view(1, x.shape[1], 3, 2, 4).permute(2, 0, 3, 1, 4)
        weights = torch.softmax(q @ k.transpose(-1, -2) / 2.0, dim=-1)
        return (weights @ v).transpose(1, 2).reshape(1, x.shape[1], 8)


def _eager_llama() -> torch.nn.Module:
    model = tiny_llama_gqa()
    model.set_attn_implementation("eager")
    return model


def _encoder() -> torch.nn.Module:
    layer = torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    return torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()


@pytest.mark.parametrize(
    "make, inputs",
    [
        (tiny_gpt2, lambda: {"input_ids": _ids(60)}),
        (_eager_llama, lambda: {"input_ids": _ids(60)}),
        (lambda: torch.nn.Sequential(_Sdpa(), _Sdpa()), lambda: {"input": torch.randn(1, 60, 8)}),
        (lambda: _ManualSoftmax(), lambda: {"x": torch.randn(1, 60, 8)}),
        (_encoder, lambda: {"src": torch.randn(1, 60, 8)}),
    ],
    ids=["interface-sdpa", "interface-eager", "plain-sdpa", "softmax", "multihead"],
)
def test_every_recording_path_checks_the_budget(make, inputs):
    model = make()
    before = snapshot(model)
    with (
        pytest.raises(aw.CaptureError, match=r"x 60 queries x 60 keys"),
        torch.no_grad(),
        aw.capture(model, max_bytes=20_000) as cap,
    ):
        model(**inputs())
    assert cap.kept_bytes == 0
    assert_restored(model, before)


@pytest.mark.parametrize("bad", [-1, 0, "1GB", True])
def test_a_bad_budget_is_refused_before_the_model_is_touched(bad):
    model = tiny_gpt2()
    before = snapshot(model)
    with (
        pytest.raises((TypeError, ValueError), match="max_bytes"),
        aw.capture(model, max_bytes=bad),
    ):
        pass
    assert_restored(model, before)


def test_available_memory_reads_the_system():
    available = admission.available_memory()
    assert available is not None and available > 0
    with open("/proc/meminfo") as meminfo:
        total = next(int(line.split()[1]) * 1024 for line in meminfo if line.startswith("MemTotal"))
    assert available <= total
