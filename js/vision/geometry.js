// Where each layer's tokens sit on the image (the `image_layout` trait of ImageAttentionView /
// PatchingView): canvas sizes, cell edges in backing pixels, query mapping across grids.
// layout = {image_shape: [H, W], patch_grid: [R, C], patch_size: [ph, pw],
//           positions: [[r, c] | null per token], cls, layers: [{grid, cell, heads, size, own}]}

/** Canvas geometry for an image whose longest side is `size` CSS px: {cssW, cssH, w, h, k}
 * (k = backing pixels per image pixel). */
export function canvasSize(layout, size, dpr = 1) {
  const [height, width] = layout.image_shape;
  const scale = size / Math.max(height, width);
  return {
    cssW: Math.round(width * scale),
    cssH: Math.round(height * scale),
    w: Math.round(width * scale * dpr),
    h: Math.round(height * scale * dpr),
    k: scale * dpr,
  };
}

/** Edges of `count` cells of `cellPx` image pixels, in backing pixels (count + 1 values). */
export function edges(count, cellPx, k, limit) {
  const out = new Int32Array(count + 1);
  for (let i = 0; i <= count; i++) out[i] = Math.min(limit, Math.round(i * cellPx * k));
  return out;
}

/** The grid of `layer` ({rows, cols, cellH, cellW}); layer -1 is the patch grid. */
export function gridOf(layout, layer) {
  const entry = layer >= 0 ? layout.layers[layer] : null;
  const [rows, cols] = entry ? entry.grid : layout.patch_grid;
  const [cellH, cellW] = entry ? entry.cell : layout.patch_size;
  return { rows, cols, cellH, cellW };
}

/** For each token of `layer`'s sequence, its flat grid cell (r * cols + c), -1 for specials. */
export function cellsOf(layout, layer) {
  const entry = layout.layers[layer];
  const out = new Int32Array(entry.size);
  if (entry.own) {
    for (let i = 0; i < entry.size; i++) out[i] = i;
    return out;
  }
  const cols = entry.grid[1];
  layout.positions.forEach((p, i) => {
    out[i] = p == null ? -1 : p[0] * cols + p[1];
  });
  return out;
}

/** The query (an index into the run's tokens) in `layer`'s own sequence (Swin: the cell of
 * the layer's grid that holds the query patch's centre). */
export function layerQuery(layout, layer, query) {
  const entry = layout.layers[layer];
  const p = layout.positions[query];
  if (!entry.own || p == null) return query;
  const [ph, pw] = layout.patch_size;
  const [cellH, cellW] = entry.cell;
  const row = Math.min(entry.grid[0] - 1, Math.floor(((p[0] + 0.5) * ph) / cellH));
  const col = Math.min(entry.grid[1] - 1, Math.floor(((p[1] + 0.5) * pw) / cellW));
  return row * entry.grid[1] + col;
}

/** Token index of the patch at image pixel (x, y), or -1 (outside the grid, or not in the
 * sequence). */
export function tokenAt(layout, x, y) {
  const [ph, pw] = layout.patch_size;
  const [rows, cols] = layout.patch_grid;
  const r = Math.floor(y / ph);
  const c = Math.floor(x / pw);
  if (x < 0 || y < 0 || r >= rows || c >= cols) return -1;
  return layout.positions.findIndex((p) => p != null && p[0] === r && p[1] === c);
}

/** Indices of the special tokens ([CLS], [DIST], registers): positions without a cell. */
export function specialsOf(layout) {
  const out = [];
  layout.positions.forEach((p, i) => {
    if (p == null) out.push(i);
  });
  return out;
}

/** One row over the layer's sequence -> Float32Array rows * cols over its grid. */
export function toGrid(row, cells, rows, cols) {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < cells.length; i++) if (cells[i] >= 0) out[cells[i]] = row[i];
  return out;
}

/** Max of a map and where it is ({value, index}); -1 when empty or all zero. */
export function peak(values) {
  let value = 0;
  let index = -1;
  for (let i = 0; i < values.length; i++) {
    if (values[i] > value) {
      value = values[i];
      index = i;
    }
  }
  return { value, index };
}
