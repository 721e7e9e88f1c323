"""Capture overhead against a plain sdpa forward, and bytes sent for the first view.

GPT-2-small shape (12 layers x 12 heads, d=768) built from config, one CPU thread. Each
configuration is timed interleaved with the baseline in the same run; we print medians, the
ratio of medians, and the median of the per-round ratios to the baseline with its quartiles
("paired": each round runs every candidate back to back, so slow drifts cancel). Compared:
plain sdpa forward; capture of attention (outputs bit-identical:
sdpa runs and the weights are recomputed beside it); attention with ``reuse_weights=True``
(outputs computed from the recorded weights, within 1e-6 of sdpa); norms; attention + norms;
HF eager ``output_attentions``; TransformerLens 2.16 (same shape, random init) forward and
``run_with_cache`` of the attention patterns when it is installed
(``pip install --no-deps -r benchmarks/requirements.txt``).
Run: ``python benchmarks/capture_overhead.py [--repeats 7] [--tokens 128 512]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from functools import partial

import torch
from ipywidgets.widgets.widget import _remove_buffers
from transformers import GPT2Config, GPT2Model

import attnwidgets as aw


def gpt2_small(implementation: str = "sdpa") -> GPT2Model:
    torch.manual_seed(0)
    config = GPT2Config(n_layer=12, n_head=12, n_embd=768, n_positions=1024)
    model = GPT2Model(config).eval()
    model.set_attn_implementation(implementation)
    return model


def timed_rounds(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """CPU seconds of each candidate in each round. The candidates run interleaved, one round
    after another, so that machine noise hits all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for fn in runs.values():  # warm up
        fn()
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.process_time()
            fn()
            times[name].append(time.process_time() - start)
    return times


def paired_ratios(times: dict[str, list[float]], base: str) -> dict[str, tuple[float, ...]]:
    """Each candidate's time over the baseline's in the same round: ``(median, lower
    quartile, upper quartile)`` of those ratios. Slow drifts of a noisy machine cancel out.

    Example:
        >>> paired_ratios({"a": [1.0, 2.0, 1.0], "b": [1.1, 2.2, 1.2]}, "a")["b"]
        (1.1, 1.1, 1.15)
    """
    found = {}
    for name, values in times.items():
        ratios = sorted(v / b for v, b in zip(values, times[base], strict=True))
        low, _, high = statistics.quantiles(ratios, n=4, method="inclusive")
        found[name] = tuple(round(r, 3) for r in (statistics.median(ratios), low, high))
    return found


def first_view_bytes(run: aw.Run) -> dict[str, int]:
    """What the browser receives when the view is displayed: binary buffers plus JSON state."""
    view = aw.AttentionView(run)
    state, _, buffers = _remove_buffers(view.get_state())  # as ipywidgets sends it
    binary = sum(memoryview(b).nbytes for b in buffers)
    esm = len(str(state.pop("_esm", "")))
    return {"binary": binary, "json": len(json.dumps(state)), "js_module": esm}


def forward(model: torch.nn.Module, **inputs: object) -> object:
    with torch.no_grad():
        return model(**inputs)


def captured(model: torch.nn.Module, ids: torch.Tensor, **options: object) -> object:
    with torch.no_grad(), aw.capture(model, **options) as cap:  # type: ignore[arg-type]
        model(input_ids=ids)
    return cap


def kept_bytes(cap: object) -> int:
    """Bytes the capture holds, counting each shared storage once."""
    storages = {}
    for call in cap.calls:  # type: ignore[attr-defined]
        for tensor in call.kept.values():
            storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
    return sum(storages.values())


TRANSFORMER_LENS_INSTALL = "pip install --no-deps -r benchmarks/requirements.txt"


