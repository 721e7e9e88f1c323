import { describe, expect, it } from "vitest";
import {
  biasMatrix,
  finiteRange,
  robustRange,
  similarityMatrix,
  similarityRow,
  wrapAngle,
} from "../../js/positions/data.js";
import { niceTicks } from "../../js/positions/plots.js";

describe("similarity", () => {
  const table = Float32Array.from([3, 4, 1, 0, 0, 0]); // rows (3, 4), (1, 0), (0, 0)
  it("dot products by hand", () => {
    expect(Array.from(similarityMatrix(table, 3, 2, "dot"))).toEqual([25, 3, 0, 3, 1, 0, 0, 0, 0]);
  });
  it("cosines by hand, zero rows give 0", () => {
    const cos = similarityMatrix(table, 3, 2, "cosine");
    expect(cos[0]).toBeCloseTo(1);
    expect(cos[1]).toBeCloseTo(0.6);
    expect(cos[8]).toBe(0);
  });
  it("one row equals the row of the full matrix", () => {
    const full = similarityMatrix(table, 3, 2, "cosine");
    expect(Array.from(similarityRow(table, 3, 2, 1, "cosine"))).toEqual(
      Array.from(full.slice(3, 6)),
    );
  });
});

describe("biasMatrix", () => {
  // 2 heads, length 3: distances -2..2
  const bias = Float32Array.from([-2, -1, 0, 1, 2, 10, 20, 30, 40, 50]);
  it("gathers bias[head, key - query]", () => {
    expect(Array.from(biasMatrix(bias, 5, 1, 3, -2, false))).toEqual([
      30, 40, 50, 20, 30, 40, 10, 20, 30,
    ]);
  });
  it("masks future keys when causal", () => {
    const m = biasMatrix(bias, 5, 0, 3, -2, true);
    expect(Number.isNaN(m[1])).toBe(true);
    expect(m[3]).toBe(-1);
  });
});

describe("ranges and ticks", () => {
  it("wraps angles into (-pi, pi]", () => {
    expect(wrapAngle(0)).toBe(0);
    expect(wrapAngle(3 * Math.PI)).toBeCloseTo(Math.PI);
    expect(wrapAngle(-Math.PI)).toBeCloseTo(Math.PI);
    expect(wrapAngle(7)).toBeCloseTo(7 - 2 * Math.PI);
  });
  it("skips non-finite values and widens flat ranges", () => {
    expect(finiteRange([Number.NaN, 2, -1])).toEqual([-1, 2]);
    expect(finiteRange([3, 3])).toEqual([2.5, 3.5]);
    expect(finiteRange([])).toEqual([0, 1]);
  });
  it("robust range ignores a few outliers", () => {
    const values = Array.from({ length: 1000 }, (_, i) => i / 1000);
    values[0] = -100;
    values[999] = 100;
    const [lo, hi] = robustRange(values);
    expect(lo).toBeCloseTo(0.01, 2);
    expect(hi).toBeCloseTo(0.99, 2);
  });
  it("nice ticks", () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(-0.1, 1, 5)).toEqual([0, 0.5, 1]);
    expect(niceTicks(-199, 199, 6)).toEqual([-100, 0, 100]);
  });
});
