// Drawing: one head as a canvas heatmap, its colour bar and its axis labels. One pixel per cell
// is written with ImageData into a small canvas, then scaled up without smoothing (no per-cell
// DOM). Labels are a few spans set through textContent: token text is untrusted.

import { colorTable, fillPixels } from "./colormap.js";
import { AXIS_TITLE, canvasPixels, displayLabel, PAD, truncateLabel } from "./layout.js";

const sources = new WeakMap(); // target canvas -> its 1-pixel-per-cell source canvas

function sizeCanvas(canvas, cssW, cssH, dpr) {
  const { w, h } = canvasPixels(cssW, cssH, dpr);
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  canvas.style.width = `${cssW}px`;
  canvas.style.height = `${cssH}px`;
}

function sourceFor(canvas, w, h) {
  let src = sources.get(canvas);
  if (!src) {
    src = canvas.ownerDocument.createElement("canvas");
    sources.set(canvas, src);
  }
  src.width = w;
  src.height = h;
  return src;
}

function blit(canvas, src) {
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(src, 0, 0, canvas.width, canvas.height);
}

/**
 * Draw values (Float32Array, rows = queries) of an nQ x nK head into canvas,
 * shown at cssW x cssH CSS pixels, colours spanning [lo, hi].
 */
export function drawHeatmap(canvas, { values, nQ, nK, lo, hi, cssW, cssH, dpr }) {
  sizeCanvas(canvas, cssW, cssH, dpr);
  if (nQ === 0 || nK === 0) {
    canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
    return;
  }
  const src = sourceFor(canvas, nK, nQ);
  const sctx = src.getContext("2d");
  const image = sctx.createImageData(nK, nQ);
  fillPixels(image.data, values, lo, hi);
  sctx.putImageData(image, 0, 0);
  blit(canvas, src);
}

/** Draw the colour bar, low values on the left. */
export function drawColorbar(canvas, { cssW, cssH, dpr }) {
  sizeCanvas(canvas, cssW, cssH, dpr);
  const src = sourceFor(canvas, 256, 1);
  const sctx = src.getContext("2d");
  const image = sctx.createImageData(256, 1);
  image.data.set(colorTable());
  sctx.putImageData(image, 0, 0);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = true; // a smooth ramp here
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(src, 0, 0, canvas.width, canvas.height);
}

/** Position an absolutely placed element, in CSS pixels. */
export function place(node, left, top, width, height) {
  Object.assign(node.style, {
    left: `${left}px`,
    top: `${top}px`,
    width: `${width}px`,
    height: `${height}px`,
  });
}

function label(doc, kind, token, style) {
  const span = doc.createElement("span");
  span.className = `attnwidgets-label attnwidgets-${kind}`;
  span.textContent = truncateLabel(token);
  span.title = displayLabel(token);
  Object.assign(span.style, style);
  return span;
}

/**
 * Query labels (right-aligned, left of the map) and key labels (vertical, above it),
 * every queryStep-th / keyStep-th token so that neighbours do not overlap.
 */
export function drawAxisLabels(queryBox, keyBox, L, queryTokens, keyTokens) {
  const doc = queryBox.ownerDocument;
  const line = Math.round(L.fontPx * 1.25);
  const font = { fontSize: `${L.fontPx}px`, lineHeight: `${line}px` };
  // (the first AXIS_TITLE px on the left and at the top hold the axis titles: axes.js)
  place(queryBox, AXIS_TITLE, L.marginTop, L.marginLeft - PAD - AXIS_TITLE, L.heatH);
  place(keyBox, L.marginLeft, AXIS_TITLE, L.heatW, L.marginTop - PAD - AXIS_TITLE);
  const queries = [];
  for (let i = 0; i < queryTokens.length; i += L.queryStep) {
    const top = `${(i + 0.5) * L.cellH - line / 2}px`;
    queries.push(
      label(doc, "qlabel", queryTokens[i], { ...font, top, width: queryBox.style.width }),
    );
  }
  const keys = [];
  for (let j = 0; j < keyTokens.length; j += L.keyStep) {
    const left = `${(j + 0.5) * L.cellW - line / 2}px`;
    keys.push(label(doc, "klabel", keyTokens[j], { ...font, left, height: keyBox.style.height }));
  }
  queryBox.replaceChildren(...queries);
  keyBox.replaceChildren(...keys);
}
