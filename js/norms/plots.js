// Canvas charts shared by the norm view and the training monitor. Text goes through fillText
// only (token labels are untrusted). Colours are fixed so that tests can read pixels.

import { truncateLabel } from "../shared/layout.js";

export const INPUT_RGB = [31, 119, 180]; // blue
export const OUTPUT_RGB = [255, 127, 14]; // orange
export const OUTLIER_RGB = [214, 39, 40]; // red
const AXIS = "#666";
const FONT = "11px sans-serif";
const PAD = { left: 44, right: 8, top: 8, bottom: 22 };

export const rgba = (rgb, a = 1) => `rgba(${rgb[0]}, ${rgb[1]}, ${rgb[2]}, ${a})`;

/** Size the backing store for the device pixel ratio; returns a context in CSS pixels. */
export function prepare(canvas, cssW, cssH) {
  const dpr = globalThis.devicePixelRatio || 1;
  canvas.style.width = `${cssW}px`;
  canvas.style.height = `${cssH}px`;
  canvas.width = Math.max(1, Math.round(cssW * dpr));
  canvas.height = Math.max(1, Math.round(cssH * dpr));
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cssW, cssH);
  ctx.font = FONT;
  return {
    ctx,
    w: cssW,
    h: cssH,
    plotW: cssW - PAD.left - PAD.right,
    plotH: cssH - PAD.top - PAD.bottom,
  };
}

/** Short number for axis labels. */
export function fmt(v) {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e4 || a < 1e-3)) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

function frame(ctx, plotW, plotH) {
  ctx.strokeStyle = AXIS;
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(PAD.left - 0.5, PAD.top);
  ctx.lineTo(PAD.left - 0.5, PAD.top + plotH + 0.5);
  ctx.lineTo(PAD.left + plotW, PAD.top + plotH + 0.5);
  ctx.stroke();
}

function text(ctx, s, x, y, align = "left") {
  ctx.fillStyle = AXIS;
  ctx.textAlign = align;
  ctx.fillText(s, x, y);
}

/**
 * Input and output histograms over shared bins, overlaid (input first, output on top, both
 * translucent). `log` scales heights by log(1 + count). `marks` are x values drawn as red ticks.
 */
export function drawHistogram(canvas, { hin, hout, lo, hi, log, cssW, cssH, marks = [] }) {
  const { ctx, plotW, plotH } = prepare(canvas, cssW, cssH);
  const bins = hin.length;
  const scale = log ? (c) => Math.log1p(c) : (c) => c;
  let top = 0;
  for (let i = 0; i < bins; i++) top = Math.max(top, scale(hin[i]), scale(hout[i]));
  frame(ctx, plotW, plotH);
  const bw = plotW / Math.max(1, bins);
  for (const [counts, rgb] of [
    [hin, INPUT_RGB],
    [hout, OUTPUT_RGB],
  ]) {
    ctx.fillStyle = rgba(rgb, 0.6);
    for (let i = 0; i < bins; i++) {
      if (!counts[i] || top <= 0) continue;
      const bh = Math.max(1, (scale(counts[i]) / top) * plotH);
      ctx.fillRect(PAD.left + i * bw, PAD.top + plotH - bh, Math.max(1, bw - 0.5), bh);
    }
  }
  ctx.fillStyle = rgba(OUTLIER_RGB);
  for (const x of marks) {
    if (!(hi > lo) || !Number.isFinite(x)) continue;
    const px = PAD.left + ((x - lo) / (hi - lo)) * plotW;
    ctx.fillRect(Math.min(PAD.left + plotW - 2, px - 1), PAD.top + plotH - 8, 3, 8);
  }
  const y = PAD.top + plotH + 14;
  text(ctx, fmt(lo), PAD.left, y, "left");
  text(ctx, fmt(hi), PAD.left + plotW, y, "right");
  const zero = (-lo / (hi - lo)) * plotW;
  if (lo < 0 && hi > 0 && zero > 30 && zero < plotW - 30)
    text(ctx, "0", PAD.left + zero, y, "center");
  text(ctx, log ? "log(1+n)" : "count", 2, PAD.top + 10);
  return { bins, bw };
}

