// Token lines (bertviz's head view): queries on the left, keys on the right, one line per pair
// weighted by attention, one colour per head. Hovering a token keeps only its lines. Drawn on
// one canvas with fillText (token text is untrusted and never parsed as HTML).

import { truncateLabel } from "../shared/layout.js";
import { decodeHead } from "./decode.js";

export const MAX_LINE_TOKENS = 256;
export const HEAD_COLOURS = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

export function headColour(head) {
  return HEAD_COLOURS[head % HEAD_COLOURS.length];
}

/** Geometry of the two columns for `rows` queries and `cols` keys in `width` CSS px. */
export function linesLayout(width, rows, cols) {
  const rowPx = Math.max(6, Math.min(16, Math.floor(640 / Math.max(rows, cols, 1))));
  const textW = Math.min(140, Math.floor(width * 0.25));
  return {
    width,
    rowPx,
    textW,
    x0: textW + 6,
    x1: width - textW - 6,
    height: rowPx * Math.max(rows, cols) + 4,
  };
}

/** Which token a point is over: {side: "query" | "key", index} (index within the range). */
export function tokenAt(layout, rows, cols, x, y) {
  const index = Math.floor((y - 2) / layout.rowPx);
  if (x < layout.x0 && index >= 0 && index < rows) return { side: "query", index };
  if (x > layout.x1 && index >= 0 && index < cols) return { side: "key", index };
  return null;
}

/**
 * Draw lines for heads `heads` of layer `entry` over the region `view`.
 * hover: {side, index} or null. Returns the layout (for hit testing).
 */
export function drawLines(
  canvas,
  { entry, heads, view, queryTokens, keyTokens, width, dpr, hover },
) {
  const rows = view.q1 - view.q0;
  const cols = view.k1 - view.k0;
  const L = linesLayout(width, rows, cols);
  canvas.width = Math.round(L.width * dpr);
  canvas.height = Math.round(L.height * dpr);
  canvas.style.width = `${L.width}px`;
  canvas.style.height = `${L.height}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, L.width, L.height);
  const nK = entry.shape[2];
  const y = (i) => 2 + (i + 0.5) * L.rowPx;
  for (const head of heads) {
    const values = decodeHead(entry, head);
    const [r, g, b] = headColour(head);
    for (let q = 0; q < rows; q++) {
      if (hover?.side === "query" && hover.index !== q) continue;
      for (let k = 0; k < cols; k++) {
        if (hover?.side === "key" && hover.index !== k) continue;
        const w = values[(view.q0 + q) * nK + view.k0 + k];
        if (!(w > 0.01)) continue;
        ctx.strokeStyle = `rgba(${r}, ${g}, ${b}, ${Math.min(1, w).toFixed(3)})`;
        ctx.lineWidth = hover ? 2 : 1.5;
        ctx.beginPath();
        ctx.moveTo(L.x0, y(q));
        ctx.lineTo(L.x1, y(k));
        ctx.stroke();
      }
    }
  }
  ctx.fillStyle = getComputedStyle(canvas).color || "#222";
  ctx.font = `${Math.min(12, L.rowPx - 1)}px sans-serif`;
  ctx.textBaseline = "middle";
  ctx.textAlign = "right";
  for (let q = 0; q < rows; q++) {
    const on = hover?.side === "query" && hover.index === q;
    ctx.globalAlpha = hover && !on && hover.side === "query" ? 0.4 : 1;
    ctx.fillText(truncateLabel(queryTokens[view.q0 + q], 20), L.x0 - 4, y(q), L.textW);
  }
  ctx.textAlign = "left";
  for (let k = 0; k < cols; k++) {
    const on = hover?.side === "key" && hover.index === k;
    ctx.globalAlpha = hover && !on && hover.side === "key" ? 0.4 : 1;
    ctx.fillText(truncateLabel(keyTokens[view.k0 + k], 20), L.x1 + 4, y(k), L.textW);
  }
  ctx.globalAlpha = 1;
  return L;
}
