import { describe, expect, it } from "vitest";
import { extent, fmt, nonfiniteText } from "../../js/lib/norm_plots.js";
import { readPacked, row, sizeOf } from "../../js/lib/packed.js";

// What widgets/norm_arrays.py pack_arrays({"counts": [[1, 2, 3], [4, 5, 6]], "x": [0.5, -2]})
// produces: int32 then float32, back to back, little endian.
function packed() {
  const buffer = new ArrayBuffer(24 + 8 + 3);
  const start = 3; // a DataView that does not start on a 4-byte boundary
  const view = new DataView(buffer, start, 32);
  for (let i = 0; i < 6; i++) view.setInt32(4 * i, i + 1, true);
  view.setFloat32(24, 0.5, true);
  view.setFloat32(28, -2, true);
  const meta = {
    arrays: {
      counts: { offset: 0, dtype: "int32", shape: [2, 3] },
      x: { offset: 24, dtype: "float32", shape: [2] },
    },
  };
  return { view, meta };
}

describe("readPacked", () => {
  it("decodes each array with its dtype and shape from an unaligned DataView", () => {
    const { view, meta } = packed();
    const arrays = readPacked(view, meta);
    expect(arrays.get("counts").data).toBeInstanceOf(Int32Array);
    expect(Array.from(row(arrays.get("counts"), 1))).toEqual([4, 5, 6]);
    expect(Array.from(arrays.get("x").data)).toEqual([0.5, -2]);
    expect(arrays.get("x").shape).toEqual([2]);
  });

  it("rejects arrays that run past the buffer and unknown dtypes", () => {
    const { view, meta } = packed();
    meta.arrays.x.shape = [5];
    expect(() => readPacked(view, meta)).toThrow(/x: bytes 24..44 outside a 32-byte buffer/);
    meta.arrays.x = { offset: 24, dtype: "float64", shape: [1] };
    expect(() => readPacked(view, meta)).toThrow(/unsupported dtype float64/);
  });

  it("sizes shapes, including scalars", () => {
    expect(sizeOf([2, 3, 4])).toBe(24);
    expect(sizeOf([])).toBe(1);
  });
});

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
