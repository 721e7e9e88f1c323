"""What the attention benchmarks share: the data, the browser flags, the "drawn" test, targets.

``browser_attention.py`` (the built bundle in a plain page) and ``jupyterlab_attention.py``
(the same view inside JupyterLab) import this, so both time the same data against the same
definition of "painted" and print the same targets (issue 4).

Example:
    >>> data = synthetic(2, 3, 5)
    >>> data.shape, bool(np.allclose(data.sum(-1), 1)), float(data[0, 0, 0, 1])
    ((2, 3, 5, 5), True, 0.0)
    >>> versus_target(450.0, "first_paint_1024")
    '0.45x of 1000 ms'
"""

from __future__ import annotations

import numpy as np

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run"]

# One definition of "drawn" for every page: the view's root says it drew this layer and head
# (js/attention_view.js sets data-state="ready" right after painting the heatmap canvas); the
# time is taken at the next animation frame, when the browser puts that canvas on screen.
DRAWN_JS = """
const drawnAs = (root, layer, head) => root.dataset.state === "ready" &&
  Number(root.dataset.layer) === Number(layer) && Number(root.dataset.head) === Number(head);
"""

# Issue 4: GPT-2-small shape (12 layers x 12 heads), headless Chromium, JupyterLab or a page.
TARGETS_MS = {
    "first_paint_1024": 1000.0,
    "switch_1024": 50.0,
    "first_paint_8192": 2000.0,
}


def synthetic(layers: int, heads: int, n: int, seed: int = 0) -> np.ndarray:
    """Causal softmax of random scores, sharpened per head: ``[layers, heads, n, n]`` float32."""
    rng = np.random.default_rng(seed)
    out = np.empty((layers, heads, n, n), np.float32)
    mask = np.triu(np.ones((n, n), bool), 1)
    for layer in range(layers):
        for head in range(heads):
            scores = rng.standard_normal((n, n), dtype=np.float32) * (1 + head % 4)
            scores[mask] = -np.inf
            scores -= scores.max(axis=1, keepdims=True)
            np.exp(scores, out=scores)
            out[layer, head] = scores / scores.sum(axis=1, keepdims=True)
    return out


def versus_target(ms: float | None, target: str) -> str:
    """``ms`` as a ratio of the issue's target, e.g. ``'0.45x of 1000 ms'``."""
    if ms is None:
        return "-"
    return f"{ms / TARGETS_MS[target]:.2f}x of {TARGETS_MS[target]:.0f} ms"
