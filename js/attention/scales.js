// Colour scales: map values to [0, 1] before the colormap. "linear" spans [lo, hi]; "log" spans
// four decades below hi (probabilities; values <= 0 sit at the bottom); "row" scales every row
// to its own [min(0, row min), row max], so the shape of weak rows shows too.
// Masked cells (-Infinity) stay -Infinity in t: the colormap draws them grey; NaN stays NaN
// (drawn in its own colour).

export const SCALES = ["linear", "log", "row"];
export const LOG_DECADES = 4;
const MASKED = Number.NEGATIVE_INFINITY;

function format(v) {
  return String(Number(v.toPrecision(3)));
}

/**
 * values (Float32Array, rows x cols) -> {t: Float32Array in [0, 1], low, high} where low/high
 * are the colour bar's end labels.
 */
export function applyScale(values, rows, cols, lo, hi, scale) {
  const t = new Float32Array(values.length);
  if (scale === "log" && hi > 0) {
    const top = Math.log10(hi);
    const bottom = top - LOG_DECADES;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v === MASKED || Number.isNaN(v)) t[i] = v;
      else t[i] = v > 0 ? Math.min(1, Math.max(0, (Math.log10(v) - bottom) / LOG_DECADES)) : 0;
    }
    return { t, low: `≤${format(10 ** bottom)}`, high: format(hi) };
  }
  if (scale === "row") {
    for (let r = 0; r < rows; r++) {
      const start = r * cols;
      let rowLo = 0;
      let rowHi = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < cols; c++) {
        const v = values[start + c];
        if (v === MASKED) continue;
        if (v < rowLo) rowLo = v;
        if (v > rowHi) rowHi = v;
      }
      const span = rowHi > rowLo ? rowHi - rowLo : 1;
      for (let c = 0; c < cols; c++) {
        const v = values[start + c];
        t[start + c] = v === MASKED || Number.isNaN(v) ? v : (v - rowLo) / span;
      }
    }
    return { t, low: "row min", high: "row max" };
  }
  const span = hi > lo ? hi - lo : 1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    t[i] = v === MASKED || Number.isNaN(v) ? v : Math.min(1, Math.max(0, (v - lo) / span));
  }
  return { t, low: format(lo), high: format(hi) };
}
