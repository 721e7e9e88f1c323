import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  decodeHead,
  decodeLayer,
  layerSize,
  makeLayer,
  readLayer,
  splitChunk,
  valueRange,
} from "../../js/attention/decode.js";

const fixture = JSON.parse(
  readFileSync(new URL("./fixtures/layer_uint8.json", import.meta.url), "utf8"),
);

function fixtureBytes() {
  return new Uint8Array(Buffer.from(fixture.bytes_b64, "base64"));
}

/** A DataView over `bytes` that starts `pad` bytes into a bigger buffer, as traits can. */
function paddedView(bytes, pad = 5) {
  const buffer = new ArrayBuffer(bytes.length + 2 * pad);
  new Uint8Array(buffer).fill(0xff);
  new Uint8Array(buffer, pad, bytes.length).set(bytes);
  return new DataView(buffer, pad, bytes.length);
}

function expectClose(heads, expected) {
  expect(heads.length).toBe(expected.length);
  heads.forEach((values, h) => {
    expect(Array.from(values)).toHaveLength(expected[h].flat().length);
    expected[h].flat().forEach((v, i) => {
      expect(Math.abs(values[i] - v)).toBeLessThan(1e-6);
    });
  });
}

describe("decode", () => {
  it("decodes the Python-written fixture", () => {
    const entry = makeLayer(fixtureBytes(), { layer: 0, ...fixture });
    expectClose(decodeLayer(entry), fixture.expected);
  });

  it("reads a layer reply from a DataView that honours its byteOffset", () => {
    const view = paddedView(fixtureBytes());
    const reply = { type: "layer", layer: 0, dtype: "uint8", ...fixture };
    const entry = readLayer(reply, [view], 0);
    expect(entry.bytes[0]).toBe(0);
    expectClose(decodeLayer(entry), fixture.expected);
    expect(() => readLayer({ ...reply, dtype: "float32" }, [view], 0)).toThrow(/dtype|bytes/);
  });

  it("accepts an ArrayBuffer", () => {
    const reply = { type: "layer", layer: 0, dtype: "uint8", ...fixture };
    const entry = readLayer(reply, [fixtureBytes().slice().buffer], 0);
    expect(decodeHead(entry, 1)[0]).toBeCloseTo(fixture.expected[1][0][0], 6);
  });

  it("rejects a length that does not match the shape", () => {
    expect(() => makeLayer(new Uint8Array(5), { layer: 2, ...fixture })).toThrow(/layer 2/);
    expect(() => makeLayer(fixtureBytes(), { ...fixture, offset: [0] })).toThrow(/offset/);
    expect(() => layerSize([2, 3])).toThrow(/shape/);
  });

  it("splits a chunk of several layers in the order of its layers", () => {
    const one = fixtureBytes();
    const two = one.map((b) => 255 - b);
    const both = new Uint8Array(one.length * 2);
    both.set(one);
    both.set(two, one.length);
    const chunk = {
      value: paddedView(both, 3),
      layers: [3, 1],
      dtype: "uint8",
      shape: [2, ...fixture.shape],
      offset: [fixture.offset, [0, 0]],
      scale: [fixture.scale, [1, 1]],
    };
    const [a, b] = splitChunk(chunk);
    expect(a.layer).toBe(3);
    expect(b.layer).toBe(1);
    expectClose(decodeLayer(a), fixture.expected);
    expect(decodeHead(b, 0)[0]).toBe(255);
    expect(() => splitChunk({ ...chunk, value: one })).toThrow(/chunk: 24 bytes/);
    expect(() => splitChunk({ ...chunk, layers: [3] })).toThrow(/for 1 layers/);
    expect(splitChunk({})).toEqual([]);
  });

  it("finds the colour range without scanning", () => {
    const entry = makeLayer(fixtureBytes(), { layer: 0, ...fixture });
    const [lo, hi] = valueRange(entry);
    expect(lo).toBe(-1);
    expect(hi).toBeCloseTo(1, 9);
    const probs = makeLayer(new Uint8Array(2), {
      layer: 0,
      shape: [2, 1, 1],
      offset: [0, 0],
      scale: [0.5 / 255, 0.8 / 255],
    });
    expect(valueRange(probs)).toEqual([0, expect.closeTo(0.8, 9)]);
  });
});
