// Every head's map of [CLS] (or of the mean patch query) as thumbnails, layers x heads, over a
// faint copy of the image; a click picks that layer and head in the main view.
// `heads_grid` trait: packed uint8 maps.<layer> [heads, rows, cols] + float32 scale.<layer>
// [heads] (each map over its own max, value = byte² * scale), meta {query}.

import { isEmpty, readPackedValue } from "../shared/arrays.js";
import { colorAt } from "../shared/colormap.js";
import { gridOf } from "./geometry.js";
import { element, shortLabel } from "./labels.js";
import { drawImage } from "./paint.js";

export const THUMB_CLASS = "attnwidgets-vision-thumb";

/** One map as a rows x cols canvas (one pixel per cell, alpha = opacity * t), to be scaled
 * up without smoothing: a thumbnail costs one putImageData, not a fillRect per cell. */
function heatCanvas(scratch, values, rows, cols, max, opacity) {
  scratch.width = cols;
  scratch.height = rows;
  const ctx = scratch.getContext("2d");
  const pixels = ctx.createImageData(cols, rows);
  for (let i = 0; i < rows * cols; i++) {
    const t = max > 0 ? Math.min(1, values[i] / max) : 0;
    const [r, g, b] = colorAt(t);
    pixels.data.set([r, g, b, Math.round(255 * opacity * t)], 4 * i);
  }
  ctx.putImageData(pixels, 0, 0);
  return scratch;
}

/** Build the grid in `container`; returns {highlight(layer, head)} or null without data. */
export function buildHeadsGrid(container, { model, layout, base, onPick }) {
  container.replaceChildren();
  const payload = model.get("heads_grid");
  if (isEmpty(payload)) return null;
  const { arrays, meta } = readPackedValue(payload, "heads_grid");
  const names = model.get("layer_names") ?? [];
  const thumb = model.get("thumb");
  const dpr = window.devicePixelRatio || 1;
  const [height, width] = layout.image_shape;
  const scale = thumb / Math.max(height, width);
  const cssW = Math.max(1, Math.round(width * scale));
  const cssH = Math.max(1, Math.round(height * scale));
  const heading = meta.query === "[CLS]" ? "[CLS]" : String(meta.query);
  element(
    "div",
    "attnwidgets-vision-grid-title",
    container,
    `${heading}: where it looks, for every head (rows: layers, columns: heads). Click one to show it.`,
  );
  const table = element("div", "attnwidgets-vision-grid-rows", container);
  const cells = [];
  const scratch = document.createElement("canvas");
  layout.layers.forEach((entry, layer) => {
    const maps = arrays.get(`maps.${layer}`);
    const scales = arrays.get(`scale.${layer}`);
    const row = element("div", "attnwidgets-vision-grid-row", table);
    const label = element("span", "attnwidgets-vision-grid-label", row, `L${layer}`);
    label.title = shortLabel(names[layer] ?? `layer ${layer}`, 200);
    const grid = gridOf(layout, layer);
    for (let head = 0; head < entry.heads; head++) {
      const canvas = element("canvas", THUMB_CLASS, row);
      canvas.width = Math.round(cssW * dpr);
      canvas.height = Math.round(cssH * dpr);
      canvas.style.width = `${cssW}px`;
      canvas.style.height = `${cssH}px`;
      canvas.dataset.layer = String(layer);
      canvas.dataset.head = String(head);
      canvas.title = `layer ${layer}, head ${head}`;
      const ctx = canvas.getContext("2d");
      drawImage(ctx, base, canvas.width, canvas.height, 0.35);
      const size = grid.rows * grid.cols;
      const values = new Float32Array(size);
      const bytes = maps.data.subarray(head * size, (head + 1) * size);
      for (let i = 0; i < size; i++) values[i] = bytes[i] * bytes[i] * scales.data[head];
      const k = canvas.width / width;
      const top = 65025 * scales.data[head];
      const heat = heatCanvas(scratch, values, grid.rows, grid.cols, top, 0.95);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(heat, 0, 0, grid.cols * grid.cellW * k, grid.rows * grid.cellH * k);
      canvas.addEventListener("click", () => onPick(layer, head));
      cells.push(canvas);
    }
  });
  return {
    highlight(layer, head) {
      for (const canvas of cells) {
        const on = canvas.dataset.layer === String(layer) && canvas.dataset.head === String(head);
        canvas.classList.toggle("is-current", on);
      }
    },
  };
}
