// Small DOM helpers for the tokenizer view. Untrusted text only ever goes through textContent
// or title: never innerHTML.

/** Create an element with a class and text, appended to parent. */
export function node(tag, className, parent, text) {
  const n = (parent?.ownerDocument ?? document).createElement(tag);
  if (className) n.className = className;
  if (text !== undefined) n.textContent = text;
  if (parent) parent.appendChild(n);
  return n;
}

/** Add a stylesheet with this id once per document (or shadow root). */
export function injectStyle(el, id, css) {
  const root = el.getRootNode?.();
  const host =
    typeof ShadowRoot !== "undefined" && root instanceof ShadowRoot ? root : document.head;
  if (host.querySelector(`#${id}`)) return;
  const style = document.createElement("style");
  style.id = id;
  style.textContent = css;
  host.appendChild(style);
}

/** A button with text and a title. */
export function button(parent, className, text, title) {
  const b = node("button", className, parent, text);
  b.type = "button";
  if (title) b.title = title;
  return b;
}

/** Run `fn` at most once per animation frame (or microtask where there are no frames). */
export function frameScheduler(fn) {
  let pending = false;
  let cancelled = false;
  const later = globalThis.requestAnimationFrame ?? ((cb) => queueMicrotask(cb));
  return {
    schedule() {
      if (pending || cancelled) return;
      pending = true;
      later(() => {
        pending = false;
        if (!cancelled) fn();
      });
    },
    now() {
      if (!cancelled) fn();
    },
    cancel() {
      cancelled = true;
    },
  };
}
