// The row plot of RowView: the pooled row per canvas column, and the position ruler.

/**
 * The largest value per canvas column: `values` holds bins of `step` keys (the last may be
 * shorter) over `nKeys` keys; column x covers keys [x * nKeys / width, (x + 1) * nKeys / width).
 * @param {ArrayLike<number>} values
 * @param {number} step
 * @param {number} nKeys
 * @param {number} width
 * @returns {Float32Array}
 */
export function columnMaxima(values, step, nKeys, width) {
  const out = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const k0 = Math.floor((x * nKeys) / width);
    const k1 = Math.max(k0 + 1, Math.floor(((x + 1) * nKeys) / width));
    const b0 = Math.floor(k0 / step);
    const b1 = Math.min(values.length, Math.ceil(k1 / step));
    let top = 0;
    for (let b = b0; b < b1; b++) if (values[b] > top) top = values[b];
    out[x] = top;
  }
  return out;
}

/**
 * Key positions for ruler ticks: a round step (1, 2 or 5 x 10^n) giving about one tick per
 * 80 pixels.
 * @param {number} nKeys
 * @param {number} width
 * @returns {number[]}
 */
export function rulerTicks(nKeys, width) {
  if (nKeys <= 0 || width <= 0) return [];
  const wanted = Math.max(1, Math.floor(width / 80));
  const raw = nKeys / wanted;
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks = [];
  for (let k = 0; k < nKeys; k += step) ticks.push(k);
  return ticks;
}
