// PatchingView: how the image becomes a sequence (docs/architecture.md).
// Labels are untrusted: textContent / title / fillText only.

/**
 * The model this view reads: the synced traits of PatchingView
 * (src/attnwidgets/widgets/vision/patching.py). tests/python/test_js_contract.py checks these
 * names against the Python class and against every name the view's modules use.
 * @typedef {import("./shared/arrays.js").ArrayValue} ArrayValue
 * @typedef {object} PatchingModel
 * @property {number} patch token index of the selected patch, -1 for none
 * @property {number} size longest image side, CSS px
 * @property {string[]} tokens one label per position (untrusted text)
 * @property {object} image_layout patch grid, positions, specials
 * @property {ArrayValue} image uint8 [h, w] or [h, w, 3]
 * @property {ArrayValue} norms float32 [rows, cols] patch-embedding norms, or {}
 * @property {string} norms_note why there are no norms
 * @property {ArrayValue} similarity uint8 [P, P], cos = byte / 127.5 - 1, or {}
 * @property {string} similarity_note why there are no similarities
 */

import { isEmpty, readArray } from "./shared/arrays.js";
import { onChange, setTrait } from "./shared/model.js";
import { canvasSize, gridOf, tokenAt } from "./vision/geometry.js";
import { element, shortLabel } from "./vision/labels.js";
import { drawImage, drawLines, drawMarker, gridEdges, imageCanvas } from "./vision/paint.js";
import { drawGridMap, drawNumbers, drawStrip, stripGeometry } from "./vision/patching_draw.js";
import { VISION_CSS } from "./vision/style.js";

const ROOT = "attnwidgets-patching";

function panel(parent, cls, caption) {
  const box = element("div", "attnwidgets-patching-panel", parent);
  const canvas = element("canvas", cls, box);
  const text = element("div", "attnwidgets-patching-caption", box, caption);
  return { canvas, text };
}

function sizeCanvas(canvas, size) {
  canvas.width = size.w;
  canvas.height = size.h;
  canvas.style.width = `${size.cssW}px`;
  canvas.style.height = `${size.cssH}px`;
  canvas.parentElement.style.maxWidth = `${Math.max(size.cssW, 200)}px`;
}

