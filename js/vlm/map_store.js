// The feature view's maps, cached in the browser and asked for by message
// ({type: "request_map", id, module, measure, surface, channel, patch, token} ->
// {type: "map", id, version, dtype, shape, lo, hi, ratio, fitted, ...the request} + one buffer).
// A map is float32 [rows, cols] (or [rows, cols, 3] for PCA), NaN where a cell has no token.

import { fromMessage, isEmpty, readArray } from "../shared/arrays.js";
import { RequestQueue } from "../shared/requests.js";

const MAX_MAPS = 512;
const MAX_IN_FLIGHT = 3;

/** The cache key of a request (only the parameter its measure uses counts). */
export function mapKey(r) {
  const param =
    r.measure === "channel"
      ? r.channel
      : r.measure === "patch"
        ? (r.patch ?? []).join(",")
        : r.measure === "text"
          ? r.token
          : "";
  return `${r.module}|${r.measure}|${r.surface}|${param}`;
}

/** A map payload (trait value, or reply + its buffer) -> {key, data, shape, lo, hi, ratio, fitted}. */
export function mapOf(payload) {
  const { data, shape, meta } = readArray(payload, "map");
  return {
    key: mapKey(meta),
    data,
    shape,
    lo: meta.lo,
    hi: meta.hi,
    ratio: meta.ratio ?? [],
    fitted: meta.fitted ?? 0,
  };
}

export class MapStore {
  constructor(model, onChange) {
    this.model = model;
    this.onChange = onChange;
    this.requests = new RequestQueue(model, onChange, { maxInFlight: MAX_IN_FLIGHT }); // key: mapKey
    this.reset();
  }

  /** Forget everything (new data in the kernel); the first map comes from the state. Replies to
   * the requests sent before are not ours any more (their ids are forgotten). */
  reset() {
    this.maps = new Map();
    this.requests.reset();
    this.version = this.model.get("data_version");
    const first = this.model.get("first_map");
    if (!isEmpty(first)) {
      const entry = mapOf(first);
      this.maps.set(entry.key, entry);
    }
  }

  /** The map of request `r`, or null (then asked for). */
  get(r) {
    const key = mapKey(r);
    const entry = this.maps.get(key);
    if (entry) return entry;
    this.request(r);
    return null;
  }

  request(r) {
    const key = mapKey(r);
    if (!this.maps.has(key)) this.requests.enqueue(key, { type: "request_map", ...r });
  }

  /** Whether request `r` was asked for MISSING_MS ago and never answered. */
  missing(r) {
    return this.requests.missing(mapKey(r));
  }

  error(r) {
    return this.requests.error(mapKey(r));
  }

  /** A custom message from the kernel; true when it was one of ours. A map computed from data
   * older than `data_version` is dropped. */
  handle(msg, buffers) {
    if (!msg || !["map", "error"].includes(msg.type)) return false;
    const use = () => {
      if (msg.version !== this.version) return;
      const entry = mapOf(fromMessage(msg, buffers));
      this.maps.set(entry.key, entry);
      while (this.maps.size > MAX_MAPS) this.maps.delete(this.maps.keys().next().value);
    };
    if (this.requests.receive(msg, use) == null) return false;
    this.onChange(msg);
    return true;
  }

  close() {
    this.requests.close();
  }
}
