"""record_norms: counts, statistics against numpy, the right tensors and parameters, cleanup."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from conftest import edge_values, tiny_bert, tiny_llama_gqa
from transformers import (
    GemmaConfig,
    GemmaForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
    T5Config,
    T5EncoderModel,
)

import attnwidgets as aw
from attnwidgets.norm_records import TensorSummary
from attnwidgets.recording.norms import NoNormModulesError, record_norms, summarize
from attnwidgets.recording.norms.histogram import (
    HISTOGRAM_SAMPLE,
    Workspace,
    histogram,
    sample_step,
)
from attnwidgets.recording.norms.summaries import summarize_many

IDS = torch.tensor([[3, 9, 4, 7, 1, 12, 5]])


def tiny_t5() -> torch.nn.Module:
    config = T5Config(num_layers=2, d_model=16, d_kv=8, num_heads=2, d_ff=32, vocab_size=40)
    return T5EncoderModel(config).eval()


def tiny_qwen3() -> torch.nn.Module:
    config = Qwen3Config(
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        hidden_size=16,
        head_dim=8,
        intermediate_size=32,
        vocab_size=40,
    )
    return Qwen3ForCausalLM(config).eval()


def tiny_gemma() -> torch.nn.Module:
    config = GemmaConfig(
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        hidden_size=16,
        head_dim=8,
        intermediate_size=32,
        vocab_size=40,
    )
    model = GemmaForCausalLM(config).eval()
    with torch.no_grad():  # Gemma initialises weight to 0 (scale 1 + weight): make it visible
        for module in model.modules():
            if type(module).__name__ == "GemmaRMSNorm":
                module.weight.normal_(0.0, 0.3)
    return model


FAMILIES = {
    "bert": (tiny_bert, "layernorm", "BertModel"),
    "llama": (tiny_llama_gqa, "rmsnorm", "LlamaRMSNorm"),
    "t5": (tiny_t5, "rmsnorm", "T5LayerNorm"),
    "qwen3": (tiny_qwen3, "rmsnorm", "Qwen3RMSNorm"),
    "gemma": (tiny_gemma, "rmsnorm", "GemmaRMSNorm"),
}


def captured(model: torch.nn.Module, **options: object) -> object:
    with torch.no_grad(), record_norms(model, keep_raw=True, **options) as norms:  # type: ignore[arg-type]
        model(input_ids=IDS)
    return norms.record


def module_by_name(model: torch.nn.Module, name: str) -> torch.nn.Module:
    return dict(model.named_modules())[name]


def reference_norm(module: torch.nn.Module, kind: str, x: np.ndarray, gamma, beta) -> np.ndarray:
    """The norm formula by hand in float64, with the module's own epsilon."""
    eps = getattr(module, "eps", None)
    if eps is None:
        eps = module.variance_epsilon
    x = x.astype(np.float64)
    if kind == "layernorm":
        centred = x - x.mean(-1, keepdims=True)
        normed = centred / np.sqrt((centred**2).mean(-1, keepdims=True) + eps)
    else:
        normed = x / np.sqrt((x**2).mean(-1, keepdims=True) + eps)
    out = normed * gamma
    return out + beta if beta is not None else out


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_norm_is_found_and_its_tensors_and_parameters_are_the_right_ones(
    family: str,
) -> None:
    factory, kind, _ = FAMILIES[family]
    model = factory()
    record = captured(model)
    expected = [name for name, m in model.named_modules() if type(m).__name__.endswith("Norm")]
    expected += [name for name, m in model.named_modules() if isinstance(m, torch.nn.LayerNorm)]
    assert sorted(set(record.layer_names)) == sorted(set(expected))
    for layer in record:
        assert layer.kind == kind
        module = module_by_name(model, layer.name)
        # Independent check: the recorded output is the norm formula applied to the recorded
        # input with the recorded gamma/beta (so both tensors and parameters are the real ones).
        want = reference_norm(module, kind, layer.raw_input, layer.gamma, layer.beta)
        np.testing.assert_allclose(layer.raw_output, want, rtol=1e-4, atol=1e-5)
    if family == "gemma":
        norm = module_by_name(model, record[0].name)
        np.testing.assert_allclose(record[0].gamma, 1.0 + norm.weight.detach().numpy(), rtol=1e-6)
    if family == "qwen3":
        q_norm = next(layer for layer in record if layer.name.endswith("q_norm"))
        assert q_norm.shape == (1, IDS.shape[1], 2, 8)  # per-head: [batch, tokens, heads, dim]
        assert q_norm.input.token_rms.shape == (IDS.shape[1],)


