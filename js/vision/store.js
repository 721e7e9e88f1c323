// The attention rows the image view draws, cached in the browser and asked for by message.
// mode "layers": an entry per layer, {weights: Uint8Array [H, N, N], scale: Float32Array [H, N]};
// mode "rows": an entry per (layer, query), {weights: Uint8Array [H, N], scale: Float32Array [H]}.
// value = byte² * scale of its row (src/attnwidgets/widgets/image_attention_data.py).

import { isEmpty, readPackedValue } from "../shared/arrays.js";

export const MISSING_MS = 3000; // no reply by then: the page has no kernel (an exported page)
const MAX_LAYERS = 8;
const MAX_ROWS = 4096;
const MAX_IN_FLIGHT = 4;

/** Decode query q's rows from an entry: Float32Array [heads * n]. */
export function decodeRows(entry, q) {
  const { weights, scale, heads, n, whole } = entry;
  const out = new Float32Array(heads * n);
  for (let h = 0; h < heads; h++) {
    const s = whole ? scale[h * n + q] : scale[h];
    const base = whole ? (h * n + q) * n : h * n;
    for (let k = 0; k < n; k++) {
      const b = weights[base + k];
      out[h * n + k] = b * b * s;
    }
  }
  return out;
}

/** Heads fused: "one" (head, clamped to the layer's heads), "mean" or "max"; Float32Array n. */
export function fuseHeads(rows, heads, n, choice, head) {
  const out = new Float32Array(n);
  if (choice === "one") {
    const h = Math.min(Math.max(0, head), heads - 1);
    out.set(rows.subarray(h * n, (h + 1) * n));
    return out;
  }
  for (let h = 0; h < heads; h++) {
    for (let k = 0; k < n; k++) {
      const v = rows[h * n + k];
      if (choice === "max") out[k] = h === 0 ? v : Math.max(out[k], v);
      else out[k] += v / heads;
    }
  }
  return out;
}

/** A packed payload (trait value, or reply + its buffer) -> a cache entry. */
export function entryOf(payload) {
  const { arrays, meta } = readPackedValue(payload, "attention");
  const weights = arrays.get("weights");
  const scale = arrays.get("scale");
  const whole = weights.shape.length === 3;
  return {
    layer: meta.layer,
    query: meta.query,
    nan: Boolean(meta.nan),
    whole,
    heads: weights.shape[0],
    n: weights.shape[weights.shape.length - 1],
    weights: weights.data,
    scale: scale.data,
  };
}

export class AttentionStore {
  constructor(model, onChange) {
    this.model = model;
    this.mode = model.get("mode");
    this.onChange = onChange;
    this.entries = new Map();
    this.pending = new Map(); // key -> {id, since}
    this.queue = []; // keys waiting for a free slot, newest last
    this.errors = new Map();
    this.ids = new Map(); // id -> key
    this.nextId = 1;
    this.timers = new Set();
    const first = model.get("first_data");
    if (!isEmpty(first)) this.put(entryOf(first));
  }

  key(layer, q) {
    return this.mode === "layers" ? `${layer}` : `${layer}:${q}`;
  }

  put(entry) {
    const key = this.key(entry.layer, entry.query);
    this.entries.delete(key);
    this.entries.set(key, entry);
    const limit = this.mode === "layers" ? MAX_LAYERS : MAX_ROWS;
    while (this.entries.size > limit) this.entries.delete(this.entries.keys().next().value);
  }

  /** Decoded rows of query q (the layer's own index) at layer, or null (then asked for). */
  rows(layer, q) {
    const key = this.key(layer, q);
    const entry = this.entries.get(key);
    if (!entry) {
      this.request(layer, q);
      return null;
    }
    return { heads: entry.heads, n: entry.n, nan: entry.nan, rows: decodeRows(entry, q) };
  }

  has(layer, q) {
    return this.entries.has(this.key(layer, q));
  }

  /** Ask the kernel for (layer, q) unless held, asked or failed; at most MAX_IN_FLIGHT at once. */
  request(layer, q) {
    const key = this.key(layer, q);
    if (this.entries.has(key) || this.pending.has(key) || this.errors.has(key)) return;
    this.queue = this.queue.filter((item) => item.key !== key);
    this.queue.push({ key, layer, q });
    if (this.queue.length > 16) this.queue.shift();
    this.pump();
  }

  pump() {
    while (this.pending.size < MAX_IN_FLIGHT && this.queue.length) {
      const { key, layer, q } = this.queue.pop(); // the newest first: what the user points at
      const id = this.nextId++;
      this.pending.set(key, { id, since: performance.now() });
      this.ids.set(id, key);
      const message =
        this.mode === "layers"
          ? { type: "request_layer", id, layer }
          : { type: "request_rows", id, layer, query: q };
      this.model.send(message);
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (this.pending.has(key)) this.onChange();
      }, MISSING_MS);
      this.timers.add(timer);
    }
  }

  /** Whether (layer, q) was asked for MISSING_MS ago and never answered. */
  missing(layer, q) {
    const asked = this.pending.get(this.key(layer, q));
    return asked != null && performance.now() - asked.since >= MISSING_MS;
  }

  error(layer, q) {
    return this.errors.get(this.key(layer, q)) ?? null;
  }

  /** A custom message from the kernel; true when it was one of ours. */
  handle(msg, buffers) {
    if (!msg || !["layer", "rows", "error"].includes(msg.type)) return false;
    const key = this.ids.get(msg.id);
    if (key == null) return msg.type !== "error";
    this.ids.delete(msg.id);
    this.pending.delete(key);
    if (msg.type === "error") {
      if (!msg.retry) this.errors.set(key, String(msg.message));
    } else {
      try {
        this.put(entryOf({ ...msg, value: buffers?.[0] }));
      } catch (error) {
        this.errors.set(key, String(error.message ?? error));
      }
    }
    this.pump();
    this.onChange();
    return true;
  }

  close() {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
