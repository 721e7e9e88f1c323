// Drawing an image with its patch grid and a heat overlay on a canvas (backing pixels).
// The overlay colours each cell with viridis at t = value / max, with alpha = opacity * t:
// where the query does not look, the image shows as it is.

import { readArray } from "../shared/arrays.js";
import { colorAt } from "../shared/colormap.js";
import { edges } from "./geometry.js";

export const LINE_RGBA = "rgba(255, 255, 255, 0.5)";
export const MARKER_RGB = [255, 40, 40];

/** The `image` trait (uint8 [H, W, 3]) drawn once on a canvas of its own size. */
export function imageCanvas(payload) {
  const { data, shape } = readArray(payload, "image");
  const [height, width] = shape;
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const pixels = new ImageData(width, height);
  for (let i = 0, j = 0; i < width * height; i++, j += 3) {
    pixels.data[4 * i] = data[j];
    pixels.data[4 * i + 1] = data[j + 1];
    pixels.data[4 * i + 2] = data[j + 2];
    pixels.data[4 * i + 3] = 255;
  }
  canvas.getContext("2d").putImageData(pixels, 0, 0);
  return canvas;
}

/** Cell edges of a grid on a canvas: {xs, ys} in backing pixels. */
export function gridEdges(grid, k, w, h) {
  return {
    xs: edges(grid.cols, grid.cellW, k, w),
    ys: edges(grid.rows, grid.cellH, k, h),
  };
}

/** The image, scaled to the canvas (smoothed only when shrinking). */
export function drawImage(ctx, base, w, h, alpha = 1) {
  ctx.save();
  ctx.imageSmoothingEnabled = w < base.width;
  ctx.globalAlpha = alpha;
  ctx.drawImage(base, 0, 0, w, h);
  ctx.restore();
}

/** Colour of a value at t in [0, 1] with opacity: "rgba(...)", or null when invisible. */
export function heatColour(t, opacity) {
  const alpha = opacity * Math.min(1, Math.max(0, t));
  if (!(alpha > 0)) return null;
  const [r, g, b] = colorAt(t);
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

/** A [rows * cols] map over the grid: each cell filled with heatColour(value / max). */
export function drawHeat(ctx, values, grid, box, max, opacity) {
  if (!(max > 0)) return;
  for (let r = 0; r < grid.rows; r++) {
    for (let c = 0; c < grid.cols; c++) {
      const fill = heatColour(values[r * grid.cols + c] / max, opacity);
      if (fill === null) continue;
      ctx.fillStyle = fill;
      ctx.fillRect(box.xs[c], box.ys[r], box.xs[c + 1] - box.xs[c], box.ys[r + 1] - box.ys[r]);
    }
  }
}

/** 1-px lines on the interior cell boundaries (and the grid's far edges when it stops short
 * of the image). */
export function drawLines(ctx, box, w, h) {
  ctx.fillStyle = LINE_RGBA;
  const right = box.xs[box.xs.length - 1];
  const bottom = box.ys[box.ys.length - 1];
  for (let i = 1; i < box.xs.length; i++) {
    if (box.xs[i] < w) ctx.fillRect(box.xs[i], 0, 1, bottom);
  }
  for (let i = 1; i < box.ys.length; i++) {
    if (box.ys[i] < h) ctx.fillRect(0, box.ys[i], right, 1);
  }
}

/** A 2-px outline just inside cell (row, col). */
export function drawMarker(ctx, box, row, col, rgb = MARKER_RGB) {
  const x0 = box.xs[col];
  const y0 = box.ys[row];
  const w = box.xs[col + 1] - x0;
  const h = box.ys[row + 1] - y0;
  if (w < 3 || h < 3) return;
  ctx.save();
  ctx.strokeStyle = `rgb(${rgb.join(", ")})`;
  ctx.lineWidth = 2;
  ctx.strokeRect(x0 + 1, y0 + 1, w - 2, h - 2);
  ctx.restore();
}
