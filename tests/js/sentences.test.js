import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  fromLocal,
  hasSentences,
  SENTENCE_FILTERS,
  sentenceBounds,
  sentenceLabel,
  toLocal,
} from "../../js/attention/sentences.js";
import { TileStore } from "../../js/attention/tiles.js";
import { panView, zoomView } from "../../js/attention/viewport.js";

describe("sentence pairs", () => {
  it("cuts queries and keys like bertviz's filter", () => {
    expect(sentenceBounds("A->B", 3, 7, 7)).toEqual({ q0: 0, q1: 3, k0: 3, k1: 7 });
    expect(sentenceBounds("B->A", 3, 7, 7)).toEqual({ q0: 3, q1: 7, k0: 0, k1: 3 });
    expect(sentenceBounds("A->A", 3, 7, 7)).toEqual({ q0: 0, q1: 3, k0: 0, k1: 3 });
    expect(sentenceBounds("B->B", 3, 7, 7)).toEqual({ q0: 3, q1: 7, k0: 3, k1: 7 });
    expect(sentenceLabel("A->B", 3, 7, 7)).toBe("Sentence A → Sentence B");
    expect(SENTENCE_FILTERS.map(([value]) => value)).toEqual([
      "all",
      "A->A",
      "B->B",
      "A->B",
      "B->A",
    ]);
  });

  it("shows every token without a usable split", () => {
    for (const start of [-1, 0, 7, 9, 2.5, null]) {
      expect(hasSentences(start, 7, 7)).toBe(false);
      expect(sentenceBounds("A->B", start, 7, 7)).toEqual({ q0: 0, q1: 7, k0: 0, k1: 7 });
      expect(sentenceLabel("A->B", start, 7, 7)).toBe("");
    }
    expect(sentenceBounds("all", 3, 7, 7)).toEqual({ q0: 0, q1: 7, k0: 0, k1: 7 });
  });

  it("keeps zoom and pan inside the block", () => {
    const bounds = sentenceBounds("B->A", 40, 100, 100); // rows 40..100, cols 0..40
    let view = { ...bounds };
    const local = toLocal(view, bounds);
    expect(local).toEqual({ q0: 0, q1: 60, k0: 0, k1: 40 });
    view = fromLocal(zoomView(local, 60, 40, 4, 1, 1), bounds); // zoom into the bottom right
    expect(view).toEqual({ q0: 85, q1: 100, k0: 30, k1: 40 });
    view = fromLocal(panView(toLocal(view, bounds), 60, 40, -1000, 1000), bounds);
    expect(view).toEqual({ q0: 40, q1: 55, k0: 30, k1: 40 });
  });
});

describe("TileStore.reset", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("forgets tiles and ignores replies to requests made before new data", () => {
    const sent = [];
    const store = new TileStore({ send: (m) => sent.push(m), onChange: () => {} });
    const request = { layer: 0, head: 0, rows: [0, 2], cols: [0, 2], pixels: [2, 2] };
    store.ensure(request);
    const reply = { type: "tile", id: sent[0].id, dtype: "uint8", shape: [2, 2], lo: 0, hi: 1 };
    expect(store.handleMessage(reply, [new Uint8Array([255, 0, 0, 255])])).toBe(true);
    expect(store.ensure(request)).not.toBeNull();
    store.ensure({ ...request, head: 1 });
    store.reset();
    expect(store.handleMessage({ ...reply, id: sent[1].id }, [new Uint8Array(4)])).toBe(false);
    expect(store.ensure(request)).toBeNull(); // asked again
    expect(sent.length).toBe(3);
    expect(sent[2].id).not.toBe(sent[0].id); // ids keep counting: no collision with old ones
  });
});
