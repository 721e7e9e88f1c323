// PredictionGridView's data, without the DOM: the predictions payload read, the filter (the
// same as src/attnwidgets/widgets/vision/prediction_grid_data.py `select`), pages, and each
// thumbnail's pixels scaled nearest-neighbour into a frame (red for a wrong prediction).

import { readArray, readPackedValue } from "../shared/arrays.js";

export const WRONG_RGB = [220, 30, 30];

/** The `predictions` trait: {n, k, labels Int32Array [n], classes Int32Array [n*k],
 * probabilities Float32Array [n*k], predicted Int32Array [n]}. */
export function readPredictions(payload) {
  const { arrays } = readPackedValue(payload, "predictions");
  const labels = arrays.get("labels");
  const classes = arrays.get("classes");
  const probabilities = arrays.get("probabilities");
  if (!labels || !classes || !probabilities) throw new Error("predictions: missing arrays");
  const [n, k] = classes.shape;
  const predicted = new Int32Array(n);
  for (let i = 0; i < n; i++) predicted[i] = classes.data[i * k];
  return {
    n,
    k,
    labels: labels.data,
    classes: classes.data,
    probabilities: probabilities.data,
    predicted,
  };
}

/** The `images` trait: {data: Uint8Array, n, height, width} (uint8 [n, h, w, 3]). */
export function readImages(payload) {
  const { data, shape } = readArray(payload, "images");
  if (shape.length !== 4 || shape[3] !== 3) throw new Error(`images: shape [${shape}]`);
  return { data, n: shape[0], height: shape[1], width: shape[2] };
}

/** Indices kept by the filter, in order: trueClass / predictedClass (-1: any), correctness
 * "all" | "wrong" | "right". */
export function filterIndices(pred, { trueClass = -1, predictedClass = -1, correctness = "all" }) {
  const out = [];
  for (let i = 0; i < pred.n; i++) {
    const t = pred.labels[i];
    const p = pred.predicted[i];
    if (trueClass >= 0 && t !== trueClass) continue;
    if (predictedClass >= 0 && p !== predictedClass) continue;
    if (correctness === "wrong" && t === p) continue;
    if (correctness === "right" && t !== p) continue;
    out.push(i);
  }
  return out;
}

/** The page shown: {page (clamped), pages, start, end} for count items. */
export function pageOf(count, perPage, page) {
  const pages = Math.max(1, Math.ceil(count / perPage));
  const shown = Math.min(Math.max(0, page), pages - 1);
  const start = shown * perPage;
  return { page: shown, pages, start, end: Math.min(count, start + perPage) };
}

/** The top-k of image i: [{cls, p}], best first. */
export function topOf(pred, i) {
  const out = [];
  for (let j = 0; j < pred.k; j++) {
    out.push({ cls: pred.classes[i * pred.k + j], p: pred.probabilities[i * pred.k + j] });
  }
  return out;
}

/**
 * RGBA pixels (Uint8ClampedArray, size x size) of image `index`: the image scaled
 * nearest-neighbour to fit inside a frame of `border` pixels, centred; the frame filled
 * with `frame` ([r, g, b]) or left transparent (null).
 */
export function thumbPixels(images, index, size, border, frame) {
  const out = new Uint8ClampedArray(size * size * 4);
  const { data, height, width } = images;
  if (frame) {
    for (let p = 0; p < size * size; p++) {
      out[4 * p] = frame[0];
      out[4 * p + 1] = frame[1];
      out[4 * p + 2] = frame[2];
      out[4 * p + 3] = 255;
    }
  }
  const inner = Math.max(1, size - 2 * border);
  const scale = inner / Math.max(height, width);
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  const x0 = border + Math.floor((inner - w) / 2);
  const y0 = border + Math.floor((inner - h) / 2);
  const base = index * height * width * 3;
  for (let y = 0; y < h; y++) {
    const sy = Math.min(height - 1, Math.floor((y * height) / h));
    for (let x = 0; x < w; x++) {
      const sx = Math.min(width - 1, Math.floor((x * width) / w));
      const s = base + (sy * width + sx) * 3;
      const d = ((y0 + y) * size + x0 + x) * 4;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
      out[d + 3] = 255;
    }
  }
  return out;
}

/** Background of a confusion cell: blue on the diagonal, red off it, by count / max. */
export function cellColour(count, max, diagonal) {
  if (!(count > 0) || !(max > 0)) return "rgb(255, 255, 255)";
  const t = 0.15 + 0.85 * Math.sqrt(count / max);
  const [r, g, b] = diagonal ? [40, 100, 190] : [215, 45, 45];
  const mix = (c) => Math.round(255 + (c - 255) * t);
  return `rgb(${mix(r)}, ${mix(g)}, ${mix(b)})`;
}

/** Text colour that reads on cellColour's background. */
export function cellInk(count, max) {
  return count > 0 && max > 0 && Math.sqrt(count / max) > 0.55 ? "#fff" : "#222";
}
