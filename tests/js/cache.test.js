import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LayerStore, noKernelMessage } from "../../js/attention/cache.js";
import { makeLayer } from "../../js/attention/decode.js";

// A `layer` reply as arrays.message_parts sends it: the meta as content, the bytes as a buffer.
const meta = { dtype: "uint8", shape: [1, 2, 2], offset: [0], scale: [1 / 255] };
const entry = (layer) => makeLayer(new Uint8Array(4), { layer, ...meta });

function setup() {
  const sent = [];
  const onChange = vi.fn();
  const store = new LayerStore({ send: (m) => sent.push(m), onChange });
  store.reset([entry(0)]);
  return { store, sent, onChange };
}

describe("LayerStore", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("serves cached layers without asking", () => {
    const { store, sent } = setup();
    expect(store.ensure(0)).not.toBeNull();
    expect(sent).toEqual([]);
  });

  it("asks once per missing layer and caches the reply", () => {
    const { store, sent, onChange } = setup();
    expect(store.ensure(2)).toBeNull();
    expect(store.ensure(2)).toBeNull();
    expect(sent).toEqual([{ type: "request_layer", layer: 2, id: 1 }]);
    expect(store.status(2)).toEqual({ loading: true });
    const reply = { type: "layer", id: 1, layer: 2, ...meta };
    expect(store.handleMessage(reply, [new DataView(new ArrayBuffer(4))])).toBe(true);
    expect(onChange).toHaveBeenCalledOnce();
    expect(store.status(2).entry.layer).toBe(2);
    vi.advanceTimersByTime(10_000);
    expect(onChange).toHaveBeenCalledOnce(); // the timer was cleared
  });

  it("says 'no kernel' after 5 s, asks again later, still takes a late reply", () => {
    const { store, sent, onChange } = setup();
    store.ensure(1);
    vi.advanceTimersByTime(4999);
    expect(store.status(1)).toEqual({ loading: true });
    vi.advanceTimersByTime(1);
    expect(store.status(1)).toEqual({ error: noKernelMessage(1) });
    expect(onChange).toHaveBeenCalledOnce();
    store.ensure(1);
    expect(sent.map((m) => m.id)).toEqual([1, 2]);
    store.handleMessage({ type: "layer", id: 1, ...meta }, [new ArrayBuffer(4)]);
    expect(store.status(1).entry).toBeDefined();
  });

  it("shows error replies and bad buffers, and does not retry them", () => {
    const { store, sent } = setup();
    store.ensure(7);
    store.handleMessage({ type: "error", id: 1, message: "no layer 7" });
    expect(store.status(7)).toEqual({ error: "no layer 7" });
    store.ensure(7);
    expect(sent).toHaveLength(1);
    store.ensure(3);
    store.handleMessage({ type: "layer", id: 2, ...meta }, [new ArrayBuffer(3)]);
    expect(store.status(3).error).toMatch(/3 bytes/);
  });

  it("ignores replies to requests made before a reset, and other messages", () => {
    const { store } = setup();
    store.ensure(1);
    store.reset([]);
    expect(store.handleMessage({ type: "layer", id: 1, ...meta }, [new ArrayBuffer(4)])).toBe(
      false,
    );
    expect(store.status(1)).toEqual({ loading: false });
    expect(store.handleMessage({ type: "something else" })).toBe(false);
  });
});
