import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MISSING_MS, RequestQueue } from "../../js/shared/requests.js";

/** A queue over a model that records what it sends, and a count of onChange calls. */
function queueOf(options) {
  const sent = [];
  const calls = { changes: 0 };
  const queue = new RequestQueue({ send: (m) => sent.push(m) }, () => calls.changes++, options);
  return { queue, sent, calls };
}

describe("RequestQueue", () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] }));
  afterEach(() => vi.useRealTimers());

  it("sends a request once with a new id, the type first, and maps the reply to its key", () => {
    const { queue, sent } = queueOf();
    queue.enqueue("L1", { type: "request_layer", layer: 1 });
    queue.enqueue("L1", { type: "request_layer", layer: 1 }); // out already: not again
    expect(sent).toEqual([{ type: "request_layer", id: 1, layer: 1 }]);
    expect(Object.keys(sent[0])).toEqual(["type", "id", "layer"]);
    expect(queue.settle({ type: "layer", id: 7 })).toBeNull(); // not one of ours
    expect(queue.settle({ type: "layer", id: 1 })).toBe("L1");
    expect(queue.settle({ type: "layer", id: 1 })).toBeNull(); // answered already
    queue.enqueue("L1", { type: "request_layer", layer: 1 }); // the store decides about caching
    expect(sent.map((m) => m.id)).toEqual([1, 2]);
    queue.close();
  });

  it("keeps at most maxInFlight out and serves the newest waiting request first", () => {
    const { queue, sent } = queueOf({ maxInFlight: 2 });
    for (const k of ["a", "b", "c", "d", "e"]) queue.enqueue(k, { type: "request", k });
    expect(sent.map((m) => m.k)).toEqual(["a", "b"]);
    queue.enqueue("c", { type: "request", k: "c" }); // asked again: now the newest
    queue.settle({ type: "reply", id: 1 });
    queue.pump();
    expect(sent.map((m) => m.k)).toEqual(["a", "b", "c"]);
    queue.settle({ type: "reply", id: 2 });
    queue.settle({ type: "reply", id: 3 });
    queue.pump();
    expect(sent.map((m) => m.k)).toEqual(["a", "b", "c", "e", "d"]);
    queue.close();
  });

  it("drops the oldest waiting requests beyond maxQueued", () => {
    const { queue, sent } = queueOf({ maxInFlight: 1, maxQueued: 2 });
    for (const k of ["a", "b", "c", "d"]) queue.enqueue(k, { type: "request", k });
    queue.settle({ type: "reply", id: 1 });
    queue.pump();
    queue.settle({ type: "reply", id: 2 });
    queue.pump();
    queue.settle({ type: "reply", id: 3 });
    queue.pump();
    expect(sent.map((m) => m.k)).toEqual(["a", "d", "c"]); // "b" was dropped
    queue.close();
  });

  it("remembers a refusal unless it says retry, and a reply that could not be used", () => {
    const { queue, sent } = queueOf();
    queue.enqueue("x", { type: "request" });
    expect(queue.settle({ type: "error", id: 1, message: "superseded", retry: true })).toBe("x");
    expect(queue.error("x")).toBeNull();
    queue.enqueue("x", { type: "request" });
    expect(queue.settle({ type: "error", id: 2, message: "layer: 9 is out of range" })).toBe("x");
    expect(queue.error("x")).toBe("layer: 9 is out of range");
    queue.enqueue("x", { type: "request" }); // refused: not asked again
    queue.enqueue("y", { type: "request" });
    queue.settle({ type: "reply", id: 3 });
    queue.fail("y", new Error("block: 12 bytes for uint8 [4]"));
    expect(queue.error("y")).toBe("block: 12 bytes for uint8 [4]");
    queue.enqueue("y", { type: "request" });
    expect(sent.map((m) => m.id)).toEqual([1, 2, 3]);
    queue.close();
  });

  it("receive hands a reply to its use, keeps what the use throws, then sends what waits", () => {
    const { queue, sent } = queueOf({ maxInFlight: 1 });
    const used = [];
    for (const k of ["a", "b", "c"]) queue.enqueue(k, { type: "request", k });
    expect(queue.receive({ type: "reply", id: 1 }, (key) => used.push(key))).toBe("a");
    expect(sent.map((m) => m.k)).toEqual(["a", "c"]);
    const bad = () => {
      throw new Error("map: 4 bytes for float32 [2]");
    };
    expect(queue.receive({ type: "reply", id: 2 }, bad)).toBe("c");
    expect(queue.error("c")).toBe("map: 4 bytes for float32 [2]");
    const refused = { type: "error", id: 3, message: "no such module" };
    expect(queue.receive(refused, (key) => used.push(key))).toBe("b");
    expect(queue.receive({ type: "reply", id: 9 }, (key) => used.push(key))).toBeNull();
    expect([used, queue.error("b")]).toEqual([["a"], "no such module"]);
    queue.close();
  });

  it("says a request is missing after MISSING_MS without a reply, and calls onChange then", () => {
    const { queue, calls } = queueOf();
    queue.enqueue("a", { type: "request" });
    queue.enqueue("b", { type: "request" });
    vi.advanceTimersByTime(MISSING_MS - 1);
    expect([queue.missing("a"), calls.changes]).toEqual([false, 0]);
    queue.settle({ type: "reply", id: 2 }); // "b" answered in time
    vi.advanceTimersByTime(1);
    expect([queue.missing("a"), queue.missing("b"), calls.changes]).toEqual([true, false, 1]);
    queue.close();
  });

  it("close stops the timers", () => {
    const { queue, calls } = queueOf();
    queue.enqueue("a", { type: "request" });
    queue.close();
    vi.advanceTimersByTime(2 * MISSING_MS);
    expect(calls.changes).toBe(0);
  });

  it("reset forgets requests and refusals; replies to earlier ids are not ours", () => {
    const { queue, sent, calls } = queueOf({ maxInFlight: 1 });
    queue.enqueue("a", { type: "request" });
    queue.enqueue("b", { type: "request" }); // waiting
    queue.enqueue("c", { type: "request" }); // waiting
    queue.errors.set("d", "refused");
    queue.reset();
    expect(queue.settle({ type: "reply", id: 1 })).toBeNull();
    expect([queue.missing("a"), queue.error("d")]).toEqual([false, null]);
    queue.pump();
    expect(sent.length).toBe(1); // nothing waits any more
    queue.enqueue("d", { type: "request" });
    expect(sent.map((m) => m.id)).toEqual([1, 2]); // ids keep counting
    vi.advanceTimersByTime(MISSING_MS);
    expect(calls.changes).toBe(1); // the new request's timer only
    queue.close();
  });
});
