// Drawing for the Patching view: numbers on the patches, a [rows, cols] map as a heatmap, and
// the sequence strip (every token in order: patches as their image crop, specials as labels).

import { colorAt } from "../shared/colormap.js";

export const SPECIAL_RGB = { CLS: [59, 111, 182], DIST: [208, 138, 46], REG: [138, 92, 194] };

/** Box size and boxes per line of the strip for n tokens. */
export function stripGeometry(n, width = 896) {
  const box = n <= 256 ? 28 : n <= 1024 ? 16 : 10;
  const perLine = Math.max(1, Math.floor(width / box));
  return { box, perLine, lines: Math.ceil(n / perLine) };
}

/** A short label for a special token's box: "[CLS]" -> "CLS", "[REG3]" -> "R3". */
export function specialText(label) {
  const inner = String(label).replace(/^\[|\]$/g, "");
  const reg = /^REG(\d+)$/.exec(inner);
  return reg ? `R${reg[1]}` : inner.slice(0, 4);
}

function specialColour(label) {
  const inner = String(label).replace(/^\[|\]$/g, "");
  const key = Object.keys(SPECIAL_RGB).find((k) => inner.startsWith(k));
  return key ? SPECIAL_RGB[key] : [110, 110, 110];
}

/** Values over a grid with viridis from lo to hi (cells of the given edges). */
export function drawGridMap(ctx, values, rows, cols, box, lo, hi) {
  const span = hi - lo || 1;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const [red, green, blue] = colorAt((values[r * cols + c] - lo) / span);
      ctx.fillStyle = `rgb(${red}, ${green}, ${blue})`;
      ctx.fillRect(box.xs[c], box.ys[r], box.xs[c + 1] - box.xs[c], box.ys[r + 1] - box.ys[r]);
    }
  }
}

/** Sequence numbers in the middle of each patch, when the cells are big enough to hold them. */
export function drawNumbers(ctx, positions, box, dpr) {
  const cellW = box.xs[1] - box.xs[0];
  const cellH = box.ys[1] - box.ys[0];
  const digits = String(positions.length - 1).length;
  const font = Math.min(
    14 * dpr,
    Math.floor(cellH * 0.45),
    Math.floor((cellW * 0.9) / (0.6 * digits)),
  );
  if (font < 7 * dpr) return false;
  ctx.save();
  ctx.font = `${font}px sans-serif`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.lineWidth = Math.max(2, font / 5);
  ctx.strokeStyle = "rgba(0, 0, 0, 0.75)";
  ctx.fillStyle = "white";
  positions.forEach((p, i) => {
    if (p == null) return;
    const x = (box.xs[p[1]] + box.xs[p[1] + 1]) / 2;
    const y = (box.ys[p[0]] + box.ys[p[0] + 1]) / 2;
    ctx.strokeText(String(i), x, y);
    ctx.fillText(String(i), x, y);
  });
  ctx.restore();
  return true;
}

/** The strip: token i at box (i % perLine, i / perLine). */
export function drawStrip(
  ctx,
  { tokens, positions, base, patchSize, geometry, dpr, selected, hovered },
) {
  const s = geometry.box * dpr;
  const [ph, pw] = patchSize;
  ctx.clearRect(0, 0, ctx.canvas.width, ctx.canvas.height);
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  tokens.forEach((label, i) => {
    const x = (i % geometry.perLine) * s;
    const y = Math.floor(i / geometry.perLine) * s;
    const p = positions[i];
    if (p == null) {
      ctx.fillStyle = `rgb(${specialColour(label).join(", ")})`;
      ctx.fillRect(x + 1, y + 1, s - 2, s - 2);
      if (geometry.box >= 16) {
        ctx.fillStyle = "white";
        ctx.font = `${Math.floor(s * 0.32)}px sans-serif`;
        ctx.fillText(specialText(label), x + s / 2, y + s / 2);
      }
    } else {
      ctx.drawImage(base, p[1] * pw, p[0] * ph, pw, ph, x + 1, y + 1, s - 2, s - 2);
    }
    if (i === selected || i === hovered) {
      ctx.strokeStyle = i === selected ? "rgb(255, 40, 40)" : "rgb(255, 255, 255)";
      ctx.lineWidth = 2;
      ctx.strokeRect(x + 1, y + 1, s - 2, s - 2);
    }
  });
}
