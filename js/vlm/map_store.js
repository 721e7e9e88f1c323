// The feature view's maps, cached in the browser and asked for by message
// ({type: "request_map", id, module, measure, surface, channel, patch, token} ->
// {type: "map", id, version, dtype, shape, lo, hi, ratio, fitted, ...the request} + one buffer).
// A map is float32 [rows, cols] (or [rows, cols, 3] for PCA), NaN where a cell has no token.

import { fromMessage, isEmpty, readArray } from "../shared/arrays.js";

export const MISSING_MS = 3000;
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
    this.reset();
    this.timers = new Set();
  }

  /** Forget everything (new data in the kernel); the first map comes from the state. */
  reset() {
    this.maps = new Map();
    this.pending = new Map(); // key -> {id, since}
    this.errors = new Map();
    this.ids = new Map();
    this.queue = [];
    this.nextId = this.nextId ?? 1;
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
    if (this.maps.has(key) || this.pending.has(key) || this.errors.has(key)) return;
    this.queue = this.queue.filter((q) => mapKey(q) !== key);
    this.queue.push(r);
    this.pump();
  }

  pump() {
    while (this.pending.size < MAX_IN_FLIGHT && this.queue.length) {
      const r = this.queue.pop();
      const key = mapKey(r);
      const id = this.nextId++;
      this.pending.set(key, { id, since: performance.now() });
      this.ids.set(id, key);
      this.model.send({ type: "request_map", id, ...r });
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (this.pending.has(key)) this.onChange();
      }, MISSING_MS);
      this.timers.add(timer);
    }
  }

  missing(r) {
    const asked = this.pending.get(mapKey(r));
    return asked != null && performance.now() - asked.since >= MISSING_MS;
  }

  error(r) {
    return this.errors.get(mapKey(r)) ?? null;
  }

  /** A custom message from the kernel; true when it was one of ours. */
  handle(msg, buffers) {
    if (!msg || !["map", "error"].includes(msg.type)) return false;
    const key = this.ids.get(msg.id);
    if (key == null) return false;
    this.ids.delete(msg.id);
    this.pending.delete(key);
    if (msg.type === "error") {
      if (!msg.retry) this.errors.set(key, String(msg.message));
    } else if (msg.version === this.version) {
      try {
        const entry = mapOf(fromMessage(msg, buffers));
        this.maps.set(entry.key, entry);
        while (this.maps.size > MAX_MAPS) this.maps.delete(this.maps.keys().next().value);
      } catch (error) {
        this.errors.set(key, String(error.message ?? error));
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
