// Tiles of one head asked from the kernel for the region shown (docs/architecture.md, "Tiles").
// request_tile {id, layer, head, rows: [q0, q1], cols: [k0, k1], pixels: [h, w]} is answered by
// tile {id, ..., shape: [r, c], dtype: "uint8", lo, hi} + one buffer (max-pooled, uint8).

import { fromMessage, readArray } from "../shared/arrays.js";

export const TILE_TIMEOUT_MS = 5000;
const MAX_TILES = 96;

/** Cache key of a request (tile or token focus). */
export function tileKey(request, kind = "request_tile") {
  return `${kind}:${JSON.stringify(request)}`;
}

/**
 * Decode a tile's bytes to floats: value = lo + byte * (hi - lo) / 255; with masked_byte (0),
 * that byte is -Infinity (masked) and finite values start at byte 1; with nan_byte (255), that
 * byte is NaN and finite values stop at 254: value = lo + (byte - first) * (hi - lo) / (top - first).
 */
export function decodeTile(tile) {
  const masked = Number.isInteger(tile.masked_byte) ? tile.masked_byte : -1;
  const nan = Number.isInteger(tile.nan_byte) ? tile.nan_byte : -1;
  const first = masked >= 0 ? 1 : 0;
  const top = nan >= 0 ? 254 : 255;
  const scale = (tile.hi - tile.lo) / (top - first);
  const out = new Float32Array(tile.bytes.length);
  for (let i = 0; i < out.length; i++) {
    const b = tile.bytes[i];
    if (b === masked) out[i] = Number.NEGATIVE_INFINITY;
    else if (b === nan) out[i] = Number.NaN;
    else out[i] = tile.lo + (b - first) * scale;
  }
  return out;
}

/**
 * A tile or token-focus value ({value, dtype: "uint8", shape, ...meta}) as
 * {...meta, shape, bytes} (+ `values`, decoded, for a tile). Throws naming what is wrong.
 */
export function readTile(payload, name = "tile") {
  if (payload.dtype !== "uint8") throw new Error(`${name}: unsupported dtype ${payload.dtype}`);
  const { data, shape, meta } = readArray(payload, name);
  const tile = { ...meta, shape, bytes: data };
  if (name === "tile") tile.values = decodeTile(tile);
  return tile;
}

export class TileStore {
  constructor({ send, onChange, timeoutMs = TILE_TIMEOUT_MS }) {
    this.send = send;
    this.onChange = onChange;
    this.timeoutMs = timeoutMs;
    this.nextId = 0;
    this.tiles = new Map(); // key -> tile (insertion order = age)
    this.pending = new Map(); // id -> {key, timer}
    this.waiting = new Set(); // keys in flight
    this.errors = new Map(); // key -> message
  }

  /** The reply if held (marked fresh), else null after asking for it once. */
  ensure(request, kind = "request_tile") {
    const key = tileKey(request, kind);
    const tile = this.tiles.get(key);
    if (tile) {
      this.tiles.delete(key);
      this.tiles.set(key, tile);
      return tile;
    }
    if (this.waiting.has(key) || this.errors.has(key)) return null;
    const id = `tile-${++this.nextId}`;
    const timer = setTimeout(() => this.timeout(id), this.timeoutMs);
    this.pending.set(id, { key, timer });
    this.waiting.add(key);
    this.send({ type: kind, id, ...request });
    return null;
  }

  error(request, kind = "request_tile") {
    return this.errors.get(tileKey(request, kind)) ?? null;
  }

  timeout(id) {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    this.waiting.delete(pending.key);
    this.errors.set(pending.key, "no reply from the kernel (is it running?)");
    this.onChange();
  }

  /** Handle a kernel message; true when it answered one of our requests. */
  handleMessage(msg, buffers) {
    if (!["tile", "focus", "error"].includes(msg?.type)) return false;
    const pending = this.pending.get(msg.id);
    if (!pending) return false;
    clearTimeout(pending.timer);
    this.pending.delete(msg.id);
    this.waiting.delete(pending.key);
    if (msg.type === "error") {
      // retry: the kernel dropped the request unanswered (a newer one replaced it, or too many
      // waited); nothing is remembered, so the next draw that needs it asks again.
      if (!msg.retry) this.errors.set(pending.key, String(msg.message ?? "error"));
    } else {
      try {
        const tile = readTile(fromMessage(msg, buffers), msg.type);
        this.tiles.set(pending.key, tile);
        while (this.tiles.size > MAX_TILES) this.tiles.delete(this.tiles.keys().next().value);
      } catch (err) {
        this.errors.set(pending.key, err.message);
      }
    }
    this.onChange();
    return true;
  }

  /** Forget every tile and request (new data): late replies are then ignored. */
  reset() {
    this.dispose();
    this.pending.clear();
    this.tiles.clear();
    this.errors.clear();
  }

  /** Stop the timers (the view is gone). */
  dispose() {
    for (const { timer } of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
    this.waiting.clear();
  }
}
