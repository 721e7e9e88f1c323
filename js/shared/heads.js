// Attention rows of every head fused into one row, shared by the image and cross-modal views.

/**
 * Rows of every head (Float32Array [heads * n], head-major) fused over heads: "one" (the row of
 * `head`, clamped to the heads there are), "mean" or "max". Returns Float32Array n.
 *
 *   fuseHeads(new Float32Array([0, 1, 1, 0]), 2, 2, "max", 0); // Float32Array [1, 1]
 */
export function fuseHeads(rows, heads, n, choice, head) {
  const out = new Float32Array(n);
  if (choice === "one") {
    const h = Math.min(Math.max(0, head), heads - 1);
    out.set(rows.subarray(h * n, (h + 1) * n));
    return out;
  }
  for (let h = 0; h < heads; h++) {
    for (let k = 0; k < n; k++) {
      const v = rows[h * n + k];
      if (choice === "max") out[k] = h === 0 ? v : Math.max(out[k], v);
      else out[k] += v / heads;
    }
  }
  return out;
}
