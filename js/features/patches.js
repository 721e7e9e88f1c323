// An image with its patches coloured by their values (the last rows x cols values of the
// trace, in row order), drawn on one canvas; the most active patch gets an outline.

import { valueColour } from "./colours.js";
import { drawRgb } from "./rgb.js";

/** Draw image `index` of the stacked uint8 [k, h, w, 3] `images` with the patch values. */
export function drawPatches(canvas, images, item, values, scale, size = 112) {
  const [, h, w] = images.shape;
  const zoom = Math.max(1, Math.floor(size / Math.max(item.height, item.width)));
  const ctx = drawRgb(canvas, images.data, item.image * h * w * 3, h, w, zoom);
  if (!item.grid) return;
  const [rows, cols] = item.grid;
  const cells = values.subarray(values.length - rows * cols);
  const cw = (item.width * zoom) / cols;
  const ch = (item.height * zoom) / rows;
  let peak = 0;
  for (let i = 0; i < cells.length; i++) {
    const [r, g, b, a] = valueColour(cells[i], scale);
    ctx.fillStyle = `rgba(${r}, ${g}, ${b}, ${(0.75 * a).toFixed(3)})`;
    ctx.fillRect((i % cols) * cw, Math.floor(i / cols) * ch, cw, ch);
    if (cells[i] > cells[peak]) peak = i;
  }
  ctx.strokeStyle = "#ffd400";
  ctx.lineWidth = 2;
  ctx.strokeRect((peak % cols) * cw + 1, Math.floor(peak / cols) * ch + 1, cw - 2, ch - 2);
}
