"""Cost of streaming generation into an open AttentionView, as ratios to plain generation.

A GPT-2-small shape (12 layers x 12 heads, d=768) built from config generates greedily from a
prompt, three ways, interleaved in one run (CPU time, one thread, median of the runs):

1. ``model.generate`` alone (no capture),
2. ``lens.generate`` (capture, one record at the end),
3. ``lens.generate(..., view=view)``: after every new token the view gets the attention of the
   tokens fed so far (``set_data``: the grown chunk or first tile, labels, one state update).

Also printed: bytes the view pushes per step (what goes over the websocket in Jupyter; here the
messages are serialised but not sent) and the time per step spent in the view.

Run: ``python benchmarks/generation_streaming.py [--prompt 64] [--new 20] [--runs 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
import torch
from transformers import GPT2Config, GPT2LMHeadModel

import attnwidgets as aw


def cpu_time(fn: Any) -> tuple[float, Any]:
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", type=int, default=64)
    parser.add_argument("--new", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = GPT2Config(n_layer=12, n_head=12, n_embd=768, vocab_size=2048, n_positions=1024,
                        bos_token_id=0, eos_token_id=0)  # fmt: skip
    model = GPT2LMHeadModel(config).eval()
    model.generation_config.pad_token_id = 0
    model.generation_config.eos_token_id = None  # always the full number of steps
    ids = torch.randint(1, 2048, (1, args.prompt))
    lens = aw.wrap(model, norms=False)

    def plain() -> Any:
        with torch.no_grad():
            return model.generate(ids, max_new_tokens=args.new, do_sample=False)

    sent: list[int] = []
    view_time: list[float] = []

    def streamed() -> Any:
        view = aw.AttentionView(lens(input_ids=ids))

        def record(msg: dict[str, Any], buffers: Any = None) -> None:
            sent.append(len(str(msg)) + sum(len(bytes(b)) for b in buffers or []))

        view._send = record  # type: ignore[method-assign]
        original = view.set_data

        def timed(*a: Any, **k: Any) -> None:
            start = time.process_time()
            original(*a, **k)
            view_time.append(time.process_time() - start)

        view.set_data = timed  # type: ignore[method-assign]
        sent.clear()
        view_time.clear()
        return lens.generate(input_ids=ids, max_new_tokens=args.new, view=view)

    ways = {
        "model.generate": plain,
        "lens.generate": lambda: lens.generate(input_ids=ids, max_new_tokens=args.new),
        "lens.generate(view=)": streamed,
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.runs):
        for name, fn in ways.items():
            seconds, _ = cpu_time(fn)
            times[name].append(seconds)
    base = statistics.median(times["model.generate"])
    print(f"GPT-2-small shape, prompt {args.prompt} tokens, {args.new} new tokens, "
          f"{args.runs} runs, CPU time, 1 thread")  # fmt: skip
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:22s} {median:7.2f} s   {median / base:5.2f}x")
    steps = args.new
    print(f"  view: {statistics.median(view_time) * 1e3:.1f} ms per step (median), "
          f"{np.sum(sent) / steps / 1024:.0f} KiB pushed per step "
          f"({np.sum(sent) / 1024:.0f} KiB for {steps} steps)")  # fmt: skip


if __name__ == "__main__":
    main()
