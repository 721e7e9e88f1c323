// Item 7 of issue 12, JS side: NaN keeps its own byte and colour, bidi controls are shown as
// marks, an error reply without an id is shown for a while (not forever), and requests the
// kernel dropped unanswered (retry) are asked again instead of being remembered as errors.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LayerStore, NOTICE_MS } from "../../js/attention/cache.js";
import { decodeHead, makeLayer, splitChunk, valueRange } from "../../js/attention/decode.js";
import { applyScale } from "../../js/attention/scales.js";
import { decodeTile, TileStore } from "../../js/attention/tiles.js";
import { fillPixels, hasNaN, MASKED_RGB, NAN_RGB } from "../../js/shared/colormap.js";
import { displayLabel, truncateLabel } from "../../js/shared/layout.js";

describe("NaN cells", () => {
  it("decode from the NaN byte, and the range stops at byte 254", () => {
    // what transport.encode_block writes for [[0, nan], [1, 0.5]]: scale 1/254, NaN = 255
    const entry = makeLayer(new Uint8Array([0, 255, 254, 127]), {
      layer: 0,
      shape: [1, 2, 2],
      offset: [0],
      scale: [1 / 254],
      nan_byte: 255,
    });
    const values = decodeHead(entry, 0);
    expect(values[0]).toBe(0);
    expect(Number.isNaN(values[1])).toBe(true);
    expect(values[2]).toBeCloseTo(1, 6);
    expect(values[3]).toBeCloseTo(0.5, 2);
    expect(valueRange(entry)[1]).toBeCloseTo(1, 6);
    const [chunk] = splitChunk({
      value: new Uint8Array([0, 255, 254, 127]),
      dtype: "uint8",
      layers: [0],
      shape: [1, 1, 2, 2],
      offset: [[0]],
      scale: [[1 / 254]],
      nan_byte: 255,
    });
    expect(chunk.nanByte).toBe(255);
  });

  it("decode in tiles with both reserved bytes", () => {
    const tile = { lo: -1, hi: 1, masked_byte: 0, nan_byte: 255, bytes: [0, 1, 254, 255] };
    const values = Array.from(decodeTile(tile));
    expect(values[0]).toBe(Number.NEGATIVE_INFINITY);
    expect(values[1]).toBeCloseTo(-1, 6);
    expect(values[2]).toBeCloseTo(1, 6);
    expect(Number.isNaN(values[3])).toBe(true);
  });

  it("keep their own colour through every scale, unlike masked grey and the colormap", () => {
    const values = new Float32Array([0, Number.NaN, Number.NEGATIVE_INFINITY, 1]);
    for (const scale of ["linear", "log", "row"]) {
      const { t } = applyScale(values, 2, 2, 0, 1, scale);
      const pixels = fillPixels(new Uint8ClampedArray(16), t, 0, 1);
      expect(Array.from(pixels.slice(4, 7))).toEqual(NAN_RGB);
      expect(Array.from(pixels.slice(8, 11))).toEqual(MASKED_RGB);
      expect(Array.from(pixels.slice(0, 3))).not.toEqual(NAN_RGB);
    }
    expect(NAN_RGB).not.toEqual(MASKED_RGB);
    expect(hasNaN(values)).toBe(true);
    expect(hasNaN(new Float32Array([0, Number.NEGATIVE_INFINITY]))).toBe(false);
  });
});

describe("bidi controls in labels", () => {
  it("are shown as marks, so a label reads as what it is", () => {
    expect(displayLabel("abc\u202Etxt.exe")).toBe("abc⟨U+202E⟩txt.exe");
    for (const code of [0x202a, 0x202b, 0x202c, 0x202d, 0x2066, 0x2067, 0x2068, 0x2069]) {
      expect(displayLabel(`x${String.fromCodePoint(code)}`)).toBe(
        `x⟨U+${code.toString(16).toUpperCase()}⟩`,
      );
    }
    expect(displayLabel("\u200e\u200f\u061c")).toBe("⟨U+200E⟩⟨U+200F⟩⟨U+061C⟩");
    expect(truncateLabel(`\u202E${"a".repeat(30)}`)).not.toContain("\u202E");
    expect(displayLabel("שלום")).toBe("שלום"); // right-to-left text itself stays text
    expect(displayLabel("👩‍💻")).toBe("👩‍💻"); // a zero-width joiner is no control
  });
});

describe("error replies", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const meta = { dtype: "uint8", shape: [1, 2, 2], offset: [0], scale: [1 / 255] };

  it("without an id are shown for a while, then cleared", () => {
    const onChange = vi.fn();
    const store = new LayerStore({ send: () => {}, onChange });
    expect(store.handleMessage({ type: "error", id: null, message: "bad message" })).toBe(true);
    expect(store.notice).toBe("bad message");
    vi.advanceTimersByTime(NOTICE_MS - 1);
    expect(store.notice).toBe("bad message");
    vi.advanceTimersByTime(1);
    expect(store.notice).toBeNull();
    expect(onChange).toHaveBeenCalledTimes(2);
  });

  it("without an id are cleared by the next good reply", () => {
    const sent = [];
    const store = new LayerStore({ send: (m) => sent.push(m), onChange: () => {} });
    store.handleMessage({ type: "error", message: "bad message" });
    store.ensure(3);
    store.handleMessage({ type: "layer", id: sent[0].id, ...meta }, [new ArrayBuffer(4)]);
    expect(store.notice).toBeNull();
  });

  it("marked retry are asked again, not remembered", () => {
    const sent = [];
    const store = new LayerStore({ send: (m) => sent.push(m), onChange: () => {} });
    store.ensure(2);
    store.handleMessage({ type: "error", id: 1, message: "superseded", retry: true });
    expect(store.status(2)).toEqual({ loading: false });
    store.ensure(2);
    expect(sent.map((m) => m.id)).toEqual([1, 2]);

    const asked = [];
    const tiles = new TileStore({ send: (m) => asked.push(m), onChange: () => {} });
    const request = { layer: 0, head: 0, rows: [0, 2], cols: [0, 2], pixels: [2, 2] };
    tiles.ensure(request);
    tiles.handleMessage({ type: "error", id: asked[0].id, message: "busy: dropped", retry: true });
    expect(tiles.error(request)).toBeNull();
    tiles.ensure(request);
    expect(asked).toHaveLength(2);
  });
});
