// One image with a grid of cells over it (a "surface": an image x view of the cross-modal view,
// a tower input or an image view of the feature view, the patch grid of a dual encoder), drawn
// on a canvas with the vision views' painters (js/vision/paint.js): the image, then the cells,
// then the grid lines and marks.
// surface = {grid: [rows, cols], cell: [h, w] image px per cell, image: index}

import { canvasSize } from "../vision/geometry.js";
import { drawImage, drawLines, gridEdges } from "../vision/paint.js";

export const REGION_RGB = [255, 40, 40];

/** {rows, cols, cellH, cellW} of a surface. */
export function surfaceGrid(surface) {
  const [rows, cols] = surface.grid;
  const [cellH, cellW] = surface.cell;
  return { rows, cols, cellH, cellW };
}

/** Values per key (Float32Array [keys]) laid on the grid: Float32Array [rows * cols], 0 where
 * no key of the surface sits; `cells[k]` is key k's flat cell or -1. */
export function keyMap(values, cells, grid) {
  const out = new Float32Array(grid.rows * grid.cols);
  for (let k = 0; k < cells.length; k++) if (cells[k] >= 0) out[cells[k]] = values[k];
  return out;
}

/** The key columns whose cell lies in region [r0, c0, r1, c1] (inclusive). */
export function regionKeys(cells, grid, region) {
  const out = [];
  if (region?.length !== 4) return out;
  const [r0, c0, r1, c1] = region;
  for (let k = 0; k < cells.length; k++) {
    const cell = cells[k];
    if (cell < 0) continue;
    const r = Math.floor(cell / grid.cols);
    const c = cell % grid.cols;
    if (r >= r0 && r <= r1 && c >= c0 && c <= c1) out.push(k);
  }
  return out;
}

/** The cell {r, c} under image pixel (x, y), or null outside the grid. */
export function cellAt(grid, x, y) {
  const r = Math.floor(y / grid.cellH);
  const c = Math.floor(x / grid.cellW);
  if (x < 0 || y < 0 || r >= grid.rows || c >= grid.cols) return null;
  return { r, c };
}

/** The region spanned by two cells, [r0, c0, r1, c1] with r0 <= r1, c0 <= c1. */
export function spanOf(a, b) {
  return [Math.min(a.r, b.r), Math.min(a.c, b.c), Math.max(a.r, b.r), Math.max(a.c, b.c)];
}

/** Fill each cell with `colour(i)` -> [r, g, b, alpha 0..1] or null (left as it is). */
export function drawCells(ctx, grid, box, colour) {
  for (let r = 0; r < grid.rows; r++) {
    for (let c = 0; c < grid.cols; c++) {
      const rgba = colour(r * grid.cols + c);
      if (!rgba || !(rgba[3] > 0)) continue;
      ctx.fillStyle = `rgba(${rgba[0]}, ${rgba[1]}, ${rgba[2]}, ${rgba[3]})`;
      ctx.fillRect(box.xs[c], box.ys[r], box.xs[c + 1] - box.xs[c], box.ys[r + 1] - box.ys[r]);
    }
  }
}

/** A 2-px rectangle around the cells of region [r0, c0, r1, c1]. */
export function drawRegion(ctx, box, region, rgb = REGION_RGB) {
  if (region?.length !== 4) return;
  const [r0, c0, r1, c1] = region;
  const x0 = box.xs[c0];
  const y0 = box.ys[r0];
  ctx.save();
  ctx.strokeStyle = `rgb(${rgb.join(", ")})`;
  ctx.lineWidth = 2;
  ctx.strokeRect(x0 + 1, y0 + 1, box.xs[c1 + 1] - x0 - 2, box.ys[r1 + 1] - y0 - 2);
  ctx.restore();
}

/**
 * A canvas showing images: `frame(imageCanvas, grid, size, lines)` sizes it for the image
 * (longest side `size` CSS px), draws the image and returns {ctx, box, finish}; call
 * finish() after drawing the cells to add the grid lines.
 */
export function makeStage(canvas) {
  let shape = [1, 1];
  return {
    canvas,
    frame(base, grid, size, lines) {
      shape = [base.height, base.width];
      const dpr = window.devicePixelRatio || 1;
      const geometry = canvasSize({ image_shape: shape }, size, dpr);
      if (canvas.width !== geometry.w || canvas.height !== geometry.h) {
        canvas.width = geometry.w;
        canvas.height = geometry.h;
        canvas.style.width = `${geometry.cssW}px`;
        canvas.style.height = `${geometry.cssH}px`;
      }
      const ctx = canvas.getContext("2d");
      ctx.clearRect(0, 0, geometry.w, geometry.h);
      drawImage(ctx, base, geometry.w, geometry.h);
      const box = gridEdges(grid, geometry.k, geometry.w, geometry.h);
      return {
        ctx,
        box,
        finish() {
          if (lines) drawLines(ctx, box, geometry.w, geometry.h);
        },
      };
    },
    /** Image pixel (x, y) under a pointer event. */
    imagePoint(event) {
      const rect = canvas.getBoundingClientRect();
      return {
        x: ((event.clientX - rect.left) / rect.width) * shape[1],
        y: ((event.clientY - rect.top) / rect.height) * shape[0],
      };
    },
  };
}

/** The surface drawn for a module of `tower`: `wanted` when it is of that tower, else the
 * first of that tower showing the same image, else the first of that tower. */
export function resolveSurface(surfaces, wanted, tower) {
  if (surfaces[wanted]?.tower === tower) return wanted;
  const image = surfaces[wanted]?.image;
  const same = surfaces.findIndex((s) => s.tower === tower && s.image === image);
  return same >= 0 ? same : surfaces.findIndex((s) => s.tower === tower);
}

/** A picked patch [row, col, rows, cols] moved onto a grid of `rows` x `cols`: [r, c]. */
export function patchOn(patch, grid) {
  if (patch?.length !== 4) return [];
  const [r, c, rows, cols] = patch;
  if (rows === grid.rows && cols === grid.cols) return [r, c];
  return [
    Math.min(grid.rows - 1, Math.floor(((r + 0.5) * grid.rows) / rows)),
    Math.min(grid.cols - 1, Math.floor(((c + 0.5) * grid.cols) / cols)),
  ];
}
