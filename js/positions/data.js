// Numbers behind the PositionView: what the views derive from the float32 arrays of `data`
// (similarity, bias matrices, wrapped angles). No DOM here.

/** [rows, rows] dot products or cosines between the rows of a [rows, cols] table. */
export function similarityMatrix(table, rows, cols, metric) {
  const norms = new Float64Array(rows).fill(1);
  if (metric === "cosine") {
    for (let i = 0; i < rows; i++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += table[i * cols + c] ** 2;
      norms[i] = s > 0 ? Math.sqrt(s) : 1;
    }
  }
  const out = new Float32Array(rows * rows);
  for (let i = 0; i < rows; i++) {
    const a = i * cols;
    for (let j = i; j < rows; j++) {
      const b = j * cols;
      let s = 0;
      for (let c = 0; c < cols; c++) s += table[a + c] * table[b + c];
      const v = s / (norms[i] * norms[j]);
      out[i * rows + j] = v;
      out[j * rows + i] = v;
    }
  }
  return out;
}

/** One row of similarity (row `index` against every row), without the full matrix. */
export function similarityRow(table, rows, cols, index, metric) {
  const out = new Float32Array(rows);
  let selfNorm = 0;
  for (let c = 0; c < cols; c++) selfNorm += table[index * cols + c] ** 2;
  selfNorm = Math.sqrt(selfNorm) || 1;
  for (let j = 0; j < rows; j++) {
    let s = 0;
    let n = 0;
    for (let c = 0; c < cols; c++) {
      s += table[index * cols + c] * table[j * cols + c];
      n += table[j * cols + c] ** 2;
    }
    out[j] = metric === "cosine" ? s / (selfNorm * (Math.sqrt(n) || 1)) : s;
  }
  return out;
}

/**
 * [length, length] bias of one head: bias[head, (key - query) - minDistance], from a
 * [heads, 2 * length - 1] table. With causal, keys after the query are NaN (masked).
 */
export function biasMatrix(bias, nDistances, head, length, minDistance, causal) {
  const out = new Float32Array(length * length);
  const row = head * nDistances;
  for (let q = 0; q < length; q++) {
    for (let k = 0; k < length; k++) {
      out[q * length + k] = causal && k > q ? Number.NaN : bias[row + k - q - minDistance];
    }
  }
  return out;
}

/** Column `col` of a [rows, cols] table. */
export function column(table, rows, cols, col) {
  const out = new Float32Array(rows);
  for (let i = 0; i < rows; i++) out[i] = table[i * cols + col];
  return out;
}

/** An angle in radians wrapped into (-pi, pi]. */
export function wrapAngle(angle) {
  const turn = 2 * Math.PI;
  const wrapped = angle - turn * Math.floor((angle + Math.PI) / turn);
  return wrapped === -Math.PI ? Math.PI : wrapped;
}

/** [min, max] of the finite values (or [0, 1] when there are none; widened when flat). */
export function finiteRange(values) {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (Number.isFinite(v)) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (lo > hi) return [0, 1];
  if (lo === hi) return [lo - 0.5, hi + 0.5];
  return [lo, hi];
}

/**
 * [lo, hi] between the `fraction` and 1 - `fraction` quantiles of the finite values, so that a
 * few outliers (a learned table's position 0) do not wash out the colours of the rest.
 */
export function robustRange(values, fraction = 0.01) {
  const finite = Float32Array.from(values).filter(Number.isFinite).sort();
  if (finite.length === 0) return [0, 1];
  const at = (q) => finite[Math.min(finite.length - 1, Math.floor(q * finite.length))];
  const lo = at(fraction);
  const hi = at(1 - fraction);
  return lo < hi ? [lo, hi] : finiteRange(finite);
}

/** Clamp an index into [0, n - 1]; -1 when n is 0. */
export function clampIndex(value, n) {
  if (!(n > 0)) return -1;
  const v = Number.isFinite(Number(value)) ? Math.trunc(Number(value)) : 0;
  return Math.min(n - 1, Math.max(0, v));
}

/** "1.23e-4" style short numbers for axes and readouts. */
export function formatNumber(v) {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(2);
  return String(Number(v.toPrecision(3)));
}
