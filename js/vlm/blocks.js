// The cross-modal view's data: per language-model layer, the block of the text rows' attention
// over the image keys, cached in the browser and asked for by message
// ({type: "request_block", id, layer} -> {type: "block", id, layer, arrays, nan} + one buffer).
// Block arrays (src/attnwidgets/widgets/vlm/cross_modal_data.py): weights uint8 [H, T, N]
// (value = byte² * scale), scale float32 [H, T], image / text float32 [H, T] (each row's exact
// share on the image tokens and on the text tokens).

import { fromMessage, isEmpty, readPackedValue } from "../shared/arrays.js";

export const MISSING_MS = 3000; // no reply by then: the page has no kernel (an exported page)
const MAX_IN_FLIGHT = 3;

/** A packed block payload (trait value, or reply + its buffer) -> a cache entry. */
export function blockOf(payload) {
  const { arrays, meta } = readPackedValue(payload, "block");
  const weights = arrays.get("weights");
  const [heads, rows, keys] = weights.shape;
  return {
    layer: meta.layer,
    nan: Boolean(meta.nan),
    heads,
    rows,
    keys,
    weights: weights.data,
    scale: arrays.get("scale").data,
    image: arrays.get("image").data,
    text: arrays.get("text").data,
  };
}

/** Row t of every head, decoded: Float32Array [heads * keys]. */
export function decodeRow(entry, t) {
  const { heads, rows, keys, weights, scale } = entry;
  const out = new Float32Array(heads * keys);
  for (let h = 0; h < heads; h++) {
    const s = scale[h * rows + t];
    const base = (h * rows + t) * keys;
    for (let k = 0; k < keys; k++) {
      const b = weights[base + k];
      out[h * keys + k] = b * b * s;
    }
  }
  return out;
}

/** Rows of every head (Float32Array [heads * n]) fused over heads: "one" (head, clamped),
 * "mean" or "max"; Float32Array n. */
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

/** Per-head values [heads] fused: "one" (head clamped), "mean" or "max". */
export function fuseValues(values, choice, head) {
  if (choice === "one") return values[Math.min(Math.max(0, head), values.length - 1)];
  let out = choice === "max" ? Number.NEGATIVE_INFINITY : 0;
  for (const v of values) out = choice === "max" ? Math.max(out, v) : out + v / values.length;
  return out;
}

/**
 * For every text row: the attention its heads give the keys in `keys` (a list of key
 * columns), fused over heads. Returns Float32Array [rows].
 */
export function regionValues(entry, keys, choice, head) {
  const { heads, rows, keys: n, weights, scale } = entry;
  const out = new Float32Array(rows);
  const perHead = new Float32Array(heads);
  for (let t = 0; t < rows; t++) {
    for (let h = 0; h < heads; h++) {
      const base = (h * rows + t) * n;
      let sum = 0;
      for (const k of keys) {
        const b = weights[base + k];
        sum += b * b;
      }
      perHead[h] = sum * scale[h * rows + t];
    }
    out[t] = fuseValues(perHead, choice, head);
  }
  return out;
}

/** Each row's share on the image (`what` = "image") or the text, fused over heads. */
export function shareValues(entry, what, choice, head) {
  const { heads, rows } = entry;
  const source = what === "image" ? entry.image : entry.text;
  const out = new Float32Array(rows);
  const perHead = new Float32Array(heads);
  for (let t = 0; t < rows; t++) {
    for (let h = 0; h < heads; h++) perHead[h] = source[h * rows + t];
    out[t] = fuseValues(perHead, choice, head);
  }
  return out;
}

export class BlockStore {
  constructor(model, onChange) {
    this.model = model;
    this.onChange = onChange;
    this.blocks = new Map();
    this.pending = new Map(); // layer -> {id, since}
    this.queue = [];
    this.errors = new Map();
    this.ids = new Map(); // id -> layer
    this.nextId = 1;
    this.timers = new Set();
    const first = model.get("first_block");
    if (!isEmpty(first)) this.put(blockOf(first));
  }

  put(entry) {
    this.blocks.set(entry.layer, entry);
  }

  /** The block of `layer`, or null (then asked for). */
  get(layer) {
    const entry = this.blocks.get(layer);
    if (entry) return entry;
    this.request(layer);
    return null;
  }

  request(layer) {
    if (this.blocks.has(layer) || this.pending.has(layer) || this.errors.has(layer)) return;
    this.queue = this.queue.filter((l) => l !== layer);
    this.queue.push(layer);
    this.pump();
  }

  pump() {
    while (this.pending.size < MAX_IN_FLIGHT && this.queue.length) {
      const layer = this.queue.pop(); // the newest first: what is shown
      const id = this.nextId++;
      this.pending.set(layer, { id, since: performance.now() });
      this.ids.set(id, layer);
      this.model.send({ type: "request_block", id, layer });
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (this.pending.has(layer)) this.onChange();
      }, MISSING_MS);
      this.timers.add(timer);
    }
  }

  /** Whether `layer` was asked for MISSING_MS ago and never answered. */
  missing(layer) {
    const asked = this.pending.get(layer);
    return asked != null && performance.now() - asked.since >= MISSING_MS;
  }

  error(layer) {
    return this.errors.get(layer) ?? null;
  }

  /** A custom message from the kernel; true when it was one of ours. */
  handle(msg, buffers) {
    if (!msg || !["block", "error"].includes(msg.type)) return false;
    const layer = this.ids.get(msg.id);
    if (layer == null) return false;
    this.ids.delete(msg.id);
    this.pending.delete(layer);
    if (msg.type === "error") {
      if (!msg.retry) this.errors.set(layer, String(msg.message));
    } else {
      try {
        this.put(blockOf(fromMessage(msg, buffers)));
      } catch (error) {
        this.errors.set(layer, String(error.message ?? error));
      }
    }
    this.pump();
    this.onChange(msg);
    return true;
  }

  close() {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
