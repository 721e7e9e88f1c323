import { describe, expect, it } from "vitest";
import {
  fromMessage,
  isEmpty,
  readArray,
  readPackedValue,
  row,
  sizeOf,
} from "../../js/shared/arrays.js";

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

describe("readPackedValue from an unaligned DataView", () => {
  // What widgets/arrays.py packed_value({"counts": [[1, 2, 3], [4, 5, 6]], "x": [0.5, -2]})
  // produces: int32 then float32, back to back, little endian.
  function packed() {
    const buffer = new ArrayBuffer(24 + 8 + 3);
    const view = new DataView(buffer, 3, 32); // not on a 4-byte boundary
    for (let i = 0; i < 6; i++) view.setInt32(4 * i, i + 1, true);
    view.setFloat32(24, 0.5, true);
    view.setFloat32(28, -2, true);
    const arrays = {
      counts: { offset: 0, dtype: "int32", shape: [2, 3] },
      x: { offset: 24, dtype: "float32", shape: [2] },
    };
    return { value: view, arrays };
  }

  it("decodes each array with its dtype and shape", () => {
    const { arrays } = readPackedValue(packed());
    expect(arrays.get("counts").data).toBeInstanceOf(Int32Array);
    expect(Array.from(row(arrays.get("counts"), 1))).toEqual([4, 5, 6]);
    expect(Array.from(arrays.get("x").data)).toEqual([0.5, -2]);
    expect(arrays.get("x").shape).toEqual([2]);
  });

  it("rejects arrays that run past the buffer and unknown dtypes", () => {
    const payload = packed();
    payload.arrays.x.shape = [5];
    expect(() => readPackedValue(payload, "data")).toThrow("data.x: bytes 24..44 outside 32");
    payload.arrays.x = { offset: 24, dtype: "float64", shape: [1] };
    expect(() => readPackedValue(payload, "data")).toThrow("data.x: unsupported dtype float64");
  });

  it("sizes shapes, including scalars", () => {
    expect(sizeOf([2, 3, 4])).toBe(24);
    expect(sizeOf([])).toBe(1);
  });
});

describe("fromMessage", () => {
  it("puts a reply's one buffer back as its value", () => {
    const buffer = view(new Uint8Array([7, 8]));
    const payload = fromMessage({ type: "tile", dtype: "uint8", shape: [2], lo: 0 }, [buffer]);
    const { data, meta } = readArray(payload, "tile");
    expect(Array.from(data)).toEqual([7, 8]);
    expect(meta).toEqual({ type: "tile", lo: 0 });
    expect(() => readArray(fromMessage({ dtype: "uint8", shape: [2] }, []), "tile")).toThrow(
      "tile: no data",
    );
  });
});
