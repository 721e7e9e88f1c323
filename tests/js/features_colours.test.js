import { describe, expect, it } from "vitest";
import { cssColour, fmt, valueColour } from "../../js/features/colours.js";

describe("valueColour", () => {
  it("is red for positive, blue for negative, alpha |value| / scale capped at 1", () => {
    expect(valueColour(2, 4)).toEqual([214, 39, 40, 0.5]);
    expect(valueColour(-8, 4)).toEqual([31, 119, 180, 1]);
    expect(valueColour(0, 4)[3]).toBe(0);
  });
  it("draws NaN grey and survives a zero scale", () => {
    expect(valueColour(Number.NaN, 1)).toEqual([150, 150, 150, 0.5]);
    expect(valueColour(3, 0)[3]).toBe(1);
    expect(cssColour(-1, 2)).toBe("rgba(31, 119, 180, 0.500)");
  });
  it("formats values", () => {
    expect(fmt(0.123456)).toBe("0.123");
    expect(fmt(Number.POSITIVE_INFINITY)).toBe("NaN");
  });
});
