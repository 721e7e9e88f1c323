"""Capture overhead against a plain sdpa forward, and bytes sent for the first view.

GPT-2-small shape (12 layers x 12 heads, d=768) built from config, one CPU thread. Each
configuration is timed interleaved with the baseline in the same run; we print medians and the
ratio of medians. Run: ``python benchmarks/capture_overhead.py [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from functools import partial

import torch
from transformers import GPT2Config, GPT2Model

import attnwidgets as aw


def gpt2_small(implementation: str = "sdpa") -> GPT2Model:
    torch.manual_seed(0)
    config = GPT2Config(n_layer=12, n_head=12, n_embd=768, n_positions=1024)
    model = GPT2Model(config).eval()
    model.set_attn_implementation(implementation)
    return model


def median_seconds(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Interleave the candidates so that machine noise hits all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for fn in runs.values():  # warm up
        fn()
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.process_time()
            fn()
            times[name].append(time.process_time() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def first_view_bytes(run: aw.Run) -> dict[str, int]:
    """What the browser receives when the view is displayed: binary buffers plus JSON state."""
    view = aw.AttentionView(run)
    state = view.get_state()
    binary = sum(len(v) for v in state.values() if isinstance(v, (bytes, memoryview)))
    text = {k: v for k, v in state.items() if not isinstance(v, (bytes, memoryview))}
    esm = len(str(text.pop("_esm", "")))
    return {"binary": binary, "json": len(json.dumps(text)), "js_module": esm}


def forward(model: torch.nn.Module, **inputs: object) -> object:
    with torch.no_grad():
        return model(**inputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--tokens", type=int, nargs="+", default=[128, 512])
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, eager = gpt2_small("sdpa"), gpt2_small("eager")
    lens = aw.wrap(model)
    print(f"GPT-2-small shape from config, 1 thread, CPU time, median of {args.repeats}")
    for tokens in args.tokens:
        ids = torch.randint(0, 50257, (1, tokens))

        runs = {
            "plain sdpa": partial(forward, model, input_ids=ids),
            "attnwidgets": partial(lens, input_ids=ids),
            "HF eager": partial(forward, eager, input_ids=ids, output_attentions=True),
        }
        medians = median_seconds(runs, args.repeats)
        base = medians["plain sdpa"]
        for name, seconds in medians.items():
            ms, ratio = seconds * 1000, seconds / base
            print(f"  {tokens:5d} tokens  {name:12s} {ms:8.1f} ms  {ratio:5.2f}x")
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
