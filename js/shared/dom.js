// Shared DOM helpers: one stylesheet per document, small element builders, chart boxes.

/** Add a stylesheet with this id once inside the widget's own element `el`: nothing outside
 * the element is touched (anywidget's rule, which VS Code and Colab rely on). */
export function injectStyle(el, id, css) {
  if (el.querySelector(`style[data-attnwidgets-style="${id}"]`)) return;
  const style = document.createElement("style");
  style.dataset.attnwidgetsStyle = id;
  style.textContent = css;
  el.appendChild(style);
}

/** Create an element with a class and (untrusted-safe) text, appended to parent. */
export function node(tag, className, parent, text) {
  const n = document.createElement(tag);
  if (className) n.className = className;
  if (text !== undefined) n.textContent = text;
  if (parent) parent.appendChild(n);
  return n;
}

/** A button with (untrusted-safe) text and a title, appended to parent. */
export function button(parent, className, text, title) {
  const b = node("button", className, parent, text);
  b.type = "button";
  if (title) b.title = title;
  return b;
}

/** A titled box holding one canvas: {box, heading, canvas}. */
export function chart(parent, className, title) {
  const box = node("div", "attnwidgets-chart", parent);
  const heading = node("div", "attnwidgets-chart-title", box, title);
  const canvas = node("canvas", className, box);
  return { box, heading, canvas };
}

/** Width available for charts: the element's width (or fallback) within [320, 960]. */
export function widthOf(el, fallback = 720) {
  const width = el.clientWidth || fallback;
  return Math.max(320, Math.min(960, width - 8));
}

/** Base stylesheet for a view whose root element has class `root`. */
export const BASE_CSS = (root) => `
.${root} { box-sizing: border-box; padding: 4px 0; max-width: 100%;
  font-family: var(--jp-ui-font-family, system-ui, sans-serif);
  font-size: var(--jp-ui-font-size1, 13px); color: var(--jp-ui-font-color1, #222); }
.${root} .attnwidgets-title { font-weight: 600; overflow-wrap: anywhere; }
.${root} .attnwidgets-status { min-height: 1.3em; color: var(--jp-warn-color0, #a15c00); }
.${root} .attnwidgets-grid { display: flex; flex-wrap: wrap; gap: 8px 16px; }
.${root} .attnwidgets-chart-title { font-size: 11px; color: #555; margin-top: 4px; }
.${root} canvas { display: block; }
.${root} .attnwidgets-key-in { color: rgb(31, 119, 180); font-weight: 600; }
.${root} .attnwidgets-key-out { color: rgb(255, 127, 14); font-weight: 600; }
.${root} .attnwidgets-outliers { margin: 2px 0; padding-left: 18px; color: rgb(214, 39, 40); }
.${root} [hidden] { display: none !important; }
`;

/** Batch redraws: `schedule()` queues at most one `draw()` per microtask; `cancel()` stops
 * every later draw (call it when the view is removed). */
export function redrawScheduler(draw) {
  let scheduled = false;
  let cancelled = false;
  return {
    schedule() {
      if (scheduled || cancelled) return;
      scheduled = true;
      queueMicrotask(() => {
        scheduled = false;
        if (!cancelled) draw();
      });
    },
    cancel() {
      cancelled = true;
    },
  };
}

/** Run `fn` at most once per animation frame (or microtask where there are no frames):
 * `schedule()` queues it, `now()` runs it at once, `cancel()` stops every later run. */
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
