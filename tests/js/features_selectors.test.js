// The brush rectangle and lasso read off bqplot's selectors (js/features/selectors.js), as
// fractions of the plot area for FeatureMap's kernel-side selection.
import { describe, expect, it } from "vitest";
import { boxFractions, pathFractions, readLasso } from "../../js/features/selectors.js";

describe("brush rectangle", () => {
  it("is the selection rect over the overlay, 0 = left / top", () => {
    const overlay = { width: 400, height: 200 };
    const selection = { x: 100, y: 50, width: 200, height: 100, shown: true };
    expect(boxFractions(selection, overlay)).toEqual([0.25, 0.25, 0.75, 0.75]);
  });
  it("is empty when hidden, flat or the overlay has no size; clamped to the area", () => {
    const overlay = { width: 400, height: 200 };
    expect(boxFractions({ x: 1, y: 1, width: 5, height: 5, shown: false }, overlay)).toEqual([]);
    expect(boxFractions({ x: 1, y: 1, width: 0, height: 5, shown: true }, overlay)).toEqual([]);
    const box = { x: -40, y: 0, width: 480, height: 200, shown: true };
    expect(boxFractions(box, overlay)).toEqual([0, 0, 1, 1]);
    expect(boxFractions(box, { width: Number.NaN, height: 1 })).toEqual([]);
  });
});

describe("lasso path", () => {
  it("reads M / L / Z vertices as fractions", () => {
    const d = "M80,39.0625L111,39.0625L297,355.0625Z";
    expect(pathFractions(d, 400, 400)).toEqual([
      0.2,
      39.0625 / 400,
      111 / 400,
      39.0625 / 400,
      297 / 400,
      355.0625 / 400,
    ]);
    expect(pathFractions("M-1e1,2.5L.5,3L4,5", 10, 10)).toEqual([-1, 0.25, 0.05, 0.3, 0.4, 0.5]);
  });
  it("needs three vertices and an area", () => {
    expect(pathFractions("M1,2L3,4Z", 10, 10)).toEqual([]);
    expect(pathFractions("M1,2L3,4L5,6", 0, 10)).toEqual([]);
  });
  it("takes the last lasso and removes the earlier ones from the page", () => {
    const removed = [];
    const path = (d) => ({ getAttribute: () => d, remove: () => removed.push(d) });
    const group = {
      querySelectorAll: () => [path("M0,0L1,0L0,1"), path("M0,0L10,0L10,10Z")],
      querySelector: () => ({ getAttribute: (name) => (name === "width" ? "20" : "10") }),
    };
    expect(readLasso(group)).toEqual([0, 0, 0.5, 0, 0.5, 1]);
    expect(removed).toEqual(["M0,0L1,0L0,1"]);
  });
});
