// The views of a PositionView: each draws one picture of a scheme on the canvas context
// and returns {plot, readout, matrix?}. Numbers come from the unpacked float32 arrays.

import {
  biasMatrix,
  clampIndex,
  column,
  finiteRange,
  formatNumber,
  robustRange,
  similarityRow,
  wrapAngle,
} from "./data.js";
import {
  drawAxes,
  drawEdgeMarker,
  drawGuide,
  drawLines,
  drawMatrix,
  outlineCell,
  PALETTE,
  scales,
} from "./plots.js";

const CURVE_COLORS = PALETTE.slice(1);

/**
 * What to draw for each view name: (ctx, rect, state) -> {plot, readout, matrix?: [lo, hi, label]}.
 * `plot` (the drawn rectangle and its data ranges) lets clicks and tests map pixels to data.
 */
export const VIEWS = {
  table(ctx, rect, s) {
    const { values, shape } = s.arrays.table;
    const [rows, cols] = shape;
    const [lo, hi] = robustRange(values);
    drawMatrix(ctx, rect, { values, rows, cols, lo, hi });
    const plot = matrixPlot(rect, rows, cols, "dimension", "position");
    drawAxes(ctx, rect, plot);
    const sc = scales(rect, plot.xRange, plot.yRange, true);
    const p = clampIndex(s.position, rows);
    const d = clampIndex(s.dimension, cols);
    drawEdgeMarker(ctx, rect, sc, { x: d, y: p });
    const v = values[p * cols + d];
    const label = "value (colours span the 1st-99th percentile)";
    return { plot, matrix: [lo, hi, label], readout: `position ${p}, dimension ${d}: ${fmt(v)}` };
  },

  curves(ctx, rect, s) {
    const { values, shape } = s.arrays.table;
    const [rows, cols] = shape;
    const d = clampIndex(s.dimension, cols);
    const dims = [d, ...s.curveDims.filter((x) => x !== d && x >= 0 && x < cols)];
    const series = dims.map((dim, i) => ({
      y: column(values, rows, cols, dim),
      color: i === 0 ? PALETTE[0] : CURVE_COLORS[(i - 1) % CURVE_COLORS.length],
      width: i === 0 ? 2.5 : 1.25,
      label: `dim ${dim}`,
    }));
    return lineView(ctx, rect, series, {
      xRange: [0, Math.max(1, rows - 1)],
      xLabel: "position",
      yLabel: "value",
      guide: clampIndex(s.position, rows),
      at: (line, p) => `${line.label}: ${fmt(line.y[p])}`,
      head: (p) => `position ${p}`,
    });
  },

  similarity(ctx, rect, s) {
    const { shape } = s.arrays.table;
    const rows = shape[0];
    const values = s.similarity();
    const [lo, hi] = finiteRange(values);
    const square = squareRect(rect);
    drawMatrix(ctx, square, { values, rows, cols: rows, lo, hi });
    const plot = matrixPlot(square, rows, rows, "position", "position");
    drawAxes(ctx, square, plot);
    const p = clampIndex(s.position, rows);
    const sc = scales(square, plot.xRange, plot.yRange, true);
    drawEdgeMarker(ctx, square, sc, { y: p });
    const row = values.subarray(p * rows, (p + 1) * rows);
    let best = -1;
    for (let j = 0; j < rows; j++) if (j !== p && (best < 0 || row[j] > row[best])) best = j;
    const nearest = best >= 0 ? `; most similar other position ${best} (${fmt(row[best])})` : "";
    return {
      plot,
      matrix: [lo, hi, s.metric],
      readout: `position ${p}: ${s.metric} with itself ${fmt(row[p])}${nearest}`,
    };
  },

  grid(ctx, rect, s) {
    const { values, shape } = s.arrays.table;
    const [rows, cols] = shape;
    const [gridRows, gridCols, offset] = s.grid;
    const p = clampIndex(s.position, rows);
    const sims = similarityRow(values, rows, cols, p, s.metric).subarray(offset);
    const [lo, hi] = finiteRange(sims);
    const side = Math.min(rect.width / gridCols, rect.height / gridRows);
    const area = {
      left: rect.left,
      top: rect.top,
      width: side * gridCols,
      height: side * gridRows,
    };
    drawMatrix(ctx, area, { values: sims, rows: gridRows, cols: gridCols, lo, hi });
    const plot = matrixPlot(area, gridRows, gridCols, "patch column", "patch row");
    drawAxes(ctx, area, plot);
    const patch = p - offset;
    const where = patch >= 0 ? `patch (${Math.floor(patch / gridCols)}, ${patch % gridCols})` : "";
    if (patch >= 0) {
      const r = Math.floor(patch / gridCols);
      const c = patch % gridCols;
      outlineCell(
        ctx,
        scales(area, plot.xRange, plot.yRange, true),
        c - 0.5,
        c + 0.5,
        r - 0.5,
        r + 0.5,
      );
    }
    const label = patch >= 0 ? where : `row ${p} (not a patch, e.g. [CLS])`;
    return {
      plot,
      matrix: [lo, hi, s.metric],
      readout: `position ${p} = ${label}: ${s.metric} to every patch`,
    };
  },

  frequencies(ctx, rect, s) {
    const inv = s.arrays.inv_freq.values;
    const logs = Float32Array.from(inv, (v) => Math.log10(v));
    const i = clampIndex(s.dimension, inv.length);
    const series = [{ y: logs, color: PALETTE[1], width: 1.5, dots: 2 }];
    const out = lineView(ctx, rect, series, {
      xRange: [0, Math.max(1, inv.length - 1)],
      xLabel: "dimension pair",
      yLabel: "log10 radians / position",
      guide: i,
    });
    const wavelength = (2 * Math.PI) / inv[i];
    const theta = s.params.theta ? `theta ${formatNumber(s.params.theta)} · ` : "";
    out.readout = `${theta}pair ${i}: ${fmt(inv[i])} rad/position, one turn every ${fmt(wavelength)} positions`;
    return out;
  },

  angles(ctx, rect, s) {
    const { values, shape } = s.arrays.angles;
    const [rows, pairs] = shape;
    const i = clampIndex(s.dimension, pairs);
    const picks = [i, ...s.curveDims.filter((x) => x !== i && x >= 0 && x < pairs)];
    const series = picks.map((pair, n) => ({
      y: Float32Array.from(column(values, rows, pairs, pair), wrapAngle),
      raw: column(values, rows, pairs, pair),
      color: n === 0 ? PALETTE[0] : CURVE_COLORS[(n - 1) % CURVE_COLORS.length],
      width: n === 0 ? 2.5 : 1.25,
      label: `pair ${pair}`,
    }));
    for (const line of series) breakWraps(line.y);
    return lineView(ctx, rect, series, {
      xRange: [0, Math.max(1, rows - 1)],
      yRange: [-Math.PI, Math.PI],
      xLabel: "position",
      yLabel: "rotation angle (rad, wrapped)",
      guide: clampIndex(s.position, rows),
      at: (line, p) => `${line.label}: ${fmt(line.raw[p])} rad`,
      head: (p) => `position ${p}`,
    });
  },

  score(ctx, rect, s) {
    const score = s.arrays.score.values;
    const series = [{ y: score, color: PALETTE[1], width: 1.5 }];
    const d = clampIndex(s.position, score.length);
    const out = lineView(ctx, rect, series, {
      xRange: [0, Math.max(1, score.length - 1)],
      xLabel: "relative distance",
      yLabel: "expected q·k / |q|²",
      guide: d,
    });
    out.readout = `distance ${d}: expected score ${fmt(score[d])} (1 at distance 0)`;
    return out;
  },

  bias(ctx, rect, s) {
    const { values, shape } = s.arrays.bias;
    const [heads, n] = shape;
    const h = clampIndex(s.head, heads);
    const dmin = s.params.min_distance ?? -((n - 1) / 2);
    const x = Float32Array.from({ length: n }, (_, i) => dmin + i);
    const series = [];
    for (let k = 0; k < heads; k++) {
      if (k !== h)
        series.push({ x, y: values.subarray(k * n, (k + 1) * n), color: "#bbb", width: 1 });
    }
    series.push({ x, y: values.subarray(h * n, (h + 1) * n), color: PALETTE[0], width: 2.5 });
    const d = clampIndex(s.position, n + dmin);
    const out = lineView(ctx, rect, series, {
      xRange: [dmin, dmin + n - 1],
      xLabel: "relative distance (key - query)",
      yLabel: "bias added to the score",
      guide: -d,
    });
    const at = (dist) => values[h * n + dist - dmin];
    const bucket = (dist) =>
      s.arrays.buckets ? `, bucket ${s.arrays.buckets.values[dist - dmin]}` : "";
    out.readout = `head ${h}: distance -${d} → ${fmt(at(-d))}${bucket(-d)}; +${d} → ${fmt(at(d))}${bucket(d)}`;
    return out;
  },

  matrix(ctx, rect, s) {
    const { values, shape } = s.arrays.bias;
    const [heads, n] = shape;
    const length = (n + 1) / 2;
    const h = clampIndex(s.head, heads);
    const dmin = s.params.min_distance ?? -(length - 1);
    const m = biasMatrix(values, n, h, length, dmin, Boolean(s.params.causal));
    const [lo, hi] = finiteRange(m);
    const square = squareRect(rect);
    drawMatrix(ctx, square, { values: m, rows: length, cols: length, lo, hi });
    const plot = matrixPlot(square, length, length, "key position", "query position");
    drawAxes(ctx, square, plot);
    const p = clampIndex(s.position, length);
    drawEdgeMarker(ctx, square, scales(square, plot.xRange, plot.yRange, true), { y: p });
    const masked = s.params.causal ? " (grey: future keys, masked)" : "";
    return {
      plot,
      matrix: [lo, hi, "bias"],
      readout: `head ${h}, query ${p}: bias ${fmt(m[p * length])} to key 0, ${fmt(m[p * length + p])} to itself${masked}`,
    };
  },

  slopes(ctx, rect, s) {
    const slopes = s.arrays.slopes.values;
    const h = clampIndex(s.head, slopes.length);
    const series = [{ y: slopes, color: PALETTE[1], width: 1.5, dots: 3 }];
    const out = lineView(ctx, rect, series, {
      xRange: [-0.5, slopes.length - 0.5],
      yRange: [0, finiteRange(slopes)[1] * 1.05],
      xLabel: "head",
      yLabel: "slope (bias per token of distance)",
      guide: h,
    });
    out.readout = `head ${h}: slope ${fmt(slopes[h])}: a key 10 tokens back loses ${fmt(10 * slopes[h])}`;
    return out;
  },
};

