import { describe, expect, it } from "vitest";
import { colorAt, colorIndex, colorTable, fillPixels } from "../../js/shared/colormap.js";

// Relative luminance (sRGB, linearised): a sequential map must rise monotonically.
function luminance([r, g, b]) {
  const lin = (c) => {
    const s = c / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

describe("colormap", () => {
  it("runs from viridis purple to viridis yellow", () => {
    expect(colorAt(0)).toEqual([68, 1, 84, 255]);
    expect(colorAt(1)).toEqual([253, 231, 37, 255]);
  });

  it("clamps and maps NaN to the low end", () => {
    expect(colorAt(-3)).toEqual(colorAt(0));
    expect(colorAt(7)).toEqual(colorAt(1));
    expect(colorAt(Number.NaN)).toEqual(colorAt(0));
  });

  it("gets lighter all the way up", () => {
    let previous = -1;
    for (let i = 0; i <= 100; i++) {
      const y = luminance(colorAt(i / 100));
      expect(y).toBeGreaterThan(previous);
      previous = y;
    }
  });

  it("indexes values into the 256-entry table", () => {
    expect(colorTable()).toHaveLength(1024);
    expect(colorIndex(0, 0, 1)).toBe(0);
    expect(colorIndex(1, 0, 1)).toBe(255);
    expect(colorIndex(0.5, 0, 1)).toBe(128);
    expect(colorIndex(2, 0, 1)).toBe(255);
    expect(colorIndex(-1, 0, 1)).toBe(0);
    expect(colorIndex(Number.NaN, 0, 1)).toBe(0);
    expect(colorIndex(0, -1, 1)).toBe(128);
  });

  it("fills RGBA pixels", () => {
    const pixels = fillPixels(new Uint8ClampedArray(8), Float32Array.of(0, 1), 0, 1);
    expect(Array.from(pixels)).toEqual([68, 1, 84, 255, 253, 231, 37, 255]);
  });
});
