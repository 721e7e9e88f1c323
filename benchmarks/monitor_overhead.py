"""TrainingMonitor cost: time per training step as a ratio to the plain loop, and memory growth.

1. Overhead: a char-level GPT (4 pre-LN layers, d=96, batch 32 x 64 tokens, the notebook's
   model) trains with and without a monitor at the default throttle (10 updates/s). Two copies
   of the model train in interleaved blocks in one run; CPU time per step (process_time, one
   thread) per block, blocks paired in ABBA order; the median of the paired ratios is printed
   (target <= 1.05), with the share of time the monitor itself measured.
2. Memory: a small model trains 5,000 steps with a capture on EVERY step (no throttle: the
   worst case for the history); resident memory after 100 steps vs after 5,000 (target: flat,
   within 50 MB).

Run: ``python benchmarks/monitor_overhead.py [--blocks 8] [--memory-steps 5000]``.
Without a kernel the widget's messages are serialised but not sent over ZMQ.
"""

from __future__ import annotations

import argparse
import copy
import gc
import statistics
import time

import psutil
import torch
import torch.nn.functional as F

from attnwidgets.monitor import TrainingMonitor


class Block(torch.nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1 = torch.nn.LayerNorm(dim)
        self.qkv = torch.nn.Linear(dim, 3 * dim)
        self.proj = torch.nn.Linear(dim, dim)
        self.ln2 = torch.nn.LayerNorm(dim)
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(dim, 4 * dim), torch.nn.GELU(), torch.nn.Linear(4 * dim, dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, d // self.heads).unbind(2)
        y = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True
        )
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.ln2(x))


class CharGPT(torch.nn.Module):
    def __init__(self, vocab: int, dim: int, layers: int, heads: int, context: int) -> None:
        super().__init__()
        self.tokens = torch.nn.Embedding(vocab, dim)
        self.positions = torch.nn.Embedding(context, dim)
        self.blocks = torch.nn.ModuleList(Block(dim, heads) for _ in range(layers))
        self.ln_f = torch.nn.LayerNorm(dim)
        self.head = torch.nn.Linear(dim, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.tokens(ids) + self.positions(torch.arange(ids.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


class Trainer:
    def __init__(self, model: torch.nn.Module, batch: int, context: int, vocab: int) -> None:
        self.model = model
        self.optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
        self.batch, self.context, self.vocab = batch, context, vocab
        self.monitor: TrainingMonitor | None = None

    def step(self) -> None:
        ids = torch.randint(self.vocab, (self.batch, self.context + 1))
        logits = self.model(ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, self.vocab), ids[:, 1:].reshape(-1))
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()
        if self.monitor is not None:
            self.monitor.step(loss=loss)


def overhead(blocks: int, steps_per_block: int) -> dict[str, float]:
    torch.manual_seed(0)
    model = CharGPT(vocab=100, dim=96, layers=4, heads=4, context=64)
    plain = Trainer(model, batch=32, context=64, vocab=100)
    watched = Trainer(copy.deepcopy(model), batch=32, context=64, vocab=100)
    monitor = TrainingMonitor(watched.model)  # defaults: 10/s, 2% time budget
    watched.monitor = monitor
    for trainer in (plain, watched):  # warm up (allocator, optimiser state)
        for _ in range(5):
            trainer.step()
    times: dict[str, list[float]] = {"plain": [], "monitored": []}
    start_seconds = monitor.seconds
    monitored_wall = 0.0
    for block in range(blocks):
        # ABBA order: whichever runs second in a pair gets no systematic advantage.
        pair = [("plain", plain), ("monitored", watched)]
        for name, trainer in pair if block % 2 == 0 else pair[::-1]:
            start, wall = time.process_time(), time.perf_counter()
            for _ in range(steps_per_block):
                trainer.step()
            times[name].append((time.process_time() - start) / steps_per_block)
            if trainer is watched:
                monitored_wall += time.perf_counter() - wall
    monitor.close()
    ratios = [m / p for m, p in zip(times["monitored"], times["plain"], strict=True)]
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {
        **medians,
        "ratio": statistics.median(ratios),
        "share": (monitor.seconds - start_seconds) / monitored_wall,
        "captures": monitor.captures,
        "steps": monitor.steps,
        "ms_per_capture": 1e3 * monitor.seconds / max(1, monitor.captures),
    }


def memory(steps: int) -> dict[str, float]:
    torch.manual_seed(0)
    trainer = Trainer(CharGPT(vocab=50, dim=32, layers=2, heads=2, context=16), 4, 16, 50)
    trainer.monitor = TrainingMonitor(trainer.model, max_updates_per_second=None, time_budget=None)
    process = psutil.Process()
    marks: dict[str, float] = {}
    for step in range(1, steps + 1):
        trainer.step()
        if step in (100, steps):
            gc.collect()
            marks[f"rss_mb_at_{step}"] = process.memory_info().rss / 2**20
    monitor = trainer.monitor
    marks["history_snapshots"] = len(monitor.history)
    marks["history_kb"] = monitor.history.nbytes / 1024
    marks["loss_points"] = len(monitor.view.losses)
    marks["captures"] = monitor.captures
    monitor.close()
    return marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--blocks", type=int, default=40, help="interleaved blocks per loop")
    parser.add_argument("--steps-per-block", type=int, default=5)
    parser.add_argument("--memory-steps", type=int, default=5000)
    args = parser.parse_args()
    torch.set_num_threads(1)

    cost = overhead(args.blocks, args.steps_per_block)
    print("TrainingMonitor overhead (char GPT, d=96, 4 layers, batch 32x64, default throttle)")
    print(f"  plain loop      {cost['plain'] * 1e3:8.2f} ms CPU per step (median)")
    print(f"  with monitor    {cost['monitored'] * 1e3:8.2f} ms CPU per step (median)")
    print(f"  ratio           {cost['ratio']:8.3f}   (median of paired blocks; target <= 1.05)")
    print(f"  monitor's own   {cost['share']:8.1%}   of the monitored loop's time (wall clock)")
    print(
        f"  captures        {cost['captures']:8.0f} in {cost['steps']:.0f} steps, "
        f"{cost['ms_per_capture']:.1f} ms each (summarise + publish, wall clock)"
    )

    mem = memory(args.memory_steps)
    first, last = mem["rss_mb_at_100"], mem[f"rss_mb_at_{args.memory_steps}"]
    print(f"Memory, a capture on every step, {args.memory_steps} steps")
    print(f"  RSS after 100 steps     {first:8.1f} MB")
    print(f"  RSS after {args.memory_steps} steps    {last:8.1f} MB")
    print(f"  growth                  {last - first:8.1f} MB   (target: within 50 MB)")
    print(
        f"  history: {mem['history_snapshots']:.0f} snapshots ({mem['history_kb']:.0f} KB), "
        f"{mem['loss_points']:.0f} loss points, {mem['captures']:.0f} captures"
    )


if __name__ == "__main__":
    main()