export function fmt(v) {
  return formatNumber(v);
}

function matrixPlot(rect, rows, cols, xLabel, yLabel) {
  return {
    ...rect,
    xRange: [-0.5, cols - 0.5],
    yRange: [-0.5, rows - 0.5],
    yDown: true,
    xLabel,
    yLabel,
  };
}

function squareRect(rect) {
  const side = Math.min(rect.width, rect.height);
  return { left: rect.left, top: rect.top, width: side, height: side };
}

/** A jump of more than pi between neighbours is a wrap of the angle: do not draw across it. */
function breakWraps(y) {
  for (let i = y.length - 1; i > 0; i--)
    if (Math.abs(y[i] - y[i - 1]) > Math.PI) y[i - 1] = Number.NaN;
}

function lineView(ctx, rect, series, o) {
  let yRange = o.yRange;
  if (!yRange) {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const line of series) {
      const [a, b] = finiteRange(line.y);
      lo = Math.min(lo, a);
      hi = Math.max(hi, b);
    }
    const pad = (hi - lo) * 0.05;
    yRange = [lo - pad, hi + pad];
  }
  const plot = {
    ...rect,
    xRange: o.xRange,
    yRange,
    yDown: false,
    xLabel: o.xLabel,
    yLabel: o.yLabel,
  };
  drawAxes(ctx, rect, plot);
  drawLines(ctx, rect, { series, xRange: o.xRange, yRange });
  if (o.guide !== undefined)
    drawGuide(ctx, rect, scales(rect, o.xRange, yRange), { x: o.guide, color: "#666" });
  const readout = o.at
    ? `${o.head(o.guide)}: ${series.map((l) => o.at(l, o.guide)).join(" · ")}`
    : "";
  return { plot, readout };
}
