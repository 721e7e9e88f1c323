import { describe, expect, it } from "vitest";
import { fuseHeads } from "../../js/shared/heads.js";
import { blockOf, decodeRow, fuseValues, regionValues, shareValues } from "../../js/vlm/blocks.js";
import { headTraits, headValue } from "../../js/vlm/controls.js";
import { MapStore, mapKey } from "../../js/vlm/map_store.js";
import {
  cellAt,
  keyMap,
  patchOn,
  regionKeys,
  resolveSurface,
  spanOf,
  surfaceGrid,
} from "../../js/vlm/surface.js";
import { visibleToken } from "../../js/vlm/token_list.js";

// A block of 2 heads x 2 text rows x 3 image keys, packed as cross_modal_data.block_value does.
function packedBlock() {
  const weights = new Uint8Array([255, 0, 128, 0, 255, 0, 0, 0, 255, 255, 255, 255]);
  const scale = new Float32Array([1 / 65025, 0.5 / 65025, 0.25 / 65025, 0.3 / 65025]);
  const image = new Float32Array([0.9, 0.5, 0.25, 0.9]);
  const text = new Float32Array([0.1, 0.5, 0.75, 0.1]);
  const buffer = new Uint8Array(12 + 16 * 3);
  buffer.set(weights, 0);
  buffer.set(new Uint8Array(scale.buffer), 12);
  buffer.set(new Uint8Array(image.buffer), 28);
  buffer.set(new Uint8Array(text.buffer), 44);
  return {
    value: new DataView(buffer.buffer),
    arrays: {
      weights: { offset: 0, dtype: "uint8", shape: [2, 2, 3] },
      scale: { offset: 12, dtype: "float32", shape: [2, 2] },
      image: { offset: 28, dtype: "float32", shape: [2, 2] },
      text: { offset: 44, dtype: "float32", shape: [2, 2] },
    },
    layer: 3,
    nan: false,
  };
}

describe("cross-modal blocks", () => {
  const entry = blockOf(packedBlock());

  it("reads the block and decodes one row per head (value = byte² * scale)", () => {
    expect([entry.layer, entry.heads, entry.rows, entry.keys]).toEqual([3, 2, 2, 3]);
    const row = decodeRow(entry, 0);
    expect(row[0]).toBeCloseTo(1, 6);
    expect(row[2]).toBeCloseTo((128 * 128) / 65025, 6);
    expect(row[5]).toBeCloseTo(0.25, 6); // head 1, row 0, key 2
  });

  it("fuses rows of heads: one (clamped), mean, max", () => {
    const rows = new Float32Array([0.2, 0.8, 0.6, 0.4]); // 2 heads x 2 keys
    expect(Array.from(fuseHeads(rows, 2, 2, "one", 9))).toEqual([
      expect.closeTo(0.6),
      expect.closeTo(0.4),
    ]);
    expect(Array.from(fuseHeads(rows, 2, 2, "mean", 0))).toEqual([
      expect.closeTo(0.4),
      expect.closeTo(0.6),
    ]);
    expect(Array.from(fuseHeads(rows, 2, 2, "max", 0))).toEqual([
      expect.closeTo(0.6),
      expect.closeTo(0.8),
    ]);
  });

  it("fuses heads: one (clamped), mean, max", () => {
    expect(fuseValues([0.2, 0.6], "one", 5)).toBe(0.6);
    expect(fuseValues([0.2, 0.6], "mean", 0)).toBeCloseTo(0.4);
    expect(fuseValues([0.2, 0.6], "max", 0)).toBe(0.6);
  });

  it("sums a region's keys per row, and reads the exact shares", () => {
    const both = regionValues(entry, [0, 2], "one", 0);
    expect(both[0]).toBeCloseTo(1 + (128 * 128) / 65025, 5);
    expect(both[1]).toBe(0);
    const max = regionValues(entry, [1], "max", 0);
    expect(max[1]).toBeCloseTo(0.5, 5); // head 0 gives key 1 0.5, head 1 gives it 0.3
    expect(Array.from(shareValues(entry, "image", "mean", 0))).toEqual([
      expect.closeTo(0.575, 5),
      expect.closeTo(0.7, 5),
    ]);
    expect(shareValues(entry, "text", "one", 1)[0]).toBeCloseTo(0.75, 6);
  });
});

