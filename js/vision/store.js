// The attention rows the image view draws, cached in the browser and asked for by message.
// A whole layer {weights: Uint8Array [H, N, N], scale: Float32Array [H, N]} answers every query
// of that layer; one query's rows {weights: Uint8Array [H, N], scale: Float32Array [H]} answer
// that query. mode "layers": whole layers only. mode "rows": the first paint comes from one
// query's rows; when `fetch_layers` is set the shown layer is also asked for whole in the
// background, so later clicks need no round trip.
// value = byte² * scale of its row (src/attnwidgets/widgets/vision/image_attention_data.py).

import { fromMessage, isEmpty, readPackedValue } from "../shared/arrays.js";
import { RequestQueue } from "../shared/requests.js";

const LAYER_BYTES = 96 * 1024 * 1024; // whole layers kept, at most
const MAX_ROWS = 4096;
const MAX_IN_FLIGHT = 4;
const MAX_QUEUED = 16; // older requests waiting beyond these are dropped (the pointer moved on)

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

/** A packed payload (trait value, or reply + its buffer) -> a cache entry. */
export function entryOf(payload) {
  const { arrays, meta } = readPackedValue(payload, "attention");
  const weights = arrays.get("weights");
  const scale = arrays.get("scale");
  return {
    layer: meta.layer,
    query: meta.query,
    nan: Boolean(meta.nan),
    whole: weights.shape.length === 3,
    heads: weights.shape[0],
    n: weights.shape[weights.shape.length - 1],
    weights: weights.data,
    scale: scale.data,
  };
}

const layerKey = (layer) => `L${layer}`;
const rowsKey = (layer, q) => `R${layer}:${q}`;

export class AttentionStore {
  constructor(model, onChange) {
    this.model = model;
    this.rowsMode = model.get("mode") === "rows";
    this.fetchLayers = !this.rowsMode || Boolean(model.get("fetch_layers"));
    this.onChange = onChange;
    this.layers = new Map();
    this.rowEntries = new Map();
    this.requests = new RequestQueue(model, onChange, {
      maxInFlight: MAX_IN_FLIGHT,
      maxQueued: MAX_QUEUED,
    });
    const first = model.get("first_data");
    if (!isEmpty(first)) this.put(entryOf(first));
  }

  put(entry) {
    if (entry.whole) {
      this.layers.delete(entry.layer);
      this.layers.set(entry.layer, entry);
      let bytes = 0;
      for (const e of this.layers.values()) bytes += e.weights.byteLength;
      while (this.layers.size > 1 && bytes > LAYER_BYTES) {
        const [oldest, e] = this.layers.entries().next().value;
        this.layers.delete(oldest);
        bytes -= e.weights.byteLength;
      }
    } else {
      const key = rowsKey(entry.layer, entry.query);
      this.rowEntries.delete(key);
      this.rowEntries.set(key, entry);
      while (this.rowEntries.size > MAX_ROWS) {
        this.rowEntries.delete(this.rowEntries.keys().next().value);
      }
    }
  }

  has(layer, q) {
    return this.layers.has(layer) || this.rowEntries.has(rowsKey(layer, q));
  }

  /** Decoded rows of query q (the layer's own index) at layer, or null (then asked for). */
  rows(layer, q) {
    const entry = this.layers.get(layer) ?? this.rowEntries.get(rowsKey(layer, q));
    if (entry) {
      if (!entry.whole && this.fetchLayers) this.request(layer, q, "layer");
      return { heads: entry.heads, n: entry.n, nan: entry.nan, rows: decodeRows(entry, q) };
    }
    this.fetch(layer, q);
    return null;
  }

  /** Ask for what (layer, q) needs: the layer and, in rows mode, the query's rows first. */
  fetch(layer, q) {
    if (this.rowsMode) this.request(layer, q, "rows");
    if (this.fetchLayers) this.request(layer, q, "layer");
  }

  request(layer, q, what) {
    if (what === "layer") {
      if (!this.layers.has(layer)) {
        this.requests.enqueue(layerKey(layer), { type: "request_layer", layer });
      }
    } else if (!this.has(layer, q)) {
      this.requests.enqueue(rowsKey(layer, q), { type: "request_rows", layer, query: q });
    }
  }

  /** The request that answers (layer, q) in this mode. */
  keyFor(layer, q) {
    return this.rowsMode ? rowsKey(layer, q) : layerKey(layer);
  }

  /** Whether (layer, q) was asked for MISSING_MS ago and never answered. */
  missing(layer, q) {
    return this.requests.missing(this.keyFor(layer, q));
  }

  error(layer, q) {
    return this.requests.error(this.keyFor(layer, q));
  }

  /** A custom message from the kernel; true when it was one of ours. */
  handle(msg, buffers) {
    if (!msg || !["layer", "rows", "error"].includes(msg.type)) return false;
    const key = this.requests.receive(msg, () => this.put(entryOf(fromMessage(msg, buffers))));
    if (key == null) return msg.type !== "error";
    this.onChange(msg);
    return true;
  }

  close() {
    this.requests.close();
  }
}
