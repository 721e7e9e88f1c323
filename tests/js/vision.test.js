import { describe, expect, it } from "vitest";
import { fuseHeads } from "../../js/shared/heads.js";
import {
  canvasSize,
  cellsOf,
  edges,
  layerQuery,
  peak,
  specialsOf,
  toGrid,
  tokenAt,
} from "../../js/vision/geometry.js";
import { shortLabel, shownLabel } from "../../js/vision/labels.js";
import { specialText, stripGeometry } from "../../js/vision/patching_draw.js";
import { AttentionStore, decodeRows, entryOf } from "../../js/vision/store.js";

// A ViT-like layout: [CLS], [REG0], then a 2 x 3 grid of 8 px patches on a 16 x 24 image.
const VIT = {
  image_shape: [16, 24],
  patch_grid: [2, 3],
  patch_size: [8, 8],
  positions: [null, null, [0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]],
  cls: 0,
  layers: [{ grid: [2, 3], cell: [8, 8], heads: 2, size: 8, own: false }],
};
// A Swin-like layout: a 4 x 4 grid of 2 px patches, then a 2 x 2 stage of 4 px cells.
const SWIN = {
  image_shape: [8, 8],
  patch_grid: [4, 4],
  patch_size: [2, 2],
  positions: Array.from({ length: 16 }, (_, i) => [Math.floor(i / 4), i % 4]),
  cls: -1,
  layers: [
    { grid: [4, 4], cell: [2, 2], heads: 1, size: 16, own: true },
    { grid: [2, 2], cell: [4, 4], heads: 1, size: 4, own: true },
  ],
};

/** A packed payload as the kernel sends it (uint8 weights, then float32 scales, aligned). */
function packed(weights, wShape, scale, sShape, meta) {
  const offset = Math.ceil(weights.length / 4) * 4;
  const buffer = new ArrayBuffer(offset + scale.length * 4);
  new Uint8Array(buffer).set(weights);
  new Float32Array(buffer, offset).set(scale);
  return {
    value: new DataView(buffer),
    arrays: {
      weights: { offset: 0, dtype: "uint8", shape: wShape },
      scale: { offset, dtype: "float32", shape: sShape },
    },
    ...meta,
  };
}

describe("geometry", () => {
  it("sizes the canvas by the longest side and puts edges on rounded patch boundaries", () => {
    expect(canvasSize(VIT, 48, 2)).toEqual({ cssW: 48, cssH: 32, w: 96, h: 64, k: 4 });
    expect(Array.from(edges(3, 16, 448 / 96, 448))).toEqual([0, 75, 149, 224]);
  });

  it("maps tokens to cells, pixels to tokens and queries across Swin stages", () => {
    expect(Array.from(cellsOf(VIT, 0))).toEqual([-1, -1, 0, 1, 2, 3, 4, 5]);
    expect(tokenAt(VIT, 9, 12)).toBe(6);
    expect(tokenAt(VIT, 24, 0)).toBe(-1);
    expect(specialsOf(VIT)).toEqual([0, 1]);
    expect(layerQuery(VIT, 0, 6)).toBe(6);
    const stage = Array.from({ length: 16 }, (_, q) => layerQuery(SWIN, 1, q));
    expect(stage).toEqual([0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3]);
    const grid = toGrid(new Float32Array([0.5, 0.1, 0, 0, 0.4, 0, 0, 0]), cellsOf(VIT, 0), 2, 3);
    expect(Array.from(grid)).toEqual([0, 0, 0.4, 0, 0, 0].map((v) => Math.fround(v)));
    expect(peak(grid)).toEqual({ value: Math.fround(0.4), index: 2 });
  });
});

describe("store", () => {
  it("decodes byte² × the row's scale and fuses heads", () => {
    // two heads, two keys, one query (rows mode): head 0 [1, 0.25], head 1 [0, 1]
    const entry = entryOf(packed([255, 128, 0, 255], [2, 2], [1 / 65025, 1 / 65025], [2], {}));
    const rows = decodeRows(entry, 0);
    expect(rows[0]).toBeCloseTo(1, 6);
    expect(rows[1]).toBeCloseTo(0.252, 3);
    expect(Array.from(fuseHeads(rows, 2, 2, "max", 0)).map((v) => v.toFixed(3))).toEqual([
      "1.000",
      "1.000",
    ]);
    expect(fuseHeads(rows, 2, 2, "mean", 0)[0]).toBeCloseTo(0.5, 6);
    expect(Array.from(fuseHeads(rows, 2, 2, "one", 7))).toEqual([0, 1]); // clamped to head 1
  });

  it("asks for a missing layer once, caches the reply and remembers errors", () => {
    const sent = [];
    let changes = 0;
    const state = { mode: "layers", first_data: {} };
    const model = { get: (k) => state[k], send: (m) => sent.push(m) };
    const store = new AttentionStore(model, () => changes++);
    expect(store.rows(1, 0)).toBeNull();
    expect(store.rows(1, 0)).toBeNull();
    expect(sent).toEqual([{ type: "request_layer", id: 1, layer: 1 }]);
    const reply = packed([255, 0, 0, 255], [1, 2, 2], [1 / 65025, 2 / 65025], [1, 2], {
      type: "layer",
      id: 1,
      layer: 1,
    });
    const { value, ...msg } = reply;
    expect(store.handle(msg, [value])).toBe(true);
    expect(Array.from(store.rows(1, 1).rows)).toEqual([0, 2]);
    expect(changes).toBe(1);
    store.rows(2, 0);
    store.handle({ type: "error", id: 2, message: "layer: 2 is out of range" }, []);
    expect(store.error(2, 0)).toBe("layer: 2 is out of range");
    store.rows(2, 0);
    expect(sent.length).toBe(2); // a refused request is not asked again
    expect(store.handle({ type: "something else" }, [])).toBe(false);
    store.close();
  });

  it("forgets a request answered with retry and asks again", () => {
    const sent = [];
    const state = { mode: "rows", first_data: {} };
    const store = new AttentionStore({ get: (k) => state[k], send: (m) => sent.push(m) }, () => {});
    store.rows(0, 5);
    store.handle({ type: "error", id: 1, message: "superseded", retry: true }, []);
    store.rows(0, 5);
    expect(sent.map((m) => [m.type, m.query])).toEqual([
      ["request_rows", 5],
      ["request_rows", 5],
    ]);
    store.close();
  });
});

describe("labels", () => {
  it("shows bidi and control characters as marks and cuts long labels", () => {
    expect(shownLabel("a\u202eb\nc\u0007")).toBe("a⟨U+202E⟩b\\nc⟨U+0007⟩");
    expect(shortLabel("abcdefgh", 5)).toBe("abcd…");
    expect(specialText("[REG12]")).toBe("R12");
    expect(specialText("[CLS]")).toBe("CLS");
    expect(stripGeometry(197)).toEqual({ box: 28, perLine: 32, lines: 7 });
    expect(stripGeometry(1370)).toEqual({ box: 10, perLine: 89, lines: 16 });
  });
});
