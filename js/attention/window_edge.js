// Sliding-window layers: the edge of the band a query may see, drawn on the heatmap, and the
// title text. The AttentionView's `windows` trait holds, per layer, [] (no window) or
// [lo, hi]: the key - query offsets let through (a causal window of 512 is [-511, 0]).

export const EDGE_RGB = [230, 30, 30]; // outside the viridis ramp and the masked grey

/** The window [lo, hi] of a layer, or null. */
export function windowOf(windows, layer) {
  const w = windows?.[layer];
  return Array.isArray(w) && w.length === 2 ? w : null;
}

/** Keys a causal window shows each query, or a two-sided band's width. */
export function windowSize([lo, hi]) {
  return hi === 0 ? 1 - lo : hi - lo;
}

/** " · window 512" for a sliding-window layer, "" otherwise. */
export function windowTitle(windows, layer) {
  const w = windowOf(windows, layer);
  return w ? ` · window ${windowSize(w)}` : "";
}

/**
 * The band edges as polylines in cell units of the region shown (view = {q0, q1, k0, k1}):
 * a staircase along cell borders, so no cell's centre is covered. Each point is [x, y].
 */
export function edgePaths(window, view) {
  const [lo, hi] = window;
  const paths = [];
  for (const [offset, side] of [
    [lo, 0],
    [hi + 1, 1],
  ]) {
    if (side === 1 && hi === 0) continue; // causal: the diagonal is the causal mask's own edge
    const points = [];
    for (let q = view.q0; q < view.q1; q++) {
      const x = q + offset - view.k0;
      const y = q - view.q0;
      points.push([x, y], [x, y + 1]);
    }
    paths.push(points);
  }
  return paths;
}

/** Draw the window's edges over the heatmap canvas (after the heatmap itself). */
export function drawWindowEdge(canvas, window, view) {
  if (!window || !view || view.q1 <= view.q0 || view.k1 <= view.k0) return;
  const ctx = canvas.getContext("2d");
  const sx = canvas.width / (view.k1 - view.k0);
  const sy = canvas.height / (view.q1 - view.q0);
  const dpr = globalThis.devicePixelRatio || 1;
  ctx.save();
  ctx.strokeStyle = `rgb(${EDGE_RGB.join(", ")})`;
  ctx.lineWidth = Math.max(1, Math.round(2 * dpr));
  ctx.lineJoin = "miter";
  for (const points of edgePaths(window, view)) {
    ctx.beginPath();
    points.forEach(([x, y], i) => {
      if (i === 0) ctx.moveTo(x * sx, y * sy);
      else ctx.lineTo(x * sx, y * sy);
    });
    ctx.stroke();
  }
  ctx.restore();
}
