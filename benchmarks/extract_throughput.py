"""Feature extraction and its views: ratios and times that issue 17 asks for.

    python benchmarks/extract_throughput.py            # everything (~5 min on 2 busy cores)
    python benchmarks/extract_throughput.py --no-lab   # without the JupyterLab paint

1. ``aw.extract`` of 4 MiniLM modules, mean-pooled, over 2,000 real texts (prefixes of the
   standard library's source), store writes included, against the plain batched forward
   over the same batches (same tokenizer calls, ``inference_mode``): CPU seconds on one
   thread, runs alternated, best of each; target <= 1.10x.
2. Peak memory (``ru_maxrss``) after 100 inputs and after 2,000 (the same store, resumed) in a
   fresh process: target within 50 MB.
3. PCA of 50,000 x 384 float32 features: target < 2 s.
4. A FeatureMap of 50,000 points (WebGL) in a real JupyterLab: from the moment the view's
   cell returns in the kernel to the first WebGL draw of the 50,000 points in the page (both
   on the machine's clock); target < 1 s. Cold: the first view of the session; warm: the
   next one. The kernel's own time (load 50,000 rows from SQLite, PCA) is printed beside.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import attnwidgets as aw
from attnwidgets.features import pca
from attnwidgets.features.python_source import python_source_snippets

REPO = Path(__file__).resolve().parents[1]
MODULES = ["encoder.layer.0", "encoder.layer.2", "encoder.layer.4", "encoder.layer.5"]
BATCH = 32


def plain_forward(model: Any, tokenizer: Any, texts: list[str]) -> None:
    with torch.inference_mode():
        for start in range(0, len(texts), BATCH):
            enc = tokenizer(texts[start : start + BATCH], padding=True, return_tensors="pt")
            model(**enc)


def cpu(fn: Any) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def throughput(texts: list[str], rounds: int) -> dict[str, Any]:
    model, tokenizer = aw.demo.load_minilm()
    folder = Path(tempfile.mkdtemp(prefix="aw-bench-"))
    plain_forward(model, tokenizer, texts[:64])  # warm up
    times: dict[str, list[float]] = {"plain": [], "sqlite": [], "parquet": []}
    for r in range(rounds):
        times["plain"].append(cpu(lambda: plain_forward(model, tokenizer, texts)))
        for kind in ("sqlite", "parquet"):
            store = folder / f"run{r}.{kind}"
            times[kind].append(cpu(lambda s=store: aw.extract(  # type: ignore[misc]
                model, texts, MODULES, processor=tokenizer, store=s, batch_size=BATCH,
                progress=False)))  # fmt: skip
    best = {k: min(v) for k, v in times.items()}
    return {"cpu_s": best, "ratio_sqlite": best["sqlite"] / best["plain"],
            "ratio_parquet": best["parquet"] / best["plain"], "runs": times}  # fmt: skip


MEMORY_JOB = """
import json, resource, sys, tempfile, torch
import attnwidgets as aw
from attnwidgets.features.python_source import python_source_snippets
torch.set_num_threads(1)
texts, _ = python_source_snippets(int(sys.argv[1]), seed=1)
model, tokenizer = aw.demo.load_minilm()
store = tempfile.mkdtemp() + "/mem.sqlite"
modules = MODULES_HERE
aw.extract(model, texts[:100], modules, processor=tokenizer, store=store, progress=False)
after_100 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
aw.extract(model, texts, modules, processor=tokenizer, store=store, progress=False)
after_all = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"after_100_mb": after_100 / 1024, "after_all_mb": after_all / 1024}))
""".replace("MODULES_HERE", repr(MODULES))


def memory(n: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    out = subprocess.run([sys.executable, "-c", MEMORY_JOB, str(n)], env=env, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    result["growth_mb"] = result["after_all_mb"] - result["after_100_mb"]
    return result


def pca_time(n: int = 50_000, d: int = 384) -> float:
    X = np.random.default_rng(0).normal(size=(n, d)).astype(np.float32)
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        pca(X, 2)
        best = min(best, time.perf_counter() - start)
    return float(best)


SYNTHETIC_STORE = """
import numpy as np
from pathlib import Path
from attnwidgets.features.schema import BatchRows, StoreInfo
from attnwidgets.features.sqlite_store import SQLiteWriter

def synthetic_store(path, n=50_000, d=384, layers=2, classes=10, batch=5000):
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=3.0, size=(layers, classes, d)).astype(np.float32)
    paths = [f"blocks.{i}" for i in range(layers)]
    writer = SQLiteWriter(Path(path), StoreInfo("synthetic", "Clusters", "0", paths, "mean",
                                          "float16"), rank=0)
    for start in range(0, n, batch):
        ids = list(range(start, min(start + batch, n)))
        labels = rng.integers(0, classes, len(ids))
        features = {p: list((centres[i][labels] + rng.normal(size=(len(ids), d)))
                            .astype(np.float16)) for i, p in enumerate(paths)}
        rows = BatchRows(ids, [f"point {i}" for i in ids], [str(c) for c in labels],
                         [None] * len(ids), [None] * len(ids), [], features)
        writer.write(rows, {p: [a.tobytes() for a in v] for p, v in features.items()})
    writer.close()
