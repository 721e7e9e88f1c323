// The widget model as the views use it (anywidget's: get / set / on / off / save_changes).
// Every trait name a view reads or writes is a string literal at the call: model.get("x"),
// model.set("x", v), setTrait(model, "x", v), onChange(model, ["x", ...], fn) or "change:x".
// This file is the one place where a name is a variable, so tests/python/test_js_contract.py
// can read every other trait name from the source and compare it with the Python traits.

/**
 * anywidget's model of a widget whose synced traits are T (its RenderProps<T>["model"]).
 * @template T
 * @typedef {object} WidgetModel
 * @property {<K extends keyof T>(name: K) => T[K]} get
 * @property {<K extends keyof T>(name: K, value: T[K]) => void} set
 * @property {(name: string, fn: Function) => void} on
 * @property {(name: string, fn: Function) => void} off
 * @property {() => void} save_changes
 * @property {(content: object, callbacks?: object, buffers?: ArrayBuffer[]) => void} send
 */

/** Set a trait from the page and send it to the kernel. */
export function setTrait(model, name, value) {
  model.set(name, value);
  model.save_changes();
}

/** Call `fn` whenever one of the traits `names` changes; returns the function that stops it. */
export function onChange(model, names, fn) {
  for (const name of names) model.on(`change:${name}`, fn);
  return () => {
    for (const name of names) model.off(`change:${name}`, fn);
  };
}
