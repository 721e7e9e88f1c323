import { describe, expect, it } from "vitest";
import { extent, fmt, nonfiniteText } from "../../js/norms/plots.js";

describe("norm plot helpers", () => {
  it("names NaN and Inf counts per side", () => {
    expect(nonfiniteText([2, 0, 1, 0, 0, 0], "input")).toBe("input: 2 NaN, 1 -Inf");
    expect(nonfiniteText([2, 0, 1, 0, 3, 0], "output")).toBe("output: 3 +Inf");
    expect(nonfiniteText([0, 0, 0, 0, 0, 0], "input")).toBe("");
  });

  it("finds the finite extent and widens a flat one", () => {
    expect(
      extent([
        [1, Number.NaN, 5],
        [Number.POSITIVE_INFINITY, -2],
      ]),
    ).toEqual([-2, 5]);
    expect(extent([[3, 3]])).toEqual([2.5, 3.5]);
    expect(extent([[Number.NaN]])).toEqual([0, 1]);
  });

  it("formats axis numbers briefly", () => {
    expect(fmt(0.123456)).toBe("0.123");
    expect(fmt(123456)).toBe("1.2e+5");
    expect(fmt(0)).toBe("0");
  });
});