@pytest.mark.parametrize("family", ["bert", "llama", "t5"])
def test_statistics_equal_numpy_on_the_same_tensors(family: str) -> None:
    record = captured(FAMILIES[family][0](), bins=32)
    for layer in record:
        for side, raw in ((layer.input, layer.raw_input), (layer.output, layer.raw_output)):
            ref = TensorSummary.from_numpy(raw, bins=32, value_range=(side.lo, side.hi))
            assert side.counts.sum() == raw.size == side.elements
            np.testing.assert_array_equal(side.counts, ref.counts)
            for name in ("mean", "std", "abs_max", "median_abs"):
                assert getattr(side, name) == pytest.approx(getattr(ref, name), rel=1e-5, abs=1e-6)
            for name in ("token_mean", "token_std", "token_rms"):
                np.testing.assert_allclose(
                    getattr(side, name), getattr(ref, name), rtol=1e-5, atol=1e-6
                )
        # shared bins: the range covers both sides
        assert layer.input.lo == layer.output.lo and layer.input.hi == layer.output.hi
        low = min(layer.raw_input.min(), layer.raw_output.min())
        assert layer.input.lo == pytest.approx(float(low))


def test_nan_and_inf_are_counted_apart_not_a_crash() -> None:
    x = torch.randn(2, 6, 10)
    x[0, 1, 2] = float("nan")
    x[1, 3, 4] = float("inf")
    x[1, 3, 5] = float("-inf")
    x[0, 4, 0] = float("nan")
    model = torch.nn.Sequential(torch.nn.LayerNorm(10))
    with record_norms(model, keep_raw=True) as norms:
        model(x)
    layer = norms.record[0]
    assert (layer.input.nan, layer.input.posinf, layer.input.neginf) == (2, 1, 1)
    assert layer.input.counts.sum() + layer.input.nonfinite == x.numel()
    # LayerNorm spreads a NaN over its row: count what the output really holds
    out = layer.raw_output
    assert layer.output.nan == int(np.isnan(out).sum()) > 0
    assert layer.output.counts.sum() + layer.output.nonfinite == out.size
    assert np.isfinite([layer.input.lo, layer.input.hi]).all()


def test_all_nan_tensor_gives_empty_histogram_and_a_valid_range() -> None:
    summary = summarize(torch.full((3, 4), float("nan")), bins=8, value_range=(-0.5, 0.5))
    assert summary.counts.sum() == 0 and summary.nan == 12


def test_subsample_bounds_the_histogram_and_keeps_counts_consistent() -> None:
    model = torch.nn.Sequential(torch.nn.LayerNorm(64))
    with record_norms(model, subsample=1000) as norms:
        model(torch.randn(4, 50, 64))
    side = norms.record[0].input
    assert side.elements == 4 * 50 * 64
    assert side.sampled <= 1000
    assert side.counts.sum() == side.sampled
    assert side.token_mean.shape == (50,)  # per-token statistics use every element


def test_massive_activation_is_named_by_token_and_dimension() -> None:
    x = torch.randn(1, 9, 32)
    x[0, 4, 17] = 2000.0
    model = torch.nn.Sequential(torch.nn.LayerNorm(32))
    with record_norms(model) as norms:
        model(x)
    outliers = norms.record[0].input.outliers
    assert outliers.tolist() == [[4.0, 17.0, 2000.0]]


def test_model_is_left_exactly_as_it_was() -> None:
    model = tiny_llama_gqa()
    before = copy.deepcopy(model.state_dict())
    with torch.no_grad():
        plain = model(input_ids=IDS).logits
        with record_norms(model) as norms:
            watched = model(input_ids=IDS).logits
    assert len(norms.record) == 5
    torch.testing.assert_close(watched, plain, rtol=0, atol=0)
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_hooks_with_kwargs
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)


def test_hooks_are_removed_when_the_forward_raises() -> None:
    model = tiny_bert()
    with pytest.raises(IndexError), record_norms(model):
        model(input_ids=torch.tensor([[1, 999]]))  # token id out of the vocabulary
    assert all(not m._forward_hooks for m in model.modules())


def test_model_without_norms_gets_a_clear_error() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
    with (
        pytest.raises(NoNormModulesError, match=r"Sequential has no LayerNorm / RMSNorm"),
        record_norms(model),
    ):
        pass
    with pytest.raises(TypeError, match=r"takes a torch\.nn\.Module"), record_norms("x"):  # type: ignore[arg-type]
        pass


# -- sampling, exact option, numpy-equal bins ----------------------------------------------


def big_layernorm_record(**options: object) -> object:
    """A LayerNorm over 4 x 300 x 64 = 76,800 values: above the default histogram sample."""
    generator = torch.Generator().manual_seed(5)
    x = torch.randn(4, 300, 64, generator=generator) * 2 + 0.5
    x[1, 7, 3] = 40.0  # an outlier in the second sequence: only the range sees it
    model = torch.nn.Sequential(torch.nn.LayerNorm(64))
    with torch.no_grad(), record_norms(model, keep_raw=True, **options) as norms:  # type: ignore[arg-type]
        model(x)
    return norms.record[0]


