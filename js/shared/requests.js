// The requests a browser-side store sends the kernel and the replies it waits for, in one place:
// each request has a key (what it asks for, e.g. "L3"), at most `maxInFlight` are out at once, the
// newest waiting one goes first (what the user points at now), a key the kernel refused is not
// asked again, and a request left unanswered MISSING_MS long calls `onChange` so the view can
// say "not in this page (no kernel)". The store keeps its own cache and decoding.
//
//   const requests = new RequestQueue(model, onChange, { maxInFlight: 3 });
//   requests.enqueue("L3", { type: "request_block", layer: 3 }); // sends {type, id: 1, layer: 3}
//   requests.receive(msg, (key) => cache(msg)); // a reply {id: 1, ...} -> "L3" (null: not ours)

export const MISSING_MS = 3000; // no reply by then: the page has no kernel (an exported page)

export class RequestQueue {
  /**
   * @param {{send: (msg: object) => void}} model where requests go (`model.send`)
   * @param {() => void} onChange called when a request has waited MISSING_MS
   * @param {{maxInFlight?: number, maxQueued?: number}} [options] `maxQueued` drops the oldest
   *   waiting requests beyond it (none dropped when unset)
   */
  constructor(model, onChange, { maxInFlight = 3, maxQueued = Number.POSITIVE_INFINITY } = {}) {
    this.model = model;
    this.onChange = onChange;
    this.maxInFlight = maxInFlight;
    this.maxQueued = maxQueued;
    this.nextId = 1;
    this.timers = new Set();
    this.reset();
  }

  /** Forget every request, answer and refusal (ids keep counting, so late replies are not ours). */
  reset() {
    this.pending = new Map(); // key -> {id, since}
    this.queue = []; // [{key, message}] waiting for a free slot, newest last
    this.errors = new Map(); // key -> message of the kernel's refusal
    this.ids = new Map(); // id -> key
    this.clearTimers();
  }

  /** Ask for `key` with `message` (the id is added); nothing when it is out or was refused. */
  enqueue(key, message) {
    if (this.pending.has(key) || this.errors.has(key)) return;
    this.queue = this.queue.filter((item) => item.key !== key);
    this.queue.push({ key, message });
    if (this.queue.length > this.maxQueued) this.queue.shift();
    this.pump();
  }

  /** Send the newest waiting requests while fewer than `maxInFlight` are out. */
  pump() {
    while (this.pending.size < this.maxInFlight && this.queue.length) {
      const { key, message } = this.queue.pop(); // the newest first: what is pointed at
      const id = this.nextId++;
      this.pending.set(key, { id, since: performance.now() });
      this.ids.set(id, key);
      this.model.send({ type: message.type, id, ...message });
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (this.pending.has(key)) this.onChange();
      }, MISSING_MS);
      this.timers.add(timer);
    }
  }

  /**
   * The key a reply `msg` ({id, type, ...}) answers, no longer pending, or null when no request
   * of ours has that id. A reply of type "error" is remembered as the key's refusal unless
   * `msg.retry` (then the key may be asked again). Call `pump()` once the reply is used.
   */
  settle(msg) {
    const key = this.ids.get(msg.id);
    if (key == null) return null;
    this.ids.delete(msg.id);
    this.pending.delete(key);
    if (msg.type === "error" && !msg.retry) this.errors.set(key, String(msg.message));
    return key;
  }

  /**
   * Take reply `msg`: settle it, hand a non-error reply to `use(key)` (what it throws is kept as
   * the key's error), then send what waits. Returns the key, or null when the reply is not ours.
   */
  receive(msg, use) {
    const key = this.settle(msg);
    if (key == null) return null;
    if (msg.type !== "error") {
      try {
        use(key);
      } catch (error) {
        this.fail(key, error);
      }
    }
    this.pump();
    return key;
  }

  /** Remember that `key`'s answer could not be used (it is not asked again). */
  fail(key, error) {
    this.errors.set(key, String(error?.message ?? error));
  }

  /** Whether `key` was asked for MISSING_MS ago and never answered. */
  missing(key) {
    const asked = this.pending.get(key);
    return asked != null && performance.now() - asked.since >= MISSING_MS;
  }

  /** The kernel's refusal of `key`, or null. */
  error(key) {
    return this.errors.get(key) ?? null;
  }

  clearTimers() {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  close() {
    this.clearTimers();
  }
}
