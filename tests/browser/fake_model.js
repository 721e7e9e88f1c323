// The one fake anywidget model of the browser tests (tests/browser, tests/adversarial) and of
// benchmarks/browser_attention.py: Backbone-style get/set/on/off, `change:<trait>` events
// fired synchronously on set, `msg:custom`, send / save_changes. Served at /fake_model.js by
// tests/browser/page_server.py.
//
// Widget state arrives as ipywidgets sends it (page_server.wire in Python): JSON with every
// binary value lifted out, and the buffers with their paths, e.g. [["chunk", "value"], b64].
// putBuffers puts each one back in place as a DataView, as @jupyter-widgets/base does.

/** A DataView over base64 bytes that starts `pad` bytes into a bigger buffer, as buffers may. */
export function viewOf(b64, pad = 7) {
  const bin = atob(b64);
  const buffer = new ArrayBuffer(bin.length + 2 * pad);
  const bytes = new Uint8Array(buffer, pad, bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new DataView(buffer, pad, bin.length);
}

/** {state, buffers: [[path, b64], ...]} -> the state with a DataView at each path. */
export function decodeWire({ state, buffers = [] }) {
  const out = structuredClone(state);
  for (const [path, b64] of buffers) {
    let target = out;
    for (const key of path.slice(0, -1)) target = target[key];
    target[path[path.length - 1]] = viewOf(b64);
  }
  return out;
}

export class FakeModel {
  constructor(state) {
    this.state = { ...state };
    this.listeners = new Map();
    this.sent = [];
    this.saved = 0;
  }
  get(key) {
    return this.state[key];
  }
  set(key, value) {
    const old = this.state[key];
    this.state[key] = value;
    if (old !== value) this.trigger(`change:${key}`, value);
  }
  on(name, fn) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(fn);
  }
  off(name, fn) {
    this.listeners.get(name)?.delete(fn);
  }
  trigger(name, ...args) {
    for (const fn of [...(this.listeners.get(name) ?? [])]) fn(...args);
  }
  send(content) {
    this.sent.push(structuredClone(content));
  }
  save_changes() {
    this.saved += 1;
  }
  listenerCount() {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }
  /** A kernel update, as Backbone applies it: set every key, then fire the change events. */
  update(state) {
    const changed = Object.keys(state).filter((key) => this.state[key] !== state[key]);
    Object.assign(this.state, state);
    for (const key of changed) this.trigger(`change:${key}`, state[key]);
  }
}

const ticks = {
  microtask: () => new Promise((resolve) => queueMicrotask(resolve)), // works with a fake clock
  timeout: () => new Promise((resolve) => setTimeout(resolve, 0)),
};

/**
 * window.harness for a page: mount(wire, {width, dpr, bundle, replace}) renders `bundle` (a
 * built /<name>_view.js) on a FakeModel in a new #host element (`replace`: the only element of
 * the body); set / apply / reply change it as a user or the kernel would, each followed by
 * one tick ("microtask", which a fake clock does not hold up, or "timeout"). `defaults`
 * gives the page's own options. The model is window.model.
 */
export function createHarness(defaults = {}) {
  const base = { bundle: "attention_view.js", tick: "microtask", width: 800, replace: false };
  const { tick, ...options } = { ...base, ...defaults };
  const wait = ticks[tick];
  const harness = {
    async mount(wire, given = {}) {
      const { width, dpr, bundle: name, replace } = { ...options, ...given };
      if (dpr)
        Object.defineProperty(window, "devicePixelRatio", { value: dpr, configurable: true });
      const widget = (await import(`/${name}`)).default;
      const model = new FakeModel(decodeWire(wire));
      const el = document.createElement("div");
      el.id = "host";
      el.style.width = `${width}px`;
      if (replace) document.body.replaceChildren(el);
      else document.body.appendChild(el);
      window.model = model;
      window.cleanup = widget.render({ model, el });
      await wait();
    },
    async set(key, value) {
      window.model.set(key, value);
      await wait();
    },
    /** A kernel update with buffers ({state, buffers}), applied at once, then a task. */
    async apply(wire) {
      window.model.update(decodeWire(wire));
      await ticks.timeout();
    },
    async reply(msg, b64) {
      window.model.trigger("msg:custom", msg, b64 == null ? [] : [viewOf(b64)]);
      await wait();
    },
  };
  return harness;
}
