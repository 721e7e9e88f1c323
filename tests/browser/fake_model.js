// The one fake anywidget model of the browser tests (tests/browser, tests/adversarial) and of
// benchmarks/browser_attention.py: Backbone-style get/set/on/off, `change:<trait>` events
// fired synchronously on set, `msg:custom`, send / save_changes (each save records the traits
// set since the last one, in `saves`, as anywidget would send them to the kernel). Served at
// /fake_model.js by tests/browser/page_server.py.
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
    this.saves = []; // {trait: value} per save_changes, for a kernel bridge to hand on
    this.dirty = new Set();
  }
  get(key) {
    return this.state[key];
  }
  set(key, value) {
    const old = this.state[key];
    this.state[key] = value;
    this.dirty.add(key);
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
    const out = {};
    for (const key of this.dirty) out[key] = this.state[key];
    this.dirty.clear();
    this.saves.push(out);
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

export const ticks = {
  microtask: () => new Promise((resolve) => queueMicrotask(resolve)), // works with a fake clock
  timeout: () => new Promise((resolve) => setTimeout(resolve, 0)),
  // an animation frame and a task: what a view scheduled with requestAnimationFrame is drawn
  frame: () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0))),
};

/** A reply's buffers: none (null), one base64 string, or a list of them -> DataViews. */
function buffersOf(b64) {
  if (b64 == null) return [];
  return (Array.isArray(b64) ? b64 : [b64]).map((item) => viewOf(item));
}

/**
 * window.harness for a page: mount(wire, {width, dpr, bundle, replace, id}) renders `bundle`
 * (a built /<name>_view.js) on a FakeModel in a new element #<id> (default "host"; `replace`:
 * the only element of the body, else appended; an `id` given whose element exists: that
 * element, emptied);
 * set / apply / reply change it as a user or the kernel would, each followed by one tick
 * ("microtask", which a fake clock does not hold up, "timeout", or "frame"). `defaults` gives
 * the page's own options. The model is window.model, and window.models[id] for each mount
 * (apply and reply take that id last, for pages with several widgets); what render returned
 * is window.cleanup, and window.cleanups[id].
 */
export function createHarness(defaults = {}) {
  const base = { bundle: "attention_view.js", tick: "microtask", width: 800, replace: false };
  const { tick, ...options } = { ...base, ...defaults };
  const wait = ticks[tick];
  const modelOf = (id) => (id == null ? window.model : window.models[id]);
  const harness = {
    async mount(wire, given = {}) {
      const { width, dpr, bundle: name, replace, id = "host" } = { ...options, ...given };
      if (dpr)
        Object.defineProperty(window, "devicePixelRatio", { value: dpr, configurable: true });
      const widget = (await import(`/${name}`)).default;
      const model = new FakeModel(decodeWire(wire));
      let el = given.id == null ? null : document.getElementById(id);
      if (el) el.replaceChildren();
      else {
        el = document.createElement("div");
        el.id = id;
        if (replace) document.body.replaceChildren(el);
        else document.body.appendChild(el);
      }
      el.style.width = `${width}px`;
      window.model = model;
      window.models = { ...window.models, [id]: model };
      window.renderStarted = performance.now(); // for benchmarks: render() -> painted
      window.cleanup = widget.render({ model, el });
      window.cleanups = { ...window.cleanups, [id]: window.cleanup };
      await wait();
    },
    async set(key, value) {
      window.model.set(key, value);
      await wait();
    },
    /** A kernel update with buffers ({state, buffers}), applied at once, then a task. */
    async apply(wire, id) {
      modelOf(id).update(decodeWire(wire));
      await (tick === "frame" ? wait : ticks.timeout)();
    },
    /** A custom message from the kernel with no buffer, one (base64) or a list of them. */
    async reply(msg, b64, id) {
      modelOf(id).trigger("msg:custom", msg, buffersOf(b64));
      await wait();
    },
    /** What the page saved and sent since the last call (a kernel bridge hands them on). */
    take(id) {
      const model = modelOf(id);
      return { saves: model.saves.splice(0), sent: model.sent.splice(0) };
    },
    frames: ticks.frame,
  };
  return harness;
}