/** "input: 2 NaN, 1 +Inf" from [nan, +inf, -inf] of the input then the output. */
export function nonfiniteText(counts, side) {
  const [nan, pos, neg] = side === "input" ? counts.slice(0, 3) : counts.slice(3, 6);
  const parts = [];
  if (nan) parts.push(`${nan} NaN`);
  if (pos) parts.push(`${pos} +Inf`);
  if (neg) parts.push(`${neg} -Inf`);
  return parts.length ? `${side}: ${parts.join(", ")}` : "";
}

/** Finite [min, max] over several arrays, widened when flat. */
export function extent(arrays) {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const a of arrays) {
    for (const v of a) {
      if (Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  }
  if (lo > hi) return [0, 1];
  if (lo === hi) return [lo - 0.5, hi + 0.5];
  return [lo, hi];
}

/**
 * Line series along the tokens: series = [{values, rgb, dash}]; labels are the tokens (drawn
 * with fillText, thinned to fit); `marked` token indices get a red triangle under the axis.
 */
export function drawSeries(canvas, { series, labels, cssW, cssH, marked = [] }) {
  const { ctx, plotW, plotH } = prepare(canvas, cssW, cssH);
  const n = Math.max(1, ...series.map((s) => s.values.length));
  const [lo, hi] = extent(series.map((s) => s.values));
  frame(ctx, plotW, plotH);
  const xOf = (i) => PAD.left + (n === 1 ? plotW / 2 : (i / (n - 1)) * plotW);
  const yOf = (v) => PAD.top + plotH - ((v - lo) / (hi - lo)) * plotH;
  for (const s of series) {
    ctx.strokeStyle = rgba(s.rgb);
    ctx.lineWidth = 1.5;
    ctx.setLineDash(s.dash ? [4, 3] : []);
    ctx.beginPath();
    let pen = false;
    s.values.forEach((v, i) => {
      if (!Number.isFinite(v)) {
        pen = false;
        return;
      }
      if (pen) ctx.lineTo(xOf(i), yOf(v));
      else ctx.moveTo(xOf(i), yOf(v));
      pen = true;
    });
    ctx.stroke();
    ctx.fillStyle = rgba(s.rgb);
    s.values.forEach((v, i) => {
      if (Number.isFinite(v)) ctx.fillRect(xOf(i) - 1.5, yOf(v) - 1.5, 3, 3);
    });
  }
  ctx.setLineDash([]);
  ctx.fillStyle = rgba(OUTLIER_RGB);
  for (const i of marked) {
    const x = xOf(i);
    const y = PAD.top + plotH + 1;
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x - 4, y + 7);
    ctx.lineTo(x + 4, y + 7);
    ctx.fill();
  }
  text(ctx, fmt(hi), PAD.left - 4, PAD.top + 8, "right");
  text(ctx, fmt(lo), PAD.left - 4, PAD.top + plotH, "right");
  const every = Math.max(1, Math.ceil((n * 40) / Math.max(40, plotW)));
  for (let i = 0; i < (labels?.length ?? 0); i += every) {
    // bidi controls and control characters shown as marks (displayLabel), cut to 6
    text(ctx, truncateLabel(labels[i], 6), xOf(i), PAD.top + plotH + 18, "center");
  }
  return { lo, hi, xOf };
}

/** A histogram of raw values (gamma or beta), computed here: they are one vector each. */
export function drawValues(canvas, { values, rgb, cssW, cssH, bins = 32 }) {
  const { ctx, plotW, plotH } = prepare(canvas, cssW, cssH);
  const [lo, hi] = extent([values]);
  const counts = new Array(bins).fill(0);
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    counts[Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo)) * bins))] += 1;
  }
  const top = Math.max(1, ...counts);
  frame(ctx, plotW, plotH);
  ctx.fillStyle = rgba(rgb, 0.85);
  const bw = plotW / bins;
  counts.forEach((c, i) => {
    if (!c) return;
    const bh = Math.max(1, (c / top) * plotH);
    ctx.fillRect(PAD.left + i * bw, PAD.top + plotH - bh, Math.max(1, bw - 0.5), bh);
  });
  const y = PAD.top + plotH + 14;
  text(ctx, fmt(lo), PAD.left, y, "left");
  text(ctx, fmt(hi), PAD.left + plotW, y, "right");
  return counts;
}