describe("surfaces", () => {
  const surface = { grid: [2, 3], cell: [8, 8], image: 0 };
  const grid = surfaceGrid(surface);

  it("lays key values on the grid and finds cells and regions", () => {
    const cells = [0, 5, -1, 3];
    expect(Array.from(keyMap([0.1, 0.2, 0.9, 0.4], cells, grid))).toEqual([
      expect.closeTo(0.1),
      0,
      0,
      expect.closeTo(0.4),
      0,
      expect.closeTo(0.2),
    ]);
    expect(cellAt(grid, 17, 9)).toEqual({ r: 1, c: 2 });
    expect(cellAt(grid, 24, 0)).toBeNull();
    expect(spanOf({ r: 1, c: 2 }, { r: 0, c: 0 })).toEqual([0, 0, 1, 2]);
    expect(regionKeys(cells, grid, [1, 0, 1, 2])).toEqual([1, 3]);
    expect(regionKeys(cells, grid, [])).toEqual([]);
  });
});

describe("feature view helpers", () => {
  const surfaces = [
    { tower: "text", image: 0 },
    { tower: "vision", image: 1 },
    { tower: "vision", image: 0 },
  ];

  it("resolves the surface of a module's tower, keeping the image when it can", () => {
    expect(resolveSurface(surfaces, 0, "text")).toBe(0);
    expect(resolveSurface(surfaces, 0, "vision")).toBe(2);
    expect(resolveSurface(surfaces, 1, "text")).toBe(0);
  });

  it("moves a picked patch onto another grid by its centre", () => {
    expect(patchOn([1, 2, 3, 4], { rows: 3, cols: 4 })).toEqual([1, 2]);
    expect(patchOn([1, 2, 3, 4], { rows: 6, cols: 8 })).toEqual([3, 5]);
    expect(patchOn([5, 7, 6, 8], { rows: 3, cols: 4 })).toEqual([2, 3]);
    expect(patchOn([], { rows: 3, cols: 4 })).toEqual([]);
  });

  it("keys a map request by the parameter its measure uses", () => {
    const base = { module: 1, surface: 0, channel: 7, patch: [1, 2], token: 9 };
    expect(mapKey({ ...base, measure: "pca" })).toBe("1|pca|0|");
    expect(mapKey({ ...base, measure: "channel" })).toBe("1|channel|0|7");
    expect(mapKey({ ...base, measure: "patch" })).toBe("1|patch|0|1,2");
    expect(mapKey({ ...base, measure: "text" })).toBe("1|text|0|9");
  });

  it("asks for a map once, keeps the reply of the current data only, forgets all on reset", () => {
    const sent = [];
    let changes = 0;
    const state = { data_version: 1, first_map: {} };
    const model = { get: (k) => state[k], send: (m) => sent.push(m) };
    const store = new MapStore(model, () => changes++);
    const r = { module: 0, measure: "channel", surface: 0, channel: 3, patch: [], token: 0 };
    const reply = (id, version) => [
      { type: "map", id, version, dtype: "float32", shape: [1, 2], lo: 0, hi: 1, ...r },
      [new DataView(new Float32Array([0.25, 0.5]).buffer)],
    ];
    expect(store.get(r)).toBeNull();
    expect(store.get(r)).toBeNull();
    expect(sent).toEqual([{ type: "request_map", id: 1, ...r }]);
    expect(store.handle(...reply(1, 0))).toBe(true); // computed from older data: dropped
    expect(store.get(r)).toBeNull(); // so asked again
    state.data_version = 2;
    store.reset();
    expect(store.handle(...reply(2, 2))).toBe(false); // asked before the reset: not ours
    expect(store.get(r)).toBeNull();
    expect(sent.map((m) => m.id)).toEqual([1, 2, 3]);
    expect(store.handle(...reply(3, 2))).toBe(true);
    expect(Array.from(store.get(r).data)).toEqual([0.25, 0.5]);
    expect(changes).toBe(2);
    store.close();
  });
});

describe("labels and controls", () => {
  it("shows white-space tokens as marks and leaves others alone", () => {
    expect(visibleToken(" ")).toBe("␣");
    expect(visibleToken("\n\t")).toBe("⏎⇥");
    expect(visibleToken(" the")).toBe(" the");
  });

  it("maps the head select to traits and back", () => {
    expect(headTraits("h3")).toEqual({ heads: "one", head: 3 });
    expect(headTraits("max")).toEqual({ heads: "max" });
    expect(headValue("one", 2)).toBe("h2");
    expect(headValue("mean", 2)).toBe("mean");
  });
});
