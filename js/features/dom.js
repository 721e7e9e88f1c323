// Small DOM helpers of the feature views (kept here so js/lib can move freely).
// Every string from the kernel is set with textContent: token strings and texts are untrusted.

/** Add a stylesheet with this id once per document (or shadow root). */
export function injectStyle(el, id, css) {
  const root = el.getRootNode?.();
  const host = root instanceof ShadowRoot ? root : document.head;
  if (host.querySelector(`#${id}`)) return;
  const style = document.createElement("style");
  style.id = id;
  style.textContent = css;
  host.appendChild(style);
}

/** An element with a class and (untrusted-safe) text, appended to parent. */
export function node(tag, className, parent, text) {
  const n = document.createElement(tag);
  if (className) n.className = className;
  if (text !== undefined) n.textContent = text;
  if (parent) parent.appendChild(n);
  return n;
}

/** "#rrggbb" -> [r, g, b], or grey for anything else. */
export function hexRgb(hex) {
  const m = /^#([0-9a-f]{6})$/i.exec(String(hex));
  if (!m) return [136, 136, 136];
  const v = Number.parseInt(m[1], 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/** Draw uint8 RGB pixels [h, w, 3] (from `data` at `offset`) into a canvas, `scale`x. */
export function drawRgb(canvas, data, offset, h, w, scale) {
  canvas.width = w * scale;
  canvas.height = h * scale;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    image.data[4 * i] = data[offset + 3 * i];
    image.data[4 * i + 1] = data[offset + 3 * i + 1];
    image.data[4 * i + 2] = data[offset + 3 * i + 2];
    image.data[4 * i + 3] = 255;
  }
  const small = document.createElement("canvas");
  small.width = w;
  small.height = h;
  small.getContext("2d").putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, w * scale, h * scale);
  return ctx;
}
