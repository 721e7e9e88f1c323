// The region of one head the heatmap shows: rows [q0, q1) x cols [k0, k1), zoomed and panned.

import { labelStep } from "../shared/layout.js";

export const MIN_SPAN = 4; // never zoom in past 4 x 4 tokens

/** The whole head. */
export function fullView(nQ, nK) {
  return { q0: 0, q1: nQ, k0: 0, k1: nK };
}

// Round both ends (so an anchored end stays put), then slide the span back inside [0, length].
function clampSpan(start, end, length) {
  let a = Math.round(start);
  let b = Math.round(end);
  if (b - a < 1) b = a + 1;
  if (b - a > length) [a, b] = [0, length];
  if (a < 0) [a, b] = [0, b - a];
  if (b > length) [a, b] = [a - (b - length), length];
  return [a, b];
}

/**
 * Zoom by factor (> 1 zooms in) around the point at fractions (fx, fy) of the shown region,
 * keeping that point still; spans stay within [min(MIN_SPAN, length), length].
 */
export function zoomView(view, nQ, nK, factor, fx = 0.5, fy = 0.5) {
  const zoomAxis = (a0, a1, length, f) => {
    const span = a1 - a0;
    const next = Math.max(Math.min(MIN_SPAN, length), Math.min(length, span / factor));
    const anchor = a0 + f * span;
    return clampSpan(anchor - f * next, anchor + (1 - f) * next, length);
  };
  const [q0, q1] = zoomAxis(view.q0, view.q1, nQ, fy);
  const [k0, k1] = zoomAxis(view.k0, view.k1, nK, fx);
  return { q0, q1, k0, k1 };
}

/** Move the region by (dRows, dCols) tokens, staying inside the head. */
export function panView(view, nQ, nK, dRows, dCols) {
  const [q0, q1] = clampSpan(view.q0 + dRows, view.q1 + dRows, nQ);
  const [k0, k1] = clampSpan(view.k0 + dCols, view.k1 + dCols, nK);
  return { q0, q1, k0, k1 };
}

export function isFull(view, nQ, nK) {
  return view.q0 === 0 && view.k0 === 0 && view.q1 === nQ && view.k1 === nK;
}

/** The layout L (for the whole head) with cells sized for the region shown. */
export function viewLayout(L, view) {
  const cellW = L.heatW / Math.max(1, view.k1 - view.k0);
  const cellH = L.heatH / Math.max(1, view.q1 - view.q0);
  return {
    ...L,
    cellW,
    cellH,
    queryStep: labelStep(cellH, L.fontPx),
    keyStep: labelStep(cellW, L.fontPx),
  };
}

/** Copy rows/cols of the region out of a full [nQ, nK] head (row-major Float32Array). */
export function cropValues(values, nK, view) {
  const rows = view.q1 - view.q0;
  const cols = view.k1 - view.k0;
  if (rows * cols === values.length) return values;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const start = (view.q0 + r) * nK + view.k0;
    out.set(values.subarray(start, start + cols), r * cols);
  }
  return out;
}
