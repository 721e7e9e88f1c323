import { describe, expect, it } from "vitest";
import { readMetrics, sortedRows } from "../../js/attention/metrics_table.js";
import { overviewLayout, readThumbnails, thumbAt } from "../../js/attention/overview.js";
import { decodeTile, TileStore, tileKey } from "../../js/attention/tiles.js";
import {
  cropValues,
  fullView,
  isFull,
  MIN_SPAN,
  panView,
  viewLayout,
  zoomView,
} from "../../js/attention/viewport.js";

describe("viewport", () => {
  it("zooms around the pointer and stays inside the head", () => {
    const v = zoomView(fullView(1000, 1000), 1000, 1000, 2, 0.25, 0.5);
    expect(v).toEqual({ q0: 250, q1: 750, k0: 125, k1: 625 });
    let w = v;
    for (let i = 0; i < 30; i++) w = zoomView(w, 1000, 1000, 2, 0, 1);
    expect(w.q1 - w.q0).toBe(MIN_SPAN);
    expect(w.k0).toBe(125);
    expect(w.q1).toBe(750);
    const out = zoomView(w, 1000, 1000, 1 / 1e6);
    expect(isFull(out, 1000, 1000)).toBe(true);
  });

  it("pans without leaving the head", () => {
    const v = { q0: 10, q1: 20, k0: 0, k1: 10 };
    expect(panView(v, 100, 100, -50, 5)).toEqual({ q0: 0, q1: 10, k0: 5, k1: 15 });
    expect(panView(v, 100, 100, 500, 500)).toEqual({ q0: 90, q1: 100, k0: 90, k1: 100 });
  });

  it("crops rows and columns and sizes cells for the region", () => {
    const values = Float32Array.from({ length: 12 }, (_, i) => i); // 3 x 4
    expect(Array.from(cropValues(values, 4, { q0: 1, q1: 3, k0: 2, k1: 4 }))).toEqual([
      6, 7, 10, 11,
    ]);
    const L = viewLayout({ heatW: 400, heatH: 200, fontPx: 12 }, { q0: 0, q1: 10, k0: 0, k1: 4 });
    expect([L.cellW, L.cellH, L.keyStep, L.queryStep]).toEqual([100, 20, 1, 1]);
  });
});

describe("tiles", () => {
  it("asks once per region, decodes replies and reports errors", () => {
    const sent = [];
    let changes = 0;
    const store = new TileStore({ send: (m) => sent.push(m), onChange: () => changes++ });
    const request = { layer: 1, head: 2, rows: [0, 4], cols: [0, 2], pixels: [2, 2] };
    expect(store.ensure(request)).toBe(null);
    expect(store.ensure(request)).toBe(null);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ type: "request_tile", ...request });
    expect(store.handleMessage({ type: "layer", id: sent[0].id }, [])).toBe(false);
    const reply = { type: "tile", id: sent[0].id, dtype: "uint8", shape: [2, 2], lo: 0, hi: 2 };
    expect(store.handleMessage(reply, [new Uint8Array([0, 255, 51, 102])])).toBe(true);
    const tile = store.ensure(request);
    expect(Array.from(tile.values)).toEqual([0, 2, 0.4000000059604645, 0.800000011920929]);
    expect(changes).toBe(1);
    const other = { ...request, head: 3 };
    store.ensure(other);
    store.handleMessage({ type: "error", id: sent[1].id, message: "tile head 3 out of range" });
    expect(store.error(other)).toBe("tile head 3 out of range");
    expect(tileKey(other)).not.toBe(tileKey(request));
    expect(decodeTile({ bytes: new Uint8Array([255]), lo: -1, hi: 1 })[0]).toBe(1);
    store.dispose();
  });
});

describe("overview and metrics", () => {
  it("checks thumbnail sizes and finds the thumbnail under a point", () => {
    const meta = { dtype: "uint8", shape: [2, 3, 4, 4] };
    expect(readThumbnails({ value: new Uint8Array(95), ...meta })).toBe(null);
    expect(readThumbnails({})).toBe(null);
    const thumbs = readThumbnails({ value: new Uint8Array(96), ...meta });
    const layout = overviewLayout(thumbs, 600);
    expect(layout.w).toBe(layout.pitch * 3);
    expect(thumbAt(layout, layout.pitch * 2.5, layout.pitchY * 1.5)).toEqual({ layer: 1, head: 2 });
    expect(thumbAt(layout, layout.w + 1, 0)).toBe(null);
  });

  it("sorts heads by a metric, NaN last", () => {
    const values = new Float32Array([0.1, 5, Number.NaN, 6, 0.9, 7, 0.5, 8]); // 2 x 2 x 2
    const metrics = readMetrics({
      value: new Uint8Array(values.buffer),
      dtype: "float32",
      shape: [2, 2, 2],
      names: ["previous", "distance"],
    });
    const order = (key, desc) => sortedRows(metrics, key, desc).map((r) => `${r.layer}${r.head}`);
    expect(order("previous", true)).toEqual(["10", "11", "00", "01"]);
    expect(order("distance", false)).toEqual(["00", "01", "10", "11"]);
    expect(order("layer", false)).toEqual(["00", "01", "10", "11"]);
    const bad = { value: new Uint8Array(8), dtype: "float32", shape: [1, 1, 2], names: [] };
    expect(readMetrics(bad)).toBe(null);
    expect(readMetrics({ ...bad, value: new Uint8Array(4), names: ["a", "b"] })).toBe(null);
  });
});
