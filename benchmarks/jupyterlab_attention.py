"""The attention explorer timed inside JupyterLab, beside the standalone page (issue 4's targets).

JupyterLab starts on a free local port (the e2e tests' ``running_jupyterlab``), headless
Chromium opens a notebook that makes GPT-2-small-shaped attention (12 layers x 12 heads at
1,024 tokens: synthetic, or ``--source gpt2``: a GPT-2-small model built from config with
random weights, captured by ``aw.wrap``) and one 8,192-token head, and runs its cells one by one
with Shift+Enter, as a person would. In the page a MutationObserver notes every time a view's
root says it drew (``data-state="ready"`` with its layer and head, as in browser_attention.py);
the time is taken at the next animation frame. Figures:

- first paint: from the kernel starting the cell (``time.time()`` before ``AttentionView(...)``),
  from ``display()`` in that cell, and from the Shift+Enter key press, to the painted heatmap
  (page and kernel share the machine's clock);
- switches, ``--pause`` ms apart (median): arrow keys on the layer/head sliders (jslinked, no
  kernel in the loop unless a tile is missing), arrow keys on the focused view, and the kernel
  setting ``view.layer`` / ``view.head`` (a thread, so the kernel stays free to answer the tile
  requests; it jumps to heads not shown before).

The standalone page (browser_attention.py: the same bundle, the kernel side over HTTP) is
measured in the same run, same data and window size, and printed beside it.

Run: ``python benchmarks/jupyterlab_attention.py [--steps 11] [--pause 150] [--source gpt2]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
from pathlib import Path
from typing import Any

import nbformat
from attention_bench_shared import CHROMIUM_ARGS, synthetic, versus_target
from browser_attention import Kernel, measure_attnwidgets
from jupyterlab_page import LabNotebook, open_notebook, running_jupyterlab

BENCH = Path(__file__).resolve().parent
VIEWPORT = {"width": 1200, "height": 900}


def notebook_cells(source: str) -> list[str]:
    """Setup, data, display (timed), kernel walk, long data, display (timed), stamps."""
    setup = f"""\
import json, sys, threading, time
sys.path.insert(0, {str(BENCH)!r})
from IPython.display import display
import attnwidgets as aw
from attention_bench_shared import synthetic
stamps = {{}}"""
    if source == "gpt2":
        data = """\
import torch
from transformers import GPT2Config, GPT2LMHeadModel
torch.manual_seed(0)
model = GPT2LMHeadModel(GPT2Config()).eval()  # GPT-2 small: 12 x 12, random weights
data = aw.wrap(model)(input_ids=torch.randint(0, 50257, (1, 1024)))  # a Run
tokens = None"""
    else:
        data = """\
data = synthetic(12, 12, 1024)
tokens = [f"tok{i}" for i in range(1024)]"""
    walk = """\
def walk(view, steps, pause):
    stamps["walk"] = []
    for layer, head in steps:
        time.sleep(pause)
        stamps["walk"].append(time.time() * 1e3)
        with view.hold_sync():  # one message: no in-between head is drawn
            view.layer, view.head = layer, head

threading.Thread(target=walk, args=(view, WALK, PAUSE)).start()"""
    long_data = """\
data = synthetic(1, 1, 8192)
tokens = [f"tok{i}" for i in range(8192)]"""
    return [setup, data, display_cell("1024"), walk, long_data, display_cell("8192"),
            'print("STAMPS", json.dumps(stamps))']  # fmt: skip


def display_cell(name: str) -> str:
    return f"""\