/**
 * Every layer's input spread vs output spread as paired bars on a log10 axis; the selected
 * layer has a grey band behind it. Returns layerAt(x) for click handling.
 */
export function drawSpread(canvas, { spread, selected, cssW, cssH }) {
  const { ctx, plotW, plotH } = prepare(canvas, cssW, cssH);
  const n = spread.length / 2;
  const logs = Array.from(spread, (v) =>
    v > 0 && Number.isFinite(v) ? Math.log10(v) : Number.NaN,
  );
  let [lo, hi] = extent([logs]);
  lo = Math.floor(lo);
  hi = Math.max(lo + 1, Math.ceil(hi));
  frame(ctx, plotW, plotH);
  const slot = plotW / Math.max(1, n);
  if (selected >= 0 && selected < n) {
    ctx.fillStyle = "rgba(0, 0, 0, 0.08)";
    ctx.fillRect(PAD.left + selected * slot, PAD.top, slot, plotH);
  }
  for (let i = 0; i < n; i++) {
    [INPUT_RGB, OUTPUT_RGB].forEach((rgb, side) => {
      const v = logs[2 * i + side];
      if (!Number.isFinite(v)) return;
      const bh = Math.max(1, ((v - lo) / (hi - lo)) * plotH);
      const bw = Math.max(1, slot * 0.4);
      ctx.fillStyle = rgba(rgb);
      ctx.fillRect(PAD.left + i * slot + slot * 0.1 + side * bw, PAD.top + plotH - bh, bw, bh);
    });
  }
  text(ctx, `1e${hi}`, PAD.left - 4, PAD.top + 8, "right");
  text(ctx, `1e${lo}`, PAD.left - 4, PAD.top + plotH, "right");
  const every = Math.max(1, Math.ceil((n * 24) / Math.max(24, plotW)));
  for (let i = 0; i < n; i += every) {
    text(ctx, String(i), PAD.left + (i + 0.5) * slot, PAD.top + plotH + 14, "center");
  }
  return (x) => {
    const i = Math.floor((x - PAD.left) / slot);
    return i >= 0 && i < n ? i : -1;
  };
}

/** The loss curve: steps on x, loss on y (NaN/Inf losses break the line). */
export function drawLoss(canvas, { steps, losses, cssW, cssH }) {
  const { ctx, plotW, plotH } = prepare(canvas, cssW, cssH);
  frame(ctx, plotW, plotH);
  const n = losses.length;
  if (n === 0) {
    text(ctx, "no loss yet", PAD.left + 6, PAD.top + 14);
    return;
  }
  const [lo, hi] = extent([losses]);
  const [s0, s1] = extent([steps]);
  const xOf = (s) => PAD.left + ((s - s0) / (s1 - s0)) * plotW;
  const yOf = (v) => PAD.top + plotH - ((v - lo) / (hi - lo)) * plotH;
  ctx.strokeStyle = rgba([44, 160, 44]);
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  let pen = false;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(losses[i])) {
      pen = false;
      continue;
    }
    if (pen) ctx.lineTo(xOf(steps[i]), yOf(losses[i]));
    else ctx.moveTo(xOf(steps[i]), yOf(losses[i]));
    pen = true;
  }
  ctx.stroke();
  text(ctx, fmt(hi), PAD.left - 4, PAD.top + 8, "right");
  text(ctx, fmt(lo), PAD.left - 4, PAD.top + plotH, "right");
  text(ctx, `step ${fmt(s0)}`, PAD.left, PAD.top + plotH + 14, "left");
  text(ctx, `${fmt(s1)}`, PAD.left + plotW, PAD.top + plotH + 14, "right");
}
