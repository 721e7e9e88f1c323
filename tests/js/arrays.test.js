import { describe, expect, it } from "vitest";
import { isEmpty, readArray, readPackedValue } from "../../js/shared/arrays.js";

/** A DataView at an odd offset, as ipywidgets hands buffers over. */
function view(bytes) {
  const buffer = new ArrayBuffer(bytes.length + 3);
  new Uint8Array(buffer, 3).set(bytes);
  return new DataView(buffer, 3, bytes.length);
}

describe("readArray", () => {
  it("reads float32 data with its shape and meta, from an unaligned DataView", () => {
    const values = new Float32Array([0.5, -1, 2, 3.25, 4, 5]);
    const payload = {
      value: view(new Uint8Array(values.buffer)),
      dtype: "float32",
      shape: [2, 3],
      kind: "x",
    };
    const { data, shape, meta } = readArray(payload);
    expect(Array.from(data)).toEqual([0.5, -1, 2, 3.25, 4, 5]);
    expect(shape).toEqual([2, 3]);
    expect(meta).toEqual({ kind: "x" });
  });

  it("names the field when the bytes do not fit the shape", () => {
    const payload = { value: view(new Uint8Array(5)), dtype: "uint8", shape: [2, 3] };
    expect(() => readArray(payload, "tile")).toThrow("tile: 5 bytes for uint8 [2,3]");
    expect(() => readArray({ ...payload, dtype: "float64" }, "tile")).toThrow("unsupported dtype");
  });

  it("treats {} as empty", () => {
    expect(isEmpty({})).toBe(true);
    expect(() => readArray({}, "image")).toThrow("image: no data");
  });
});

describe("readPackedValue", () => {
  it("reads named arrays packed 4-byte aligned", () => {
    const bytes = new Uint8Array(20);
    new Float32Array(bytes.buffer, 0, 2).set([1, 2]);
    new Int32Array(bytes.buffer, 8, 3).set([7, 8, 9]);
    const payload = {
      value: view(bytes),
      arrays: {
        a: { offset: 0, dtype: "float32", shape: [2] },
        b: { offset: 8, dtype: "int32", shape: [3] },
      },
      step: 4,
    };
    const { arrays, meta } = readPackedValue(payload);
    expect(Array.from(arrays.get("a").data)).toEqual([1, 2]);
    expect(Array.from(arrays.get("b").data)).toEqual([7, 8, 9]);
    expect(meta).toEqual({ step: 4 });
  });
});