stamp = {{"cell": time.time() * 1e3}}
view = aw.AttentionView(data, tokens)
box = aw.attention_explorer(view)
stamp["display"] = time.time() * 1e3
stamps.setdefault({name!r}, []).append(stamp)
display(box)"""


def cold_targets(steps: int, layers: range, seed: int = 0) -> list[tuple[int, int]]:
    """Up to ``steps`` heads in ``layers`` whose tiles nothing fetched before, in random order.

    The key walks show layers 0 and 11 and heads 0 and 11 and prefetch their neighbours (layers
    1 and 10, heads 1 and 10); a new head prefetches (layer, head +- 1) and (layer +- 1, head),
    so the targets are the black squares of a checkerboard over heads 2..9: no two neighbours.

    Example:
        >>> targets = cold_targets(99, range(2, 6))
        >>> len(targets), all(abs(a - c) + abs(b - d) != 1 for a, b in targets for c, d in targets)
        (16, True)
    """
    pairs = [(layer, head) for layer in layers for head in range(2, 10) if (layer + head) % 2 == 0]
    random.Random(seed).shuffle(pairs)
    return pairs[:steps]


# Clicks on thumbnails in layers 2-5; the kernel's walk in layers 7-9 (layer 6 is prefetched
# by clicks on layer 5, layer 10 by the key walks).
CLICK_TARGETS = cold_targets(16, range(2, 6))
KERNEL_TARGETS = cold_targets(12, range(7, 10))


def measure_lab(args: argparse.Namespace, playwright: Any) -> dict[str, Any]:
    base = Path(tempfile.mkdtemp(prefix="aw-lab-bench-"))
    root = base / "root"
    root.mkdir()
    cells = notebook_cells(args.source)
    walk = KERNEL_TARGETS
    cells[3] = f"WALK, PAUSE = {walk!r}, {args.kernel_pause / 1e3}\n" + cells[3]
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)",
                                       "language": "python", "name": "python3"}  # fmt: skip
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(notebook, root / "bench.ipynb")
    with running_jupyterlab(base, root) as lab:
        context = playwright.chromium.launch_persistent_context(
            str(base / "chromium-profile"), executable_path="/usr/bin/chromium", headless=True,
            args=CHROMIUM_ARGS, viewport=VIEWPORT,
        )  # fmt: skip
        try:
            page = context.pages[0] if context.pages else context.new_page()
            open_notebook(page, lab, "bench.ipynb")
            return run_notebook(LabNotebook(page), args, walk)
        finally:
            context.close()


def run_notebook(
    nb: LabNotebook, args: argparse.Namespace, walk: list[tuple[int, int]]
) -> dict[str, Any]:
    """Cells in order; between them, the key presses and the kernel's walk (cell 2's view)."""
    nb.run_and_wait(0)
    nb.run_and_wait(1)
    paints = [nb.first_paint(2) for _ in range(args.repeat)]  # each run: a new view
    head_slider = nb.cell(2).locator(".attnwidgets-head-slider .noUi-handle").first
    layer_slider = nb.cell(2).locator(".attnwidgets-layer-slider .noUi-handle").first
    view = nb.cell(2).locator(".attnwidgets-attention").first
    steps = min(args.steps, 11)
    slider = nb.key_switches(2, head_slider, "ArrowRight", (0, 1), steps, args.pause)
    slider += nb.key_switches(2, layer_slider, "ArrowRight", (1, 0), steps, args.pause)
    keys = nb.key_switches(2, view, "ArrowLeft", (0, -1), steps, args.pause)
    keys += nb.key_switches(2, view, "ArrowUp", (-1, 0), steps, args.pause)
    clicks = nb.click_switches(2, CLICK_TARGETS, (12, 12), args.pause)
    started = nb.run_and_wait(3)
    last = walk[-1]
    nb.drawn(2, last[0], last[1], started)
    nb.run_and_wait(4)
    long_paints = [nb.first_paint(5) for _ in range(args.repeat)]
    nb.run_and_wait(6)
    text = nb.cell(6).locator(".jp-OutputArea-output").first.inner_text()
    stamps = json.loads(text.split("STAMPS", 1)[1])
    kernel, arrived = nb.kernel_switches(2, walk, stamps["walk"])
    return {
        "1024": first_paint_figures(paints, stamps["1024"]),
        "8192": first_paint_figures(long_paints, stamps["8192"]),
        "slider": slider,
        "view_keys": keys,
        "clicks": clicks,
        "kernel": kernel,
        "kernel_arrived": arrived,
        "tile_round_trips": nb.tile_round_trips(),
    }


def first_paint_figures(
    paints: list[dict[str, float]], stamps: list[dict[str, float]]
) -> dict[str, list[float]]:
    """Per run of a display cell: ms from the kernel's cell start, from ``display()`` and from
    Shift+Enter to the painted heatmap."""
    pairs = list(zip(paints, stamps, strict=True))
    return {
        "from_cell_ms": [paint["frame_ms"] - stamp["cell"] for paint, stamp in pairs],
        "from_display_ms": [paint["frame_ms"] - stamp["display"] for paint, stamp in pairs],
        "from_enter_ms": [paint["frame_ms"] - paint["pressed_ms"] for paint, _ in pairs],
    }


def measure_standalone(args: argparse.Namespace, playwright: Any) -> dict[str, Any]:
    """browser_attention.py's page on the same data and window size, in this run."""
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
    try:
        context = browser.new_context(viewport=VIEWPORT)
        kernel = Kernel()
        steps = 2 * min(args.steps, 11)
        out: dict[str, Any] = {}
        data_1024 = synthetic(12, 12, 1024)
        for n, data in (("1024", data_1024), ("8192", synthetic(1, 1, 8192))):
            runs = [measure_attnwidgets(context, kernel, f"{n}-{r}", data, 0)
                    for r in range(args.repeat - 1)]  # fmt: skip
            last = measure_attnwidgets(context, kernel, n, data, steps if n == "1024" else 0,
                                       int(args.pause))  # fmt: skip
            out[n] = {**last, "first_paint_ms": [r["first_paint_ms"] for r in [*runs, last]]}
        cold = measure_attnwidgets(context, kernel, "cold", data_1024, 0, int(args.pause),
                                   cold=CLICK_TARGETS)  # fmt: skip
        out["1024"]["switch_cold_median_ms"] = cold["switch_cold_median_ms"]
        kernel.httpd.shutdown()
        return out
    finally:
        browser.close()


