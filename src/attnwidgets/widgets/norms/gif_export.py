"""Animated GIF of the training history: one frame per kept snapshot (Pillow, numpy only)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .history import Snapshot

INPUT_RGBA = (31, 119, 180, 150)
OUTPUT_RGBA = (255, 127, 14, 150)


def _pillow() -> Any:
    try:
        from PIL import Image, ImageDraw
    except ImportError as error:
        raise ImportError(
            "GIF export needs Pillow: pip install pillow (or pip install 'attnwidgets[gif]')"
        ) from error
    return Image, ImageDraw


def render_frame(
    snapshot: Snapshot, layer: int, *, size: tuple[int, int] = (480, 260), log: bool = True
) -> Any:
    """One RGB frame: the layer's input (blue) and output (orange) histograms, overlaid.

    Example:
        >>> arrays = {"hist_in": np.array([[1, 4, 0]]), "hist_out": np.array([[0, 2, 3]]),
        ...           "range": np.array([[-1.0, 1.0]])}
        >>> render_frame(Snapshot(7, arrays, ["ln"]), 0).size
        (480, 260)
    """
    image_module, draw_module = _pillow()
    width, height = size
    left, right, top, bottom = 10, 10, 28, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    hin = np.asarray(snapshot.arrays["hist_in"][layer], np.float64)
    hout = np.asarray(snapshot.arrays["hist_out"][layer], np.float64)
    lo, hi = (float(v) for v in snapshot.arrays["range"][layer])
    scale = np.log1p if log else (lambda c: c)
    peak = max(float(scale(hin).max(initial=0)), float(scale(hout).max(initial=0)), 1e-12)
    base = image_module.new("RGBA", size, (255, 255, 255, 255))
    bar_width = plot_w / max(1, hin.shape[0])
    for counts, colour in ((hin, INPUT_RGBA), (hout, OUTPUT_RGBA)):
        layer_image = image_module.new("RGBA", size, (0, 0, 0, 0))
        draw = draw_module.Draw(layer_image)
        for i, count in enumerate(counts):
            if count <= 0:
                continue
            bar_h = max(1.0, float(scale(count)) / peak * plot_h)
            x0 = left + i * bar_width
            draw.rectangle(
                [x0, top + plot_h - bar_h, x0 + max(1.0, bar_width - 1), top + plot_h],
                fill=colour,
            )
        base = image_module.alpha_composite(base, layer_image)
    draw = draw_module.Draw(base)
    name = snapshot.layer_names[layer] if layer < len(snapshot.layer_names) else str(layer)
    draw.text((left, 6), f"step {snapshot.step}  {name}", fill=(20, 20, 20))
    draw.line([left, top + plot_h, left + plot_w, top + plot_h], fill=(100, 100, 100))
    draw.text((left, top + plot_h + 5), f"{lo:.3g}", fill=(80, 80, 80))
    draw.text((left + plot_w - 60, top + plot_h + 5), f"{hi:.3g}", fill=(80, 80, 80))
    return base.convert("RGB")


def save_gif(
    snapshots: Iterable[Snapshot],
    path: str | Path,
    *,
    layer: int = 0,
    fps: float = 10.0,
    size: tuple[int, int] = (480, 260),
) -> Path:
    """Write one frame per snapshot to ``path`` as a looping GIF; returns the path."""
    frames = [render_frame(s, layer, size=size) for s in snapshots]
    if not frames:
        raise ValueError("no history to export yet: run some training steps first")
    out = Path(path)
    frames[0].save(
        out,
        save_all=True,
        append_images=frames[1:],
        duration=max(20, int(1000 / fps)),
        loop=0,
    )
    return out
