import { describe, expect, it } from "vitest";
import {
  canvasPixels,
  cellAt,
  clampIndex,
  computeLayout,
  displayLabel,
  labelStep,
  MAX_CELL,
  MIN_SIDE,
  truncateLabel,
  viewWidth,
} from "../../js/shared/layout.js";

const tokens = (n, word = "tok") => Array.from({ length: n }, (_, i) => `${word}${i}`);

describe("layout", () => {
  it("takes min(600, available) as width", () => {
    expect(viewWidth(0)).toBe(600);
    expect(viewWidth(1200)).toBe(600);
    expect(viewWidth(420)).toBe(420);
  });

  it("makes square cells that fit the width", () => {
    for (const n of [3, 12, 64, 256, 1024]) {
      const L = computeLayout({ width: 600, queryTokens: tokens(n), keyTokens: tokens(n) });
      expect(L.cellW).toBe(L.cellH);
      expect(L.cellW).toBeLessThanOrEqual(MAX_CELL);
      expect(L.marginLeft + L.heatW).toBeLessThanOrEqual(600);
      expect(L.heatW).toBeCloseTo(L.cellW * n, 9);
    }
  });

  it("keeps a one-row map visible", () => {
    const L = computeLayout({ width: 600, queryTokens: ["a"], keyTokens: tokens(500) });
    expect(L.heatH).toBeGreaterThanOrEqual(Math.min(MAX_CELL, MIN_SIDE));
    expect(L.marginLeft + L.heatW).toBeLessThanOrEqual(600);
  });

  it("thins labels so that neighbours do not overlap", () => {
    const L = computeLayout({ width: 600, queryTokens: tokens(512), keyTokens: tokens(512) });
    expect(L.queryStep * L.cellH).toBeGreaterThanOrEqual(L.fontPx);
    expect(L.keyStep * L.cellW).toBeGreaterThanOrEqual(L.fontPx);
    expect(L.fontPx).toBeGreaterThanOrEqual(9);
    const small = computeLayout({ width: 600, queryTokens: tokens(8), keyTokens: tokens(8) });
    expect(small.queryStep).toBe(1);
    expect(small.fontPx).toBe(12);
    expect(labelStep(0, 10)).toBe(1);
  });

  it("leaves room for the labels, up to a cap", () => {
    const short = computeLayout({ width: 600, queryTokens: ["a"], keyTokens: ["b"] });
    const long = computeLayout({
      width: 600,
      queryTokens: ["x".repeat(200)],
      keyTokens: ["y".repeat(200)],
    });
    expect(long.marginLeft).toBeGreaterThan(short.marginLeft);
    expect(long.marginLeft).toBeLessThan(200);
    expect(long.marginTop).toBeLessThan(200);
  });

  it("truncates labels and makes control characters visible", () => {
    expect(truncateLabel("short")).toBe("short");
    expect(truncateLabel("abcdefghij", 5)).toBe("abcd…");
    expect(Array.from(truncateLabel("😀".repeat(20), 4))).toHaveLength(4);
    expect(displayLabel("a\nb\tc\u0007")).toBe("a\\nb\\tc\ufffd");
    expect(displayLabel(null)).toBe("");
  });

  it("maps pixels to cells", () => {
    const L = computeLayout({ width: 600, queryTokens: tokens(4), keyTokens: tokens(5) });
    expect(cellAt(L, 0, 0, 4, 5)).toEqual({ row: 0, col: 0 });
    expect(cellAt(L, L.cellW * 2.5, L.cellH * 3.5, 4, 5)).toEqual({ row: 3, col: 2 });
    expect(cellAt(L, L.heatW - 0.01, L.heatH - 0.01, 4, 5)).toEqual({ row: 3, col: 4 });
    expect(cellAt(L, L.heatW, 1, 4, 5)).toBeNull();
    expect(cellAt(L, -1, 1, 4, 5)).toBeNull();
  });

  it("sizes canvases for the device pixel ratio", () => {
    expect(canvasPixels(100, 50, 2)).toEqual({ w: 200, h: 100 });
    expect(canvasPixels(100.4, 50, 1)).toEqual({ w: 100, h: 50 });
    expect(canvasPixels(0, 0, 0)).toEqual({ w: 1, h: 1 });
  });

  it("clamps indices", () => {
    expect(clampIndex(5, 3)).toBe(2);
    expect(clampIndex(-2, 3)).toBe(0);
    expect(clampIndex("x", 3)).toBe(0);
    expect(clampIndex(1.7, 3)).toBe(1);
    expect(clampIndex(0, 0)).toBe(-1);
  });
});