def median(values: list[float]) -> float | None:
    finite = [v for v in values if v == v and v != float("inf")]
    return round(statistics.median(finite), 1) if finite else None


def print_table(lab: dict[str, Any], alone: dict[str, Any], args: argparse.Namespace) -> None:
    short = {key: median(values) for key, values in lab["1024"].items()}
    long = {key: median(values) for key, values in lab["8192"].items()}
    page_paint = {n: median(alone[n]["first_paint_ms"]) for n in ("1024", "8192")}
    rows = [  # measurement, tokens, in JupyterLab, in the standalone page, target
        ("first paint, cell start -> painted", 1024, short["from_cell_ms"],
         page_paint["1024"], "first_paint_1024"),
        ("first paint, display() -> painted", 1024, short["from_display_ms"], None,
         "first_paint_1024"),
        ("first paint, Shift+Enter -> painted", 1024, short["from_enter_ms"], None,
         "first_paint_1024"),
        ("switch: slider arrow keys (median)", 1024, median(lab["slider"]),
         alone["1024"]["switch_paused_median_ms"], "switch_1024"),
        ("switch: arrow keys on the view (median)", 1024, median(lab["view_keys"]), None,
         "switch_1024"),
        ("switch: click a model-overview thumbnail (median)", 1024, median(lab["clicks"]),
         alone["1024"]["switch_cold_median_ms"], "switch_1024"),
        ("switch: kernel sets view.layer/head (median)", 1024, median(lab["kernel"]),
         alone["1024"]["switch_cold_median_ms"], "switch_1024"),
        ("... of which the change reaching the view", 1024, median(lab["kernel_arrived"]), None,
         "switch_1024"),
        ("one tile, none before it: request_tile sent -> reply (median)", 1024,
         median(lab["tile_round_trips"]["alone"]), None, "switch_1024"),
        ("one tile, queued behind prefetches too (median)", 1024,
         median(lab["tile_round_trips"]["all"]), None, "switch_1024"),
        ("first paint, 1 head, cell start -> painted", 8192, long["from_cell_ms"],
         page_paint["8192"], "first_paint_8192"),
        ("first paint, 1 head, display() -> painted", 8192, long["from_display_ms"], None,
         "first_paint_8192"),
        ("first paint, 1 head, Shift+Enter -> painted", 8192, long["from_enter_ms"], None,
         "first_paint_8192"),
    ]  # fmt: skip
    print(
        f"\nGPT-2-small shape ({args.source} attention), 12 x 12 heads; key switches "
        f"{args.pause:.0f} ms apart, kernel switches {args.kernel_pause:.0f} ms apart"
    )
    print("| measurement | tokens | JupyterLab | standalone page | JupyterLab vs target |")
    print("|---|---|---|---|---|")
    for name, tokens, in_lab, in_page, target in rows:
        ratio = versus_target(in_lab, target)
        print(f"| {name} | {tokens} | {as_ms(in_lab)} | {as_ms(in_page)} | {ratio} |")
    missing = sum(v != v for v in lab["kernel"])
    notes = [
        f"First paints: median of {args.repeat} runs in each place. Switches: "
        f"{len(lab['slider'])} by slider keys, {len(lab['view_keys'])} by keys on the view, "
        f"{len(lab['clicks'])} by thumbnail clicks, "
        f"{len(lab['kernel'])} by the kernel ({missing} overtaken by the next change, left out).",
        "Keys step to a neighbour (prefetched); clicks and the kernel jump to heads not shown "
        "or prefetched before (one tile round trip through the kernel each); each new head also "
        "prefetches its 4 neighbours, queued in the kernel (tile round trips: "
        f"{len(lab['tile_round_trips']['all'])} in all, {len(lab['tile_round_trips']['alone'])} "
        "with none other on its way).",
        "Standalone page (synthetic attention): first paint = widget state fetched -> painted "
        "(the AttentionView was built before); switch = model.set in the page, "
        f"{args.pause:.0f} ms apart, each to the next head (a neighbour, prefetched: compare "
        "with the key rows), or to the clicks' heads, fetched from the kernel (click and kernel "
        "rows).",
        f"Load average (1 min): {args.load[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the "
        f"end, on {os.cpu_count()} cores; other processes add noise to both columns alike.",
    ]
    print("\n" + "\n".join(notes))


def as_ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=["synthetic", "gpt2"], default="synthetic")
    parser.add_argument("--steps", type=int, default=11, help="switches per series (<= 11)")
    parser.add_argument("--pause", type=float, default=150.0, help="ms between switches")
    parser.add_argument("--kernel-pause", type=float, default=500.0,
                        help="ms between the kernel's view.layer/head changes")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3, help="first paints per size (median)")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args()
    args.load = os.getloadavg()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        alone = measure_standalone(args, playwright)
        print("standalone:", json.dumps(alone), flush=True)
        lab = measure_lab(args, playwright)
        print("jupyterlab:", json.dumps(lab), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"jupyterlab": lab, "standalone": alone}, indent=1))
    print_table(lab, alone, args)


if __name__ == "__main__":
    main()