def test_sampled_histogram_equals_numpy_on_exactly_the_sampled_elements() -> None:
    layer = big_layernorm_record()
    for side, raw in ((layer.input, layer.raw_input), (layer.output, layer.raw_output)):
        flat = raw.reshape(-1)
        assert side.elements == flat.size == 76_800
        assert side.sample_step > 1 and np.gcd(side.sample_step, 64) == 1  # visits every dim
        picked = flat[:: side.sample_step].astype(np.float64)
        assert side.sampled == picked.size <= HISTOGRAM_SAMPLE
        want, _ = np.histogram(picked, bins=side.bins, range=(side.lo, side.hi))
        np.testing.assert_array_equal(side.counts, want)
        # the rest stays exact over every element
        ref = TensorSummary.from_numpy(raw, bins=side.bins, value_range=(side.lo, side.hi))
        for name in ("mean", "std", "abs_max"):
            assert getattr(side, name) == pytest.approx(getattr(ref, name), rel=1e-5, abs=1e-6)
        for name in ("token_mean", "token_std", "token_rms"):
            np.testing.assert_allclose(
                getattr(side, name), getattr(ref, name), rtol=1e-5, atol=1e-6
            )
    both = np.concatenate([layer.raw_input.reshape(-1), layer.raw_output.reshape(-1)])
    assert (layer.input.lo, layer.input.hi) == (float(both.min()), float(both.max()))  # 40.0 in


def test_exact_option_counts_every_element_like_numpy() -> None:
    layer = big_layernorm_record(subsample=None)
    for side, raw in ((layer.input, layer.raw_input), (layer.output, layer.raw_output)):
        assert side.sample_step == 1 and side.sampled == side.elements == raw.size
        want, _ = np.histogram(raw.astype(np.float64), bins=side.bins, range=(side.lo, side.hi))
        np.testing.assert_array_equal(side.counts, want)
        ref = TensorSummary.from_numpy(raw, bins=side.bins, value_range=(side.lo, side.hi))
        assert side.median_abs == pytest.approx(ref.median_abs, rel=1e-6)


def test_exact_option_through_capture() -> None:
    model = tiny_llama_gqa()
    ids = torch.randint(0, 64, (1, 60))
    with torch.no_grad(), aw.capture(model, attention=False, norms={"subsample": None}) as cap:
        model(input_ids=ids)
    assert all(layer.input.sample_step == 1 for layer in cap.norms)
    with torch.no_grad(), aw.capture(model, attention=False, norms={"subsample": 500}) as cap:
        model(input_ids=ids)
    assert all(layer.input.sampled <= 500 < layer.input.elements for layer in cap.norms)


def test_nan_and_inf_outside_the_sample_are_still_counted() -> None:
    x = torch.randn(2, 100, 64)
    step = sample_step(x.numel(), 1000, 64)
    flat = x.view(-1)
    flat[step * 10 + 1] = float("nan")  # between two sampled elements
    flat[step * 20 + 2] = float("inf")
    flat[step * 30] = float("-inf")  # this one is sampled
    model = torch.nn.Sequential(torch.nn.LayerNorm(64))
    with record_norms(model, subsample=1000) as norms:
        model(x)
    side = norms.record[0].input
    assert side.sample_step == step
    assert (side.nan, side.posinf, side.neginf) == (1, 1, 1)
    assert side.counts.sum() == side.sampled - 1  # only the -inf was in the sample
    assert np.isfinite([side.lo, side.hi, side.mean, side.std]).all()


@pytest.mark.parametrize("bins", [64, 50, 7])
def test_histogram_bins_equal_numpy_on_and_next_to_every_edge(bins: int) -> None:
    rng = np.random.default_rng(bins)
    for _ in range(50):
        base = (rng.normal(size=500) * 10.0 ** rng.uniform(-3, 3)).astype(np.float32)
        lo, hi = float(base.min()), float(base.max())
        values = edge_values(bins, lo, hi, base, inside=False)
        want, _ = np.histogram(values.astype(np.float64), bins=bins, range=(lo, hi))
        got = histogram(torch.from_numpy(values), bins, lo, hi)
        np.testing.assert_array_equal(got.numpy(), want)
    doubles = torch.tensor([0.1, 0.2, 0.30000000000000004, 0.7], dtype=torch.float64)
    want, _ = np.histogram(doubles.numpy(), bins=bins, range=(0.1, 0.7))
    np.testing.assert_array_equal(histogram(doubles, bins, 0.1, 0.7).numpy(), want)


def test_rows_with_a_large_offset_or_no_spread_keep_exact_statistics() -> None:
    x = torch.randn(1, 6, 32) * 1e-3
    x[0, :3] += 1000.0  # mean far above the spread: E[x^2] - E[x]^2 would cancel
    x[0, 3] = 2.5  # a constant row
    summary = summarize(x, bins=16)
    ref = TensorSummary.from_numpy(x.numpy(), bins=16)
    np.testing.assert_allclose(summary.token_std, ref.token_std, rtol=1e-4, atol=1e-7)
    assert summary.token_std[3] == 0.0
    assert summary.std == pytest.approx(ref.std, rel=1e-6)


def test_one_workspace_serves_calls_of_different_sizes() -> None:
    work = Workspace()
    a, b = torch.randn(3, 50, 16), torch.randn(1, 4, 16)
    alone = [summarize(t, bins=8) for t in (a, b, a)]
    shared = [summarize_many([t], bins=8, workspace=work)[0] for t in (a, b, a)]
    for one, other in zip(alone, shared, strict=True):
        np.testing.assert_array_equal(one.counts, other.counts)
        assert (one.mean, one.std) == (other.mean, other.std)