function render({ model, el }) {
  const layout = model.get("image_layout");
  const tokens = model.get("tokens");
  const positions = layout.positions;
  const grid = gridOf(layout, -1);
  const base = imageCanvas(model.get("image"));
  const cellOf = (token) => {
    const p = positions[token];
    return p == null ? -1 : p[0] * grid.cols + p[1];
  };
  const norms = isEmpty(model.get("norms")) ? null : readArray(model.get("norms"), "norms").data;
  const cosines = isEmpty(model.get("similarity"))
    ? null
    : readArray(model.get("similarity"), "similarity");

  const root = element("div", ROOT, el);
  element("style", null, root, VISION_CSS);
  const panels = element("div", "attnwidgets-patching-panels", root);
  const [height, width] = layout.image_shape;
  const main = panel(
    panels,
    "attnwidgets-patching-image",
    `${height}×${width} px cut into ${grid.rows}×${grid.cols} patches of ${grid.cellH}×${grid.cellW} px; numbers: place in the sequence`,
  );
  const normPanel = panel(panels, "attnwidgets-patching-norms", "");
  const simPanel = panel(panels, "attnwidgets-patching-similarity", "");
  const readout = element("div", "attnwidgets-patching-readout", root);
  element(
    "div",
    "attnwidgets-patching-caption",
    root,
    `the sequence the model reads (${tokens.length} tokens, in order):`,
  );
  const stripBox = element("div", "attnwidgets-patching-strip-box", root);
  const strip = element("canvas", "attnwidgets-patching-strip", stripBox);
  let hovered = -1;

  function similarityRow(token) {
    if (!cosines || token < 0) return null;
    const count = cosines.shape[0];
    const cell = cellOf(token);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = cosines.data[cell * count + i] / 127.5 - 1;
    return out;
  }

  function paint() {
    const dpr = window.devicePixelRatio || 1;
    const selected = model.get("patch");
    const size = canvasSize(layout, model.get("size"), dpr);
    const small = canvasSize(layout, Math.round(model.get("size") * 0.6), dpr);
    sizeCanvas(main.canvas, size);
    const ctx = main.canvas.getContext("2d");
    drawImage(ctx, base, size.w, size.h);
    const box = gridEdges(grid, size.k, size.w, size.h);
    drawLines(ctx, box, size.w, size.h);
    const numbered = drawNumbers(ctx, positions, box, dpr);
    const marks = (c, b) => {
      for (const [token, rgb] of [
        [hovered, [255, 255, 255]],
        [selected, [255, 40, 40]],
      ]) {
        const cell = cellOf(token);
        if (cell >= 0) drawMarker(c, b, Math.floor(cell / grid.cols), cell % grid.cols, rgb);
      }
    };
    marks(ctx, box);
    main.canvas.dataset.numbered = String(numbered);

    for (const [part, values, caption, lo, hi] of [
      [normPanel, norms, model.get("norms_note"), null, null],
      [simPanel, similarityRow(selected), model.get("similarity_note"), null, 1],
    ]) {
      sizeCanvas(part.canvas, small);
      const c = part.canvas.getContext("2d");
      c.clearRect(0, 0, small.w, small.h);
      const b = gridEdges(grid, small.k, small.w, small.h);
      if (values) {
        let min = Infinity;
        let max = -Infinity;
        for (const v of values) {
          min = Math.min(min, v);
          max = Math.max(max, v);
        }
        drawGridMap(c, values, grid.rows, grid.cols, b, lo ?? min, hi ?? max);
        marks(c, b);
        part.text.textContent =
          part === normPanel
            ? `patch-embedding norm: ${min.toFixed(3)} (dark) to ${max.toFixed(3)} (yellow)`
            : `cosine of the position embedding of ${shortLabel(tokens[selected], 16)} with each patch's: ${min.toFixed(2)} (dark) to 1`;
      } else {
        part.text.textContent =
          part === simPanel && cosines && selected < 0
            ? "click a patch: cosine of its position embedding with every patch's"
            : caption;
      }
    }

    const geometry = stripGeometry(tokens.length);
    strip.width = geometry.perLine * geometry.box * dpr;
    strip.height = geometry.lines * geometry.box * dpr;
    strip.style.width = `${geometry.perLine * geometry.box}px`;
    strip.style.height = `${geometry.lines * geometry.box}px`;
    drawStrip(strip.getContext("2d"), {
      tokens,
      positions,
      base,
      patchSize: layout.patch_size,
      geometry,
      dpr,
      selected,
      hovered,
    });
    const shown = hovered >= 0 ? hovered : selected;
    readout.textContent = shown >= 0 ? describe(shown, selected) : "";
    Object.assign(root.dataset, { patch: String(selected), hovered: String(hovered) });
  }

  function describe(token, selected) {
    const p = positions[token];
    const parts = [`token ${token}: ${shortLabel(tokens[token], 24)}`];
    if (p != null) {
      const cell = cellOf(token);
      parts.push(
        `pixels y ${p[0] * grid.cellH}–${(p[0] + 1) * grid.cellH}, x ${p[1] * grid.cellW}–${(p[1] + 1) * grid.cellW}`,
      );
      if (norms) parts.push(`norm ${norms[cell].toFixed(3)}`);
      const row = similarityRow(selected);
      if (row && selected >= 0) parts.push(`cos ${row[cell].toFixed(3)} with token ${selected}`);
    } else {
      parts.push("a special token (no patch)");
    }
    return parts.join(" · ");
  }

  function tokenOnMap(canvas, event) {
    const rect = canvas.getBoundingClientRect();
    const x = ((event.clientX - rect.left) / rect.width) * width;
    const y = ((event.clientY - rect.top) / rect.height) * height;
    return tokenAt(layout, x, y);
  }

  function tokenOnStrip(event) {
    const rect = strip.getBoundingClientRect();
    const geometry = stripGeometry(tokens.length);
    const col = Math.floor((event.clientX - rect.left) / geometry.box);
    const row = Math.floor((event.clientY - rect.top) / geometry.box);
    const i = row * geometry.perLine + col;
    return col < geometry.perLine && i >= 0 && i < tokens.length ? i : -1;
  }

  const pickers = [
    [main.canvas, (e) => tokenOnMap(main.canvas, e)],
    [normPanel.canvas, (e) => tokenOnMap(normPanel.canvas, e)],
    [simPanel.canvas, (e) => tokenOnMap(simPanel.canvas, e)],
    [strip, tokenOnStrip],
  ];
  for (const [canvas, find] of pickers) {
    canvas.addEventListener("pointermove", (e) => {
      const t = find(e);
      if (t !== hovered) {
        hovered = t;
        paint();
      }
    });
    canvas.addEventListener("pointerleave", () => {
      hovered = -1;
      paint();
    });
    canvas.addEventListener("click", (e) => {
      const t = find(e);
      if (t >= 0 && positions[t] != null) setTrait(model, "patch", t);
    });
  }
  const stopWatching = onChange(model, ["patch", "size"], () => paint());
  paint();
  return stopWatching;
}

export default { render };