def transformer_lens_runs(ids: torch.Tensor) -> dict[str, Callable[[], object]] | str:
    """TransformerLens on the same shape and tokens: its own forward and ``run_with_cache`` of
    every attention pattern, both without the unembedding (``return_type=None``, as our
    GPT2Model has no LM head); or why it cannot run here."""
    try:
        from transformer_lens import HookedTransformer, HookedTransformerConfig
    except ImportError as error:
        return f"skipped: TransformerLens not importable ({error}); {TRANSFORMER_LENS_INSTALL}"
    torch.manual_seed(0)
    config = HookedTransformerConfig(
        n_layers=12,
        n_heads=12,
        d_model=768,
        d_head=64,
        d_mlp=3072,
        n_ctx=1024,
        d_vocab=50257,
        act_fn="gelu_new",
        normalization_type="LN",
    )
    model = HookedTransformer(config).eval()

    def lens_forward() -> object:
        with torch.no_grad():
            return model(ids, return_type=None)

    def lens_cache() -> object:
        with torch.no_grad():
            return model.run_with_cache(
                ids, return_type=None, names_filter=lambda n: n.endswith("hook_pattern")
            )

    return {"TL forward": lens_forward, "TL run_with_cache": lens_cache}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--tokens", type=int, nargs="+", default=[128, 512])
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help='time only these candidates (and "plain sdpa"), e.g. --only attention norms: '
        "more rounds in the same time on a noisy machine",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, eager = gpt2_small("sdpa"), gpt2_small("eager")
    lens = aw.wrap(model)
    print(f"GPT-2-small shape from config, 1 thread, CPU time, median of {args.repeats}")
    for tokens in args.tokens:
        ids = torch.randint(0, 50257, (1, tokens))

        runs: dict[str, Callable[[], object]] = {
            "plain sdpa": partial(forward, model, input_ids=ids),
            "attention": partial(captured, model, ids),
            "attention reuse": partial(captured, model, ids, reuse_weights=True),
            "norms": partial(captured, model, ids, attention=False, norms=True),
            "attn + norms": partial(captured, model, ids, norms=True),
            "HF eager": partial(forward, eager, input_ids=ids, output_attentions=True),
        }
        lens_runs = transformer_lens_runs(ids)
        if isinstance(lens_runs, dict):
            runs.update(lens_runs)
        if args.only:
            unknown = set(args.only) - set(runs)
            if unknown:
                parser.error(f"unknown candidates {sorted(unknown)}; choose from {list(runs)}")
            runs = {name: fn for name, fn in runs.items() if name in {"plain sdpa", *args.only}}
        times = timed_rounds(runs, args.repeats)
        medians = {name: statistics.median(values) for name, values in times.items()}
        ratios = paired_ratios(times, "plain sdpa")
        for name, seconds in medians.items():
            ms, ratio = seconds * 1000, seconds / medians["plain sdpa"]
            paired, low, high = ratios[name]
            print(
                f"  {tokens:5d} tokens  {name:18s} {ms:8.1f} ms  {ratio:5.2f}x   "
                f"paired {paired:5.3f}x [{low:.3f}-{high:.3f}]"
            )
        if isinstance(lens_runs, dict) and {"TL forward", "TL run_with_cache"} <= set(runs):
            own = medians["TL run_with_cache"] / medians["TL forward"]
            print(f"  {tokens:5d} tokens  TL run_with_cache vs TL forward: {own:.2f}x")
        elif not isinstance(lens_runs, dict):
            print(f"  {tokens:5d} tokens  TransformerLens {lens_runs}")
        attention_bytes = 12 * 12 * tokens * tokens * 4
        held = kept_bytes(captured(model, ids))
        print(
            f"  {tokens:5d} tokens  memory: capture holds {held:,} B for {attention_bytes:,} B "
            f"of attention ({held / attention_bytes:.3f}x)"
        )
        if tokens == max(args.tokens):
            sizes = first_view_bytes(lens(input_ids=ids))
            record = 12 * 12 * tokens * tokens * 4
            print(
                f"  first view at {tokens} tokens: {sizes['binary']:,} B binary + "
                f"{sizes['json']:,} B JSON (+ {sizes['js_module']:,} B JS module, cached); "
                f"full float32 record {record:,} B stays in the kernel"
            )


if __name__ == "__main__":
    main()
