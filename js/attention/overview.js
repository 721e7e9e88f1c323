// Model overview: one thumbnail per layer x head on a single canvas (no per-cell DOM).
// Thumbnails arrive as one uint8 block [layers, heads, side, side], each over its own range.

import { isEmpty, readArray } from "../shared/arrays.js";
import { colorTable } from "../shared/colormap.js";

export const GAP = 1; // source pixels between thumbnails

/** Check the thumbnails trait against its meta: {layers, heads, side, bytes} or null. */
export function readThumbnails(payload) {
  if (isEmpty(payload) || payload.dtype !== "uint8" || payload.shape?.length !== 4) return null;
  let read;
  try {
    read = readArray(payload, "thumbnails");
  } catch {
    return null;
  }
  const [layers, heads, rows, cols] = read.shape;
  if (layers * heads === 0) return null;
  return { layers, heads, rows, cols, bytes: read.data };
}

/** Screen geometry: thumbnails of `cell` CSS px in a grid `heads` wide that fits `width`. */
export function overviewLayout(thumbs, width, labelW = 28) {
  const pitchSrc = thumbs.cols + GAP;
  const fit = Math.floor((width - labelW) / thumbs.heads);
  const zoom = Math.max(1, Math.min(3, Math.floor(fit / pitchSrc))) || 1;
  const small = fit < pitchSrc; // too many heads for 1 px per cell: shrink
  const pitch = small ? Math.max(4, fit) : pitchSrc * zoom;
  const pitchY = small ? pitch * ((thumbs.rows + GAP) / pitchSrc) : (thumbs.rows + GAP) * zoom;
  return { labelW, labelH: 16, pitch, pitchY, w: pitch * thumbs.heads, h: pitchY * thumbs.layers };
}

/** The (layer, head) under a point relative to the grid's top left, or null. */
export function thumbAt(layout, x, y) {
  if (!(x >= 0 && y >= 0 && x < layout.w && y < layout.h)) return null;
  return { layer: Math.floor(y / layout.pitchY), head: Math.floor(x / layout.pitch) };
}

/** Draw every thumbnail into canvas (shown at layout.w x layout.h CSS px). */
export function drawOverview(canvas, thumbs, layout, dpr = 1) {
  const { layers, heads, rows, cols, bytes } = thumbs;
  const srcW = heads * (cols + GAP);
  const srcH = layers * (rows + GAP);
  const src = canvas.ownerDocument.createElement("canvas");
  src.width = srcW;
  src.height = srcH;
  const sctx = src.getContext("2d");
  const image = sctx.createImageData(srcW, srcH);
  const table = colorTable();
  const px = image.data;
  for (let l = 0; l < layers; l++) {
    for (let h = 0; h < heads; h++) {
      const base = (l * heads + h) * rows * cols;
      for (let r = 0; r < rows; r++) {
        let p = ((l * (rows + GAP) + r) * srcW + h * (cols + GAP)) * 4;
        for (let c = 0; c < cols; c++, p += 4) {
          const j = bytes[base + r * cols + c] * 4;
          px[p] = table[j];
          px[p + 1] = table[j + 1];
          px[p + 2] = table[j + 2];
          px[p + 3] = 255;
        }
      }
    }
  }
  sctx.putImageData(image, 0, 0);
  canvas.width = Math.max(1, Math.round(layout.w * dpr));
  canvas.height = Math.max(1, Math.round(layout.h * dpr));
  canvas.style.width = `${layout.w}px`;
  canvas.style.height = `${layout.h}px`;
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(src, 0, 0, canvas.width, canvas.height);
}
