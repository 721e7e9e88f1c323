import { describe, expect, it } from "vitest";
import {
  cellColour,
  filterIndices,
  pageOf,
  readImages,
  readPredictions,
  thumbPixels,
  topOf,
  WRONG_RGB,
} from "../../js/vision/grid_data.js";

/** A packed value as arrays.packed_value builds it: int32/float32 arrays, 4-byte aligned. */
function packed(arrays) {
  const layout = {};
  const parts = [];
  let offset = 0;
  for (const [name, { data, shape, dtype }] of Object.entries(arrays)) {
    const typed = dtype === "int32" ? Int32Array.from(data) : Float32Array.from(data);
    layout[name] = { offset, dtype, shape };
    parts.push(new Uint8Array(typed.buffer));
    offset += typed.byteLength;
  }
  const bytes = new Uint8Array(offset);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return { value: new DataView(bytes.buffer), arrays: layout };
}

// 5 images, 3 classes, k = 2: labels and top classes (the first is the prediction)
const PRED = readPredictions(
  packed({
    labels: { data: [0, 1, 2, 1, 0], shape: [5], dtype: "int32" },
    classes: { data: [0, 1, 2, 1, 2, 0, 1, 0, 1, 2], shape: [5, 2], dtype: "int32" },
    probabilities: {
      data: [0.9, 0.1, 0.6, 0.3, 0.5, 0.4, 0.7, 0.2, 0.8, 0.1],
      shape: [5, 2],
      dtype: "float32",
    },
  }),
);

describe("prediction grid data", () => {
  it("reads the predictions: the first top class is the prediction", () => {
    expect(PRED.n).toBe(5);
    expect(PRED.k).toBe(2);
    expect([...PRED.predicted]).toEqual([0, 2, 2, 1, 1]);
    expect(topOf(PRED, 1).map((t) => t.cls)).toEqual([2, 1]);
    expect(topOf(PRED, 1)[0].p).toBeCloseTo(0.6);
  });

  it("filters as prediction_grid_data.select does", () => {
    expect(filterIndices(PRED, {})).toEqual([0, 1, 2, 3, 4]);
    expect(filterIndices(PRED, { correctness: "wrong" })).toEqual([1, 4]);
    expect(filterIndices(PRED, { correctness: "right" })).toEqual([0, 2, 3]);
    expect(filterIndices(PRED, { trueClass: 1 })).toEqual([1, 3]);
    expect(filterIndices(PRED, { trueClass: 1, predictedClass: 2 })).toEqual([1]);
    expect(filterIndices(PRED, { predictedClass: 1, correctness: "wrong" })).toEqual([4]);
  });

  it("pages clamp to the last page and count at least one", () => {
    expect(pageOf(130, 64, 0)).toEqual({ page: 0, pages: 3, start: 0, end: 64 });
    expect(pageOf(130, 64, 7)).toEqual({ page: 2, pages: 3, start: 128, end: 130 });
    expect(pageOf(0, 64, 3)).toEqual({ page: 0, pages: 1, start: 0, end: 0 });
  });

  it("scales a thumbnail nearest-neighbour inside its frame", () => {
    // two 2 x 3 images; image 1 has pixel value 10 * (row * 3 + col) + 100 in every channel
    const data = new Uint8Array(2 * 2 * 3 * 3);
    for (let p = 0; p < 6; p++) data.fill(100 + 10 * p, 18 + 3 * p, 18 + 3 * p + 3);
    const images = { data, n: 2, height: 2, width: 3 };
    const size = 8;
    const out = thumbPixels(images, 1, size, 1, WRONG_RGB); // inner 6: scale 2, 6 x 4 centred
    const at = (x, y) => Array.from(out.slice((y * size + x) * 4, (y * size + x) * 4 + 4));
    expect(at(0, 0)).toEqual([...WRONG_RGB, 255]); // the frame
    expect(at(7, 7)).toEqual([...WRONG_RGB, 255]);
    expect(at(1, 1)).toEqual([...WRONG_RGB, 255]); // letterbox rows keep the frame colour
    expect(at(1, 2)).toEqual([100, 100, 100, 255]); // (0, 0) scaled x2 from (1, 2)
    expect(at(6, 5)).toEqual([150, 150, 150, 255]); // (1, 2)
    expect(at(3, 3)).toEqual([110, 110, 110, 255]); // (0, 1)
    const plain = thumbPixels(images, 1, size, 1, null);
    expect(plain[3]).toBe(0); // no frame: transparent
  });

  it("reads the images trait and refuses a wrong shape", () => {
    const value = new DataView(new Uint8Array(2 * 2 * 2 * 3).buffer);
    expect(readImages({ value, dtype: "uint8", shape: [2, 2, 2, 3] }).n).toBe(2);
    expect(() => readImages({ value, dtype: "uint8", shape: [2, 2, 6] })).toThrow(/images/);
  });

  it("colours confusion cells: white when empty, blue on the diagonal, red off it", () => {
    expect(cellColour(0, 10, true)).toBe("rgb(255, 255, 255)");
    expect(cellColour(10, 10, true)).toBe("rgb(40, 100, 190)");
    expect(cellColour(10, 10, false)).toBe("rgb(215, 45, 45)");
  });
});
