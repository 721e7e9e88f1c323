// The cross-modal view's data: per language-model layer, the block of the text rows' attention
// over the image keys, cached in the browser and asked for by message
// ({type: "request_block", id, layer} -> {type: "block", id, layer, arrays, nan} + one buffer).
// Block arrays (src/attnwidgets/widgets/vlm/cross_modal_data.py): weights uint8 [H, T, N]
// (value = byte² * scale), scale float32 [H, T], image / text float32 [H, T] (each row's exact
// share on the image tokens and on the text tokens).

import { fromMessage, isEmpty, readPackedValue } from "../shared/arrays.js";
import { RequestQueue } from "../shared/requests.js";

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
    this.requests = new RequestQueue(model, onChange, { maxInFlight: MAX_IN_FLIGHT }); // key: layer
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
    if (!this.blocks.has(layer)) this.requests.enqueue(layer, { type: "request_block", layer });
  }

  /** Whether `layer` was asked for MISSING_MS ago and never answered. */
  missing(layer) {
    return this.requests.missing(layer);
  }

  error(layer) {
    return this.requests.error(layer);
  }

  /** A custom message from the kernel; true when it was one of ours. */
  handle(msg, buffers) {
    if (!msg || !["block", "error"].includes(msg.type)) return false;
    const layer = this.requests.receive(msg, () => this.put(blockOf(fromMessage(msg, buffers))));
    if (layer == null) return false;
    this.onChange(msg);
    return true;
  }

  close() {
    this.requests.close();
  }
}