"""


def lab_first_paint(points: int) -> dict[str, float]:
    sys.path.insert(0, str(REPO / "tests" / "e2e"))
    import nbformat
    from conftest import CHROMIUM_ARGS, running_jupyterlab  # type: ignore[import-not-found]
    from playwright.sync_api import sync_playwright
    from test_jupyterlab import open_notebook  # type: ignore[import-not-found]

    base = Path(tempfile.mkdtemp(prefix="aw-lab-features-"))
    root = base / "root"
    root.mkdir()
    store = base / "points.sqlite"
    cells = [
        SYNTHETIC_STORE + f"\nsynthetic_store({str(store)!r}, n={points})",
        "import time, attnwidgets as aw\nstarted = time.time()\n"
        f"fmap = aw.FeatureMap({str(store)!r}, 'blocks.*', webgl=True, point_size=6)\n"
        "print('KERNEL', started * 1e3, time.time() * 1e3)\nfmap",
    ]
    cells.append(cells[-1])
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)",
                                       "language": "python", "name": "python3"}  # fmt: skip
    notebook.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(notebook, root / "paint.ipynb")
    with running_jupyterlab(base, root) as lab, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(base / "profile"), executable_path="/usr/bin/chromium", headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1300, "height": 900},
        )  # fmt: skip
        page = context.pages[0] if context.pages else context.new_page()
        page.add_init_script(DRAWS_JS)
        open_notebook(page, lab, "paint.ipynb")
        cell = page.locator(".jp-Notebook .jp-Cell")
        cell.nth(0).click()
        page.keyboard.press("Shift+Enter")  # builds the store, then selects cell 2
        page.locator(".jp-Cell").nth(0).locator(".jp-InputPrompt", has_text="[1]").wait_for(
            timeout=300_000
        )
        texts, paints = [], []
        for index in (1, 2):  # the first view loads bqplot-gl's code; the second does not
            page.keyboard.press("Shift+Enter")
            page.evaluate("() => { window.awDraws.length = 0; }")
            paints.append(_painted(page, index - 1, points))
            output = page.locator(".jp-Cell").nth(index).locator(".jp-OutputArea-output")
            texts.append(output.filter(has_text="KERNEL").first.inner_text(timeout=60_000))
        context.close()
    result = {}
    for name, text, painted in zip(("cold", "warm"), texts, paints, strict=True):
        if "Traceback" in text:
            raise RuntimeError(text[-3000:])
        started, returned = (float(x) for x in text.split("KERNEL", 1)[1].split()[:2])
        result[f"{name}_kernel_ms"] = returned - started
        result[f"{name}_paint_ms"] = painted - returned if painted else float("nan")
    return result


# Records (machine clock, ms) every instanced WebGL draw of at least 1,000 instances: the
# first one drawing a view's points is its first paint (three.js draws the points instanced).
DRAWS_JS = """(() => {
  window.awDraws = [];
  const now = () => performance.timeOrigin + performance.now();
  const wrap = (target, name, countArg) => {
    const original = target[name];
    if (!original || original.awWrapped) return;
    target[name] = function (...args) {
      if (args[countArg] >= 1000) window.awDraws.push({ t: now(), n: args[countArg] });
      return original.apply(this, args);
    };
    target[name].awWrapped = true;
  };
  const getExtension = WebGLRenderingContext.prototype.getExtension;
  WebGLRenderingContext.prototype.getExtension = function (name) {
    const ext = getExtension.call(this, name);
    if (ext && name === "ANGLE_instanced_arrays") {
      wrap(ext, "drawArraysInstancedANGLE", 3);
      wrap(ext, "drawElementsInstancedANGLE", 4);
    }
    return ext;
  };
  if (window.WebGL2RenderingContext) {
    wrap(WebGL2RenderingContext.prototype, "drawArraysInstanced", 3);
    wrap(WebGL2RenderingContext.prototype, "drawElementsInstanced", 4);
  }
})();"""


def _painted(page: Any, view: int, points: int) -> float | None:
    """When view ``view`` (0, 1, ...) first drew its ``points`` (machine clock, ms)."""
    deadline = time.time() + 120
    while time.time() < deadline:
        canvases = page.locator(".bqplot canvas")
        if canvases.count() > view and _coloured(canvases.nth(view).screenshot()) > 2000:
            draws = [d for d in page.evaluate("() => window.awDraws") if d["n"] >= points]
            return float(draws[0]["t"]) if draws else None
        time.sleep(0.05)
    return None


def _coloured(png: bytes) -> int:
    import io

    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int(((pixels.max(axis=2) - pixels.min(axis=2)) > 40).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--points", type=int, default=50_000)
    parser.add_argument("--no-lab", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    texts, _ = python_source_snippets(args.texts, seed=1)
    speed = throughput(texts, args.rounds)
    mem = memory(args.texts)
    seconds = pca_time(args.points)
    print(f"extract {len(MODULES)} MiniLM modules, mean pool, {args.texts} texts, batch {BATCH}")
    print(f"  plain forward            {speed['cpu_s']['plain']:7.2f} s CPU")
    print(
        f"  extract -> SQLite        {speed['cpu_s']['sqlite']:7.2f} s CPU   "
        f"{speed['ratio_sqlite']:.3f}x  (target <= 1.10x)"
    )
    print(
        f"  extract -> Parquet       {speed['cpu_s']['parquet']:7.2f} s CPU   "
        f"{speed['ratio_parquet']:.3f}x"
    )
    print(f"peak RSS after 100 inputs  {mem['after_100_mb']:7.1f} MB")
    print(
        f"peak RSS after {args.texts} inputs {mem['after_all_mb']:7.1f} MB   "
        f"+{mem['growth_mb']:.1f} MB  (target <= 50 MB)"
    )
    print(f"PCA {args.points} x 384 float32  {seconds * 1e3:7.0f} ms  (target < 2000 ms)")
    if not args.no_lab:
        lab = lab_first_paint(args.points)
        print(
            f"FeatureMap {args.points} points in JupyterLab: kernel (load + PCA) "
            f"{lab['kernel_ms']:.0f} ms, painted {lab['paint_after_kernel_ms']:.0f} ms after "
            "the cell returned (target < 1000 ms)"
        )


if __name__ == "__main__":
    main()
