// Token focus: for one token, what it attends to (its query row) and what attends to it (its
// key column) in every layer x head, as two canvases (rows = layer·head, columns = positions,
// each row scaled to its own maximum). Data comes from the kernel (request_focus / focus).

import { colorTable } from "../shared/colormap.js";

/** Draw block b (0 = attends to, 1 = attended by) of a focus reply into canvas. */
export function drawFocusBlock(canvas, reply, block, cssW, rowPx, dpr = 1) {
  const [, lines, width] = reply.shape;
  const src = canvas.ownerDocument.createElement("canvas");
  src.width = width;
  src.height = lines;
  const sctx = src.getContext("2d");
  const image = sctx.createImageData(width, lines);
  const table = colorTable();
  const bytes = reply.bytes.subarray(block * lines * width, (block + 1) * lines * width);
  for (let i = 0; i < bytes.length; i++) {
    const j = bytes[i] * 4;
    image.data.set([table[j], table[j + 1], table[j + 2], 255], i * 4);
  }
  sctx.putImageData(image, 0, 0);
  const cssH = lines * rowPx;
  canvas.width = Math.max(1, Math.round(cssW * dpr));
  canvas.height = Math.max(1, Math.round(cssH * dpr));
  canvas.style.width = `${cssW}px`;
  canvas.style.height = `${cssH}px`;
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(src, 0, 0, canvas.width, canvas.height);
}

/** Height of one layer·head row: 1 to 4 CSS px, so that 144 heads stay under ~300 px. */
export function focusRowPx(lines) {
  return Math.max(1, Math.min(4, Math.floor(300 / Math.max(1, lines))));
}

/** The (layer, head) of a row index. */
export function lineToHead(line, nHeads) {
  return { layer: Math.floor(line / nHeads), head: line % nHeads };
}
