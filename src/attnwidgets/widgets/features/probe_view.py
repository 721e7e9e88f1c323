"""ProbeView: a linear probe's accuracy per layer, against a majority-class baseline and a
shuffled-label control (numpy + bqplot; no torch).

The probe line carries a band of +- one standard deviation over the folds; the control
task's line its own band; the dashed line is the majority class; the red line is the
selectivity (accuracy - control). A table below gives the numbers.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets
import numpy as np

if TYPE_CHECKING:
    from ...features.probes import ProbeResult

COLOURS = {"probe": "#4e79a7", "control": "#9c9c9c", "majority": "#444444", "select": "#e15759"}


class ProbeView(ipywidgets.VBox):  # type: ignore[misc]
    """The plot and table of a ``ProbeResult`` (``aw.probe(...)`` displays one).

    Example:
        >>> view = ProbeView(aw.probe(store, "encoder.layer.*"))  # doctest: +SKIP
        >>> view.accuracy.y                                       # doctest: +SKIP
        array([0.61, 0.72, 0.80, 0.83, 0.84, 0.82])
    """

    def __init__(self, result: ProbeResult, *, width: int = 620, height: int = 360) -> None:
        import bqplot

        self.result = result
        rows = result.table()
        xs = np.array(
            [r["layer"] if r["layer"] is not None else i for i, r in enumerate(rows)],
            dtype=np.float64,
        )
        mean = np.array([r["accuracy"] for r in rows])
        std = np.array([r["std"] for r in rows])
        control = np.array([r["control"] for r in rows])
        control_std = np.array([r["control_std"] for r in rows])
        majority = np.array([r["majority"] for r in rows])
        x_scale = bqplot.LinearScale(min=float(xs.min()) - 0.3, max=float(xs.max()) + 0.3)
        y_scale = bqplot.LinearScale(min=0.0, max=1.0)
        scales = {"x": x_scale, "y": y_scale}

        def band(centre: np.ndarray, spread: np.ndarray, colour: str) -> Any:
            return bqplot.Lines(
                x=xs,
                y=np.vstack([centre - spread, centre + spread]),
                scales=scales,
                fill="between",
                fill_colors=[colour],
                fill_opacities=[0.18],
                colors=[colour],
                stroke_width=0,
                opacities=[0.0, 0.0],
            )

        self.accuracy = bqplot.Lines(
            x=xs,
            y=mean,
            scales=scales,
            colors=[COLOURS["probe"]],
            marker="circle",
            marker_size=40,
            stroke_width=2.5,
            labels=["probe accuracy"],
            display_legend=True,
        )
        self.control = bqplot.Lines(
            x=xs,
            y=control,
            scales=scales,
            colors=[COLOURS["control"]],
            stroke_width=2,
            marker="square",
            marker_size=24,
            labels=["control (shuffled labels)"],
            display_legend=True,
        )
        self.majority = bqplot.Lines(
            x=xs,
            y=majority,
            scales=scales,
            colors=[COLOURS["majority"]],
            line_style="dashed",
            stroke_width=1.5,
            labels=["majority class"],
            display_legend=True,
        )
        self.selectivity = bqplot.Lines(
            x=xs,
            y=mean - control,
            scales=scales,
            colors=[COLOURS["select"]],
            stroke_width=1.5,
            labels=["selectivity"],
            display_legend=True,
        )
        marks = [
            band(mean, std, COLOURS["probe"]),
            band(control, control_std, COLOURS["control"]),
            self.majority,
            self.control,
            self.selectivity,
            self.accuracy,
        ]
        axes = [
            bqplot.Axis(scale=x_scale, label="layer", tick_values=xs, tick_format="d"),
            bqplot.Axis(
                scale=y_scale, label="held-out accuracy", orientation="vertical", tick_format=".0%"
            ),
        ]
        self.figure = bqplot.Figure(
            marks=marks,
            axes=axes,
            legend_location="top-left",
            animation_duration=0,
            title=f"{result.module}: linear probe of {result.label!r} ({result.folds}-fold)",
            fig_margin={"top": 50, "bottom": 45, "left": 60, "right": 20},
            layout=ipywidgets.Layout(width=f"{width}px", height=f"{height}px"),
        )
        self.table = ipywidgets.HTML(table_html(rows))
        super().__init__([self.figure, self.table])


def table_html(rows: list[dict[str, Any]]) -> str:
    """The numbers per layer as an HTML table (every value escaped).

    Example:
        >>> row = {"layer": 0, "accuracy": 0.9, "std": 0.01, "majority": 0.5, "control": 0.52,
        ...        "control_std": 0.02, "selectivity": 0.38, "n": 100, "skipped": 0}
        >>> "<td>90.0% ± 1.0%</td>" in table_html([row])
        True
    """
    head = ("layer", "accuracy", "majority", "control", "selectivity", "inputs", "skipped")
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = []
    for r in rows:
        values = (
            str(r["layer"]),
            f"{r['accuracy']:.1%} ± {r['std']:.1%}",
            f"{r['majority']:.1%}",
            f"{r['control']:.1%} ± {r['control_std']:.1%}",
            f"{r['selectivity']:+.1%}",
            str(r["n"]),
            str(r["skipped"]),
        )
        body.append("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in values) + "</tr>")
    style = "border-collapse: collapse; font-size: 12px; font-variant-numeric: tabular-nums"
    return f'<table class="aw-probe-table" style="{style}"><tr>{cells}</tr>{"".join(body)}</table>'
