import { describe, expect, it } from "vitest";
import { axisTitle } from "../../js/attention/axes.js";
import { columnMaxima, rulerTicks } from "../../js/rows/plot.js";

describe("row plot", () => {
  it("gives each canvas column the max of the keys it covers", () => {
    // 10 keys in bins of 3 (the last bin holds one key), drawn on 5 columns (2 keys each)
    const values = [0.1, 0.9, 0.2, 0.4];
    expect(Array.from(columnMaxima(values, 3, 10, 5))).toEqual(
      [0.1, 0.9, 0.9, 0.2, 0.4].map(Math.fround),
    );
  });
  it("widens narrow rows: each key spans several columns", () => {
    expect(Array.from(columnMaxima([1, 0.5], 1, 2, 4))).toEqual([1, 1, 0.5, 0.5]);
  });
  it("puts ruler ticks on round positions, about one per 80 pixels", () => {
    expect(rulerTicks(32768, 800)).toEqual([0, 5000, 10000, 15000, 20000, 25000, 30000]);
    expect(rulerTicks(7, 800)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(rulerTicks(0, 800)).toEqual([]);
  });
});

describe("axis titles", () => {
  it("are a position ruler when only every step-th token is labelled", () => {
    expect(axisTitle("query", 0, 32768, 59)).toBe("query 0–32,767 · every 59th labelled");
    expect(axisTitle("key", 4, 9, 1)).toBe("key");
  });
});
