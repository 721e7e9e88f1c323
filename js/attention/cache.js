// The layers this view holds, and the request_layer / layer / error message exchange
// (docs/architecture.md, "Messages"). No DOM here: the view asks `status(layer)` what to show.

import { readLayer } from "./decode.js";

export const REQUEST_TIMEOUT_MS = 5000;
// An error reply that names no request of ours is shown this long (or until a reply succeeds).
export const NOTICE_MS = 4000;

export function noKernelMessage(layer) {
  return `layer ${layer} is not in this page (no kernel)`;
}

export class LayerStore {
  /**
   * send(content): post a custom message to the kernel.
   * onChange(): something the view may show has changed (a layer arrived, an error, a timeout).
   */
  constructor({ send, onChange, timeoutMs = REQUEST_TIMEOUT_MS }) {
    this.send = send;
    this.onChange = onChange;
    this.timeoutMs = timeoutMs;
    this.nextId = 0;
    this.reset([]);
  }

  /** Forget everything (a new chunk arrived) and hold these entries (from splitChunk). */
  reset(entries) {
    this.dispose();
    this.layers = new Map(entries.map((e) => [e.layer, e]));
    this.requests = new Map(); // id -> layer, every request of this generation
    this.pending = new Map(); // layer -> {id, timer}, requests without a reply yet
    this.failed = new Map(); // layer -> {message, retry}
    this.notice = null; // an error reply that names no layer we asked for (shown a while)
  }

  /** Stop the timers. */
  dispose() {
    for (const { timer } of this.pending?.values() ?? []) clearTimeout(timer);
    this.pending?.clear();
    this.clearNotice();
  }

  /** Show an error that names no request for NOTICE_MS (or until clearNotice). */
  showNotice(message) {
    clearTimeout(this.noticeTimer);
    this.notice = message;
    this.noticeTimer = setTimeout(() => {
      this.noticeTimer = null;
      this.notice = null;
      this.onChange();
    }, NOTICE_MS);
  }

  /** A reply succeeded: the last notice is old news. Returns true when one was shown. */
  clearNotice() {
    clearTimeout(this.noticeTimer);
    this.noticeTimer = null;
    const had = this.notice != null;
    this.notice = null;
    return had;
  }

  /** The layer's entry, or null after sending a request for it (at most one in flight). */
  ensure(layer) {
    const entry = this.layers.get(layer);
    if (entry) return entry;
    const failed = this.failed.get(layer);
    if (this.pending.has(layer) || (failed && !failed.retry)) return null;
    const id = ++this.nextId;
    const timer = setTimeout(() => this.timeout(layer, id), this.timeoutMs);
    this.pending.set(layer, { id, timer });
    this.requests.set(id, layer);
    this.send({ type: "request_layer", layer, id });
    return null;
  }

  /** What to show for a layer: {entry} | {error} | {loading}. */
  status(layer) {
    const entry = this.layers.get(layer);
    if (entry) return { entry };
    const failed = this.failed.get(layer);
    if (failed) return { error: failed.message };
    return { loading: this.pending.has(layer) };
  }

  timeout(layer, id) {
    if (this.pending.get(layer)?.id !== id) return;
    this.pending.delete(layer);
    // A late reply is still accepted; coming back to the layer asks again.
    this.failed.set(layer, { message: noKernelMessage(layer), retry: true });
    this.onChange();
  }

  /** Handle a custom message from the kernel. Returns true when it was ours. */
  handleMessage(msg, buffers) {
    if (msg?.type !== "layer" && msg?.type !== "error") return false;
    const known = msg.id != null && this.requests.has(msg.id);
    if (msg.id != null && !known) return false; // a reply to a request of an older chunk
    const layer = known ? this.requests.get(msg.id) : msg.layer;
    if (msg.type === "layer") {
      if (!Number.isInteger(layer)) return false;
      this.receiveLayer(layer, msg, buffers);
    } else if (layer == null) {
      this.showNotice(String(msg.message ?? "error"));
    } else if (msg.retry) {
      this.settle(layer); // dropped unanswered by a busy kernel: asked again when shown
    } else {
      this.fail(layer, String(msg.message ?? "error"));
    }
    this.onChange();
    return true;
  }

  receiveLayer(layer, msg, buffers) {
    try {
      const entry = readLayer(msg, buffers, layer);
      this.settle(layer);
      this.failed.delete(layer);
      this.layers.set(layer, entry);
      this.clearNotice();
    } catch (err) {
      this.fail(layer, err.message);
    }
  }

  fail(layer, message) {
    this.settle(layer);
    this.failed.set(layer, { message, retry: false });
  }

  settle(layer) {
    const pending = this.pending.get(layer);
    if (pending) clearTimeout(pending.timer);
    this.pending.delete(layer);
  }
}
