import { describe, expect, it } from "vitest";
import { decodeHead, splitChunk, valueRange } from "../../js/attention/decode.js";
import { applyScale } from "../../js/attention/scales.js";
import { decodeTile } from "../../js/attention/tiles.js";
import { fillPixels, MASKED_RGB } from "../../js/shared/colormap.js";

const NEG = Number.NEGATIVE_INFINITY;

describe("masked cells (byte 0 = -inf)", () => {
  // finite range [-2, 3] on bytes 1..255: scale = 5 / 254, offset = -2 - scale
  const scale = 5 / 254;
  const meta = {
    layers: [0],
    dtype: "uint8",
    shape: [1, 1, 2, 2],
    offset: [[-2 - scale]],
    scale: [[scale]],
    masked_byte: 0,
  };

  it("decodes byte 0 to -Infinity and keeps the finite range signed", () => {
    const [entry] = splitChunk({ value: Uint8Array.of(1, 0, 128, 255), ...meta });
    const values = decodeHead(entry, 0);
    expect(values[0]).toBeCloseTo(-2, 5);
    expect(values[1]).toBe(NEG);
    expect(values[3]).toBeCloseTo(3, 5);
    const [lo, hi] = valueRange(entry);
    expect(lo).toBeCloseTo(-2, 5);
    expect(hi).toBeCloseTo(3, 5);
  });

  it("without masked_byte, byte 0 is a value", () => {
    const chunk = { value: Uint8Array.of(0, 255, 0, 0), ...meta, masked_byte: undefined };
    const [entry] = splitChunk(chunk);
    expect(decodeHead(entry, 0)[0]).toBeCloseTo(-2 - scale, 5);
  });

  it("decodes masked tiles", () => {
    const tile = { lo: -1, hi: 1, masked_byte: 0, bytes: Uint8Array.of(0, 1, 128, 255) };
    const values = decodeTile(tile);
    expect(values[0]).toBe(NEG);
    expect(values[1]).toBeCloseTo(-1, 5);
    expect(values[2]).toBeCloseTo(0, 5);
    expect(values[3]).toBeCloseTo(1, 5);
    expect(decodeTile({ lo: 0, hi: 1, bytes: Uint8Array.of(0, 255) })[0]).toBe(0);
  });

  it("keeps masked cells through every scale and draws them grey", () => {
    const values = Float32Array.of(NEG, -1, 0.5, 1);
    for (const scale of ["linear", "log", "row"]) {
      const { t } = applyScale(values, 2, 2, -1, 1, scale);
      expect(t[0]).toBe(NEG);
      expect(Number.isFinite(t[3])).toBe(true);
    }
    expect(applyScale(values, 2, 2, -1, 1, "row").t[1]).toBe(0); // row min ignores -inf
    const pixels = fillPixels(new Uint8ClampedArray(8), Float32Array.of(NEG, 0), 0, 1);
    expect(Array.from(pixels.slice(0, 4))).toEqual([...MASKED_RGB, 255]);
    expect(Array.from(pixels.slice(4, 8))).not.toEqual([...MASKED_RGB, 255]);
  });
});
