"""The fast paths of the norm capture against independent references.

CPU tensors are summarised with numpy on views of the tensors (``in_place``); every other
device takes the torch path. Both must give what numpy gives on the same values, and the same
summaries as each other, to the bit: NaN/Inf, half precision, float64, input and output of
different shapes, per-head norms, bins on and next to every edge.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from transformers import Qwen3Config, Qwen3ForCausalLM

from attnwidgets.norm_records import TensorSummary, lower_median
from attnwidgets.recording.norms import affine_parameters, record_norms
from attnwidgets.recording.norms.histogram import (
    HISTOGRAM_SAMPLE,
    Workspace,
    sample_step,
)
from attnwidgets.recording.norms.pending import median_abs, median_abs_host
from attnwidgets.recording.norms.summaries import _measure, finish, summarize_many, to_host

FIELDS = ("lo", "hi", "nan", "posinf", "neginf", "elements", "sampled", "sample_step")
FIELDS += ("mean", "std", "abs_max", "median_abs")
ARRAYS = ("counts", "token_mean", "token_std", "token_rms", "outliers")


def both_paths(tensors: list[torch.Tensor], **options: object) -> list[list[TensorSummary]]:
    """The summaries by the CPU (numpy) path and by the any-device (torch) path."""
    settings: dict[str, object] = {"bins": 64, "value_range": None, "limit": 8192}
    settings.update(options)
    floats = [t.detach().float() if t.dtype != torch.float64 else t for t in tensors]
    found = []
    for in_place in (True, False):
        measured = _measure(
            floats,
            settings["bins"],  # type: ignore[arg-type]
            settings["value_range"],  # type: ignore[arg-type]
            settings["limit"],  # type: ignore[arg-type]
            ratio=100.0,
            max_outliers=8,
            details=bool(settings.get("details", True)),
            work=Workspace(),
            in_place=in_place,
        )
        found.append(finish([measured])[0])
    return found


def assert_same(one: TensorSummary, other: TensorSummary) -> None:
    for name in FIELDS:
        a, b = getattr(one, name), getattr(other, name)
        assert a == b or (math.isnan(a) and math.isnan(b)), name
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(one, name), getattr(other, name), err_msg=name)


def assert_like_numpy(summary: TensorSummary, values: np.ndarray) -> None:
    """Counts of exactly the sampled elements, and every statistic, as numpy computes them."""
    flat = values.reshape(-1).astype(np.float64)
    picked = flat[:: summary.sample_step]
    picked = picked[np.isfinite(picked)]
    want, _ = np.histogram(picked, bins=summary.bins, range=(summary.lo, summary.hi))
    np.testing.assert_array_equal(summary.counts, want)
    ref = TensorSummary.from_numpy(values, bins=summary.bins, value_range=(summary.lo, summary.hi))
    assert (summary.nan, summary.posinf, summary.neginf) == (ref.nan, ref.posinf, ref.neginf)
    for name in ("mean", "std", "abs_max"):
        assert getattr(summary, name) == pytest.approx(
            getattr(ref, name), rel=1e-5, abs=1e-6, nan_ok=True
        )
    if summary.token_mean.size:
        # float32 row sums are exact to ~1e-7 of the row's RMS, not of its mean; rows holding
        # Inf are left out: the capture gives NaN there where numpy may give +-Inf (as before
        # these fast paths; both paths agree, see assert_same)
        rows = np.isfinite(ref.token_rms)
        scale = 1e-5 * ref.token_rms[rows] + 1e-6
        for name in ("token_mean", "token_std", "token_rms"):
            got, want = getattr(summary, name)[rows], getattr(ref, name)[rows]
            assert (np.abs(got - want) <= scale).all(), name


def pairs() -> dict[str, list[torch.Tensor]]:
    generator = torch.Generator().manual_seed(3)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator)

    layer_norm = torch.nn.LayerNorm(96)
    x = randn(2, 40, 96) * 3 + 0.5
    with_nan = randn(1, 12, 32)
    with_nan[0, 3, 5] = float("nan")
    with_nan[0, 7, 1] = float("inf")
    with_nan[0, 9, 2] = float("-inf")
    offset = randn(1, 6, 32) * 1e-3
    offset[0, :3] += 1000.0  # E[x^2] - E[x]^2 cancels: exact float64 rows
    offset[0, 3] = 2.5
    spike = randn(1, 9, 32)
    spike[0, 4, 17] = 2000.0
    return {
        "layernorm in and out": [x, layer_norm(x).detach()],
        "above the sample": [randn(1, 300, 96), randn(1, 300, 96) * 4],
        "input with nan and inf": [with_nan, torch.nan_to_num(with_nan, 0.0, 50.0, -50.0)],
        "both non-finite": [with_nan, with_nan * 2],
        "different shapes": [randn(1, 9, 32), randn(1, 9, 16) + 3],
        "per-head [batch, tokens, heads, dim]": [randn(2, 7, 3, 8), randn(2, 7, 3, 8).abs()],
        "float16": [(randn(1, 20, 64) * 300).half(), randn(1, 20, 64).half()],
        "bfloat16": [(randn(1, 20, 64) * 7).bfloat16(), randn(1, 20, 64).bfloat16()],
        "float64": [randn(1, 20, 64).double(), randn(1, 20, 64).double() * 1e-3],
        "float32 and float64": [randn(1, 20, 64), randn(1, 20, 64).double()],
        "large offset and a constant row": [offset, offset - 1000.0],
        "an outlier": [spike, spike],
        "transposed (not contiguous)": [randn(48, 3).t(), randn(3, 48)],
        "2-D and 1-D": [randn(5, 24), randn(24)],
    }


@pytest.mark.parametrize("name", sorted(pairs()))
def test_cpu_and_any_device_paths_agree_and_equal_numpy(name: str) -> None:
    tensors = pairs()[name]
    for options in ({}, {"bins": 50}, {"limit": 500}, {"limit": None}, {"details": False}):
        on_cpu, anywhere = both_paths(tensors, **options)
        for one, other, tensor in zip(on_cpu, anywhere, tensors, strict=True):
            assert_same(one, other)
            assert_like_numpy(one, tensor.detach().double().numpy())


def test_public_entry_point_takes_the_cpu_path_and_equals_numpy() -> None:
    torch.manual_seed(4)
    x = torch.randn(1, 128, 768, requires_grad=True)  # the training monitor: grad enabled
    y = torch.nn.functional.layer_norm(x, (768,))
    work = Workspace()
    for _ in range(2):  # the second call reuses the workspace's buffers
        summaries = summarize_many([x, y], bins=64, limit=8192, workspace=work)
        on_cpu, anywhere = both_paths([x, y])
        for summary, expected, other in zip(summaries, on_cpu, anywhere, strict=True):
            assert_same(summary, expected)
            assert_same(summary, other)
        for summary, tensor in zip(summaries, (x, y), strict=True):
            assert_like_numpy(summary, tensor.detach().numpy())
    assert x.grad is None and y.requires_grad  # nothing joined the graph


def test_tiny_values_next_to_an_edge_at_zero_are_binned_like_numpy() -> None:
    # [-4, 4] in 64 bins puts an edge at 0; -1e-20 - (-4) rounds to 4 in float64, so the
    # guess alone would put -1e-20 in the bin above 0 (bin 32 instead of 31)
    x = torch.tensor([[-4.0, -1e-20, -1e-30, 1e-20, 0.0, 4.0]])
    for on_cpu, anywhere, tensor in zip(*both_paths([x, -x]), (x, -x), strict=True):
        assert_same(on_cpu, anywhere)
        values = tensor.numpy().astype(np.float64)
        assert on_cpu.counts[31] == (values < 0).sum() - 1  # all negatives but -4 (bin 0)
        np.testing.assert_array_equal(on_cpu.counts, np.histogram(values, 64, (-4, 4))[0])
    for summary, tensor in zip(summarize_many([x, -x], bins=64), (x, -x), strict=True):
        assert_like_numpy(summary, tensor.numpy())


def test_median_on_the_host_equals_the_device_and_numpy() -> None:
    samples = [
        np.array([-3.0, 1.0, np.nan, 2.0], np.float32),
        np.array([np.nan, np.nan], np.float32),
        np.zeros(0, np.float32),
        np.array([np.inf, -1.0, -np.inf], np.float32),
        np.random.default_rng(0).normal(size=1001).astype(np.float32),
    ]
    for sample in samples:
        on_device = float(median_abs([torch.from_numpy(sample)])[0])
        on_host = median_abs_host(sample)
        want = lower_median(np.abs(sample)) if sample.size else 0.0
        if np.isnan(sample).all() and sample.size:
            assert math.isnan(on_host) and math.isnan(on_device)
        else:
            assert on_host == on_device == want
    finite = samples[-1]
    assert median_abs_host(finite, finite=True) == lower_median(np.abs(finite))


def test_results_reach_the_host_the_same_in_place_or_in_one_copy() -> None:
    found = {
        "counts": torch.tensor([[3, 0], [1, 2]]),
        "moments": torch.tensor([[0.25, 1.5], [2.0, 3.0]]),
        "exact": torch.tensor([1e-300, 2.0], dtype=torch.float64),
    }
    in_place = to_host(found, in_place=True)
    copied = to_host(found, in_place=False)
    for name, tensor in found.items():
        np.testing.assert_array_equal(in_place[name], tensor.numpy())
        np.testing.assert_array_equal(copied[name], tensor.double().numpy())
        assert copied[name].shape == tuple(tensor.shape)


def test_affine_parameters_are_copies_of_the_weights_at_the_time() -> None:
    norm = torch.nn.LayerNorm(6)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    want_gamma = norm.weight.detach().numpy().copy()
    gamma, beta = affine_parameters(norm)
    with torch.no_grad():  # a training step later
        norm.weight.add_(1.0)
        norm.bias.mul_(-1.0)
    np.testing.assert_array_equal(gamma, want_gamma)
    assert beta is not None and not np.shares_memory(beta, norm.bias.detach().numpy())
    half = torch.nn.RMSNorm(5).to(torch.bfloat16)
    with torch.no_grad():
        half.weight.copy_(torch.tensor([0.5, 1.25, -2.0, 3.0, 1e-3]))
    gamma, beta = affine_parameters(half)
    assert gamma is not None and gamma.dtype == np.float32 and beta is None
    np.testing.assert_array_equal(gamma, half.weight.float().detach().numpy())


def test_capture_of_a_model_records_what_numpy_computes_on_the_raw_tensors() -> None:
    torch.manual_seed(6)
    model = torch.nn.Sequential(
        torch.nn.Linear(16, 48), torch.nn.LayerNorm(48), torch.nn.Linear(48, 48)
    )
    model.append(torch.nn.RMSNorm(48))
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad(), record_norms(model, keep_raw=True, subsample=1000) as norms:
        model(torch.randn(3, 70, 16, generator=generator))
        model(torch.randn(3, 70, 16, generator=generator) * 1e3)  # other magnitudes
    assert len(norms.record) == 4
    for layer in norms.record:
        for side, raw in ((layer.input, layer.raw_input), (layer.output, layer.raw_output)):
            assert side.sample_step == sample_step(raw.size, 1000, 48) > 1
            assert_like_numpy(side, raw)
            assert side.median_abs == pytest.approx(
                lower_median(np.abs(raw[0])[:, :].reshape(-1)[:: _median_step(raw)]), rel=1e-6
            )


def _median_step(raw: np.ndarray) -> int:
    return sample_step(raw[0].size, 1 << 10, raw.shape[-1])


def test_a_forward_pass_finished_together_equals_each_call_alone() -> None:
    # Qwen3 has per-head norms [batch, tokens, heads, dim] beside [batch, tokens, hidden] ones
    config = Qwen3Config(
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        hidden_size=16,
        head_dim=8,
        intermediate_size=32,
        vocab_size=40,
    )
    model = Qwen3ForCausalLM(config).eval()
    with torch.no_grad(), record_norms(model, keep_raw=True) as norms:
        model(input_ids=torch.tensor([[3, 9, 4, 7, 1, 12, 5]]))
        model(input_ids=torch.tensor([[5, 2, 8]]))  # other lengths: other groups
    shapes = {layer.shape for layer in norms.record}
    assert len(norms.record) == 2 * 9 and len(shapes) == 6  # 2 layers x 4 norms + 1, twice
    for layer in norms.record:
        tensors = [torch.from_numpy(layer.raw_input), torch.from_numpy(layer.raw_output)]
        alone = summarize_many(tensors, bins=64, limit=HISTOGRAM_SAMPLE)
        assert_same(layer.input, alone[0])
        assert_same(layer.output, alone[1])
        assert_like_numpy(layer.input, layer.raw_input)


def test_one_recorder_serves_inference_mode_no_grad_and_training() -> None:
    # buffers kept from a call in inference mode must still serve calls outside it
    torch.manual_seed(5)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.LayerNorm(16))
    with record_norms(model, keep_raw=True) as norms:
        with torch.inference_mode():
            model(torch.randn(2, 5, 8))
        with torch.no_grad():
            model(torch.randn(2, 5, 8) * 3)
        model(torch.randn(2, 5, 8, requires_grad=True)).sum().backward()
        with torch.inference_mode():
            model(torch.randn(2, 5, 8) - 1)
    assert len(norms.record) == 4
    for layer in norms.record:
        for side, raw in ((layer.input, layer.raw_input), (layer.output, layer.raw_output)):
            assert_like_numpy(side, raw)
    assert all(p.grad is not None for p in model.parameters())


def test_empty_tensors_give_empty_summaries() -> None:
    empty, other = torch.zeros(0, 8), torch.randn(3, 8)
    for on_cpu, anywhere in zip(*both_paths([empty, other]), strict=True):
        assert_same(on_cpu, anywhere)
    summary = both_paths([empty])[0][0]
    assert summary.counts.sum() == 0 and summary.elements == 0
    assert math.isnan(summary.mean) and summary.token_mean.size == 0
