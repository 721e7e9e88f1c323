// Canvas drawing for the PositionView: a matrix (one pixel per cell, scaled up without
// smoothing), line series, and axes with numeric ticks. Text is drawn with fillText only.

import { colorIndex, colorTable } from "../shared/colormap.js";
import { formatNumber } from "./data.js";

export const PALETTE = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
const MASKED = [224, 224, 224];
const INK = "#444";

/** Size the canvas for cssW x cssH CSS pixels and return a context drawing in CSS pixels. */
export function setupCanvas(canvas, cssW, cssH, dpr) {
  const w = Math.max(1, Math.round(cssW * dpr));
  const h = Math.max(1, Math.round(cssH * dpr));
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  canvas.style.width = `${cssW}px`;
  canvas.style.height = `${cssH}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, cssW, cssH);
  return ctx;
}

/** Linear maps from data to CSS pixels inside rect; y grows upwards unless yDown. */
export function scales(rect, xRange, yRange, yDown = false) {
  const [x0, x1] = xRange;
  const [y0, y1] = yRange;
  return {
    x: (v) => rect.left + ((v - x0) / (x1 - x0 || 1)) * rect.width,
    y: (v) =>
      yDown
        ? rect.top + ((v - y0) / (y1 - y0 || 1)) * rect.height
        : rect.top + rect.height - ((v - y0) / (y1 - y0 || 1)) * rect.height,
  };
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo, hi, count = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks = [];
  for (let i = Math.ceil(lo / step - 1e-9); i * step <= hi + step * 1e-9; i++) {
    ticks.push(Number((i * step).toPrecision(12)));
  }
  return ticks;
}

/** A [rows, cols] matrix filling rect, colours spanning [lo, hi]; NaN cells are light grey. */
export function drawMatrix(ctx, rect, { values, rows, cols, lo, hi }) {
  const doc = ctx.canvas.ownerDocument;
  const src = doc.createElement("canvas");
  src.width = cols;
  src.height = rows;
  const sctx = src.getContext("2d");
  const image = sctx.createImageData(cols, rows);
  const table = colorTable();
  for (let i = 0; i < values.length; i++) {
    const p = i * 4;
    if (Number.isNaN(values[i])) {
      image.data.set(MASKED, p);
    } else {
      const j = colorIndex(values[i], lo, hi) * 4;
      image.data[p] = table[j];
      image.data[p + 1] = table[j + 1];
      image.data[p + 2] = table[j + 2];
    }
    image.data[p + 3] = 255;
  }
  sctx.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(src, rect.left, rect.top, rect.width, rect.height);
}

/**
 * Axes: a frame, numeric ticks and labels. Matrices pass index ranges [-0.5, n - 0.5] and
 * integerTicks, so that ticks sit on cell centres.
 */
export function drawAxes(
  ctx,
  rect,
  { xRange, yRange, xLabel, yLabel, yDown = false, integerTicks = false },
) {
  const s = scales(rect, xRange, yRange, yDown);
  ctx.save();
  ctx.strokeStyle = INK;
  ctx.fillStyle = INK;
  ctx.lineWidth = 1;
  ctx.font = "11px sans-serif";
  ctx.strokeRect(rect.left - 0.5, rect.top - 0.5, rect.width + 1, rect.height + 1);
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const v of niceTicks(...xRange, 6)) {
    if (integerTicks && !Number.isInteger(v)) continue;
    const x = s.x(v);
    ctx.fillRect(x - 0.5, rect.top + rect.height, 1, 4);
    ctx.fillText(formatNumber(v), x, rect.top + rect.height + 6);
  }
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of niceTicks(...yRange, 5)) {
    if (integerTicks && !Number.isInteger(v)) continue;
    const y = s.y(v);
    ctx.fillRect(rect.left - 4, y - 0.5, 4, 1);
    ctx.fillText(formatNumber(v), rect.left - 6, y);
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "bottom";
  if (xLabel) ctx.fillText(xLabel, rect.left + rect.width / 2, rect.top + rect.height + 34);
  if (yLabel) {
    ctx.translate(12, rect.top + rect.height / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(yLabel, 0, 0);
  }
  ctx.restore();
}

/**
 * Line series inside rect: each {x (array or null for 0..n-1), y, color, width, dots}.
 * Non-finite points break the line.
 */
export function drawLines(ctx, rect, { series, xRange, yRange }) {
  const s = scales(rect, xRange, yRange);
  ctx.save();
  ctx.beginPath();
  ctx.rect(rect.left, rect.top, rect.width, rect.height);
  ctx.clip();
  for (const line of series) {
    ctx.strokeStyle = line.color;
    ctx.fillStyle = line.color;
    ctx.lineWidth = line.width ?? 1.5;
    ctx.beginPath();
    let open = false;
    for (let i = 0; i < line.y.length; i++) {
      const xv = line.x ? line.x[i] : i;
      const yv = line.y[i];
      if (!Number.isFinite(yv)) {
        open = false;
        continue;
      }
      if (open) ctx.lineTo(s.x(xv), s.y(yv));
      else ctx.moveTo(s.x(xv), s.y(yv));
      open = true;
    }
    ctx.stroke();
    if (line.dots) {
      for (let i = 0; i < line.y.length; i++) {
        ctx.beginPath();
        ctx.arc(s.x(line.x ? line.x[i] : i), s.y(line.y[i]), line.dots, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
  }
  ctx.restore();
}

/** A dashed vertical (x) or horizontal (y) guide line across rect, at a data value. */
export function drawGuide(ctx, rect, scale, { x, y, color = "#000" }) {
  ctx.save();
  ctx.strokeStyle = color;
  ctx.setLineDash([4, 3]);
  ctx.lineWidth = 1;
  ctx.beginPath();
  if (x !== undefined) {
    ctx.moveTo(scale.x(x), rect.top);
    ctx.lineTo(scale.x(x), rect.top + rect.height);
  }
  if (y !== undefined) {
    ctx.moveTo(rect.left, scale.y(y));
    ctx.lineTo(rect.left + rect.width, scale.y(y));
  }
  ctx.stroke();
  ctx.restore();
}

/** Small triangles just outside rect pointing at a data row (y) and/or column (x). */
export function drawEdgeMarker(ctx, rect, scale, { x, y, color = "#d62728" }) {
  ctx.save();
  ctx.fillStyle = color;
  if (y !== undefined) {
    const py = scale.y(y);
    ctx.beginPath();
    ctx.moveTo(rect.left - 1, py);
    ctx.lineTo(rect.left - 7, py - 4);
    ctx.lineTo(rect.left - 7, py + 4);
    ctx.fill();
  }
  if (x !== undefined) {
    const px = scale.x(x);
    const bottom = rect.top + rect.height;
    ctx.beginPath();
    ctx.moveTo(px, bottom + 1);
    ctx.lineTo(px - 4, bottom + 7);
    ctx.lineTo(px + 4, bottom + 7);
    ctx.fill();
  }
  ctx.restore();
}

/** Outline one cell [x0, x1] x [y0, y1] (data units) in white over black, to mark a selection. */
export function outlineCell(ctx, scale, x0, x1, y0, y1) {
  const left = Math.min(scale.x(x0), scale.x(x1));
  const top = Math.min(scale.y(y0), scale.y(y1));
  const w = Math.abs(scale.x(x1) - scale.x(x0));
  const h = Math.abs(scale.y(y1) - scale.y(y0));
  ctx.save();
  ctx.lineWidth = 2;
  ctx.strokeStyle = "#000";
  ctx.strokeRect(left - 1, top - 1, w + 2, h + 2);
  ctx.lineWidth = 1;
  ctx.strokeStyle = "#fff";
  ctx.strokeRect(left, top, w, h);
  ctx.restore();
}
