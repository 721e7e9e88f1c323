// DualEncoderView (src/attnwidgets/widgets/vlm/dual_encoder.py): CLIP / SigLIP prompts against
// the patches of an image. The picked prompt's similarity map is drawn over the image (viridis
// over the range shared by every prompt, alpha = opacity * t), every prompt's map as a
// thumbnail, and the zero-shot scores as bars. Prompts are untrusted text: textContent only.

/**
 * @typedef {object} DualEncoderModel
 * @property {number} prompt the prompt drawn large
 * @property {number} opacity
 * @property {boolean} show_lines
 * @property {number} size longest image side, CSS px
 * @property {number} thumb thumbnail side, CSS px
 * @property {string[]} prompts
 * @property {number[]} grid [rows, cols] of patches
 * @property {object} image uint8 [H, W, 3]
 * @property {object} maps float32 [prompts, rows, cols] cosine, meta {lo, hi}
 * @property {object} scores packed float32 scores / logits [prompts]
 * @property {string} score_kind "softmax" | "sigmoid"
 * @property {string} score_note how the scores were made
 */

import { isEmpty, readArray, readPackedValue } from "./shared/arrays.js";
import { onChange, setTrait } from "./shared/model.js";
import { peak } from "./vision/geometry.js";
import { element, shortLabel } from "./vision/labels.js";
import { drawHeat, drawImage, gridEdges, imageCanvas } from "./vision/paint.js";
import { VISION_CSS } from "./vision/style.js";
import { labelled, rangeInput } from "./vlm/controls.js";
import { VLM_CSS } from "./vlm/style.js";
import { cellAt, makeStage } from "./vlm/surface.js";

const ROOT = "attnwidgets-prompts";

function render({ model, el }) {
  const root = element("div", ROOT, el);
  element("style", null, root, VISION_CSS + VLM_CSS);
  const base = imageCanvas(model.get("image"));
  const [rows, cols] = model.get("grid");
  const grid = { rows, cols, cellH: base.height / rows, cellW: base.width / cols };
  const maps = isEmpty(model.get("maps")) ? null : readArray(model.get("maps"), "maps");
  const { arrays } = readPackedValue(model.get("scores"), "scores");
  const scores = arrays.get("scores").data;
  const logits = arrays.get("logits").data;
  const prompts = model.get("prompts");
  const lo = maps?.meta.lo ?? 0;
  const hi = maps?.meta.hi ?? 1;
  const cells = rows * cols;
  /** Prompt p's map shifted to 0..hi-lo (NaN -> 0), for drawHeat (t = value / max). */
  const shifted = (p) => {
    const out = new Float32Array(cells);
    for (let i = 0; i < cells; i++) {
      const v = maps.data[p * cells + i];
      out[i] = Number.isFinite(v) ? v - lo : 0;
    }
    return out;
  };

  const bar = element("div", "attnwidgets-vision-controls", root);
  const opacity = rangeInput("attnwidgets-vlm-opacity", 0, 100);
  labelled(bar, "opacity", opacity);
  const lines = element("input", "attnwidgets-vlm-lines");
  lines.type = "checkbox";
  labelled(bar, "grid", lines);
  const main = element("div", "attnwidgets-vision-main", root);
  const canvas = element("canvas", "attnwidgets-vlm-canvas", element("div", null, main));
  const stage = makeStage(canvas);
  const side = element("div", "attnwidgets-vision-side", main);
  const title = element("div", "attnwidgets-vision-title", side);
  element("div", "attnwidgets-vlm-legend", side, model.get("score_note"));
  const list = element("div", "attnwidgets-vlm-prompts", side);
  const readout = element("div", "attnwidgets-vlm-readout", side);
  let top = 0;
  for (const s of scores) top = Math.max(top, s);
  const items = prompts.map((text, p) => {
    const row = element("div", "attnwidgets-vlm-prompt", list);
    row.dataset.index = String(p);
    const label = element("span", "attnwidgets-vlm-prompt-label", row, shortLabel(text, 28));
    label.title = shortLabel(text, 300);
    const track = element("span", "attnwidgets-vlm-token-bar", row);
    const fill = element("span", "attnwidgets-vlm-token-fill", track);
    fill.style.width = `${Math.round((scores[p] / (top > 0 ? top : 1)) * 100)}%`;
    element("span", "attnwidgets-vlm-token-value", row, scores[p].toFixed(3));
    row.title = `logit ${logits[p].toFixed(3)}`;
    row.addEventListener("click", () => setTrait(model, "prompt", p));
    return row;
  });
  const thumbs = element("div", "attnwidgets-vlm-thumbs", root);
  const thumbCanvases = prompts.map((text, p) => {
    const box = element("div", "attnwidgets-vlm-thumb-box", thumbs);
    const thumb = element("canvas", "attnwidgets-vlm-thumb", box);
    thumb.dataset.index = String(p);
    element("span", "attnwidgets-vlm-thumb-label", box, shortLabel(text, 18)).title = shortLabel(
      text,
      300,
    );
    thumb.addEventListener("click", () => setTrait(model, "prompt", p));
    return thumb;
  });

  function drawThumbs() {
    const side = model.get("thumb");
    const dpr = window.devicePixelRatio || 1;
    const scale = side / Math.max(base.width, base.height);
    thumbCanvases.forEach((thumb, p) => {
      thumb.width = Math.round(base.width * scale * dpr);
      thumb.height = Math.round(base.height * scale * dpr);
      thumb.style.width = `${Math.round(base.width * scale)}px`;
      thumb.style.height = `${Math.round(base.height * scale)}px`;
      const ctx = thumb.getContext("2d");
      drawImage(ctx, base, thumb.width, thumb.height);
      if (maps) {
        const box = gridEdges(grid, scale * dpr, thumb.width, thumb.height);
        drawHeat(ctx, shifted(p), grid, box, hi - lo, model.get("opacity"));
      }
    });
  }

  function paint() {
    const p = Math.min(model.get("prompt"), prompts.length - 1);
    const { ctx, box, finish } = stage.frame(
      base,
      grid,
      model.get("size"),
      model.get("show_lines"),
    );
    let best = { value: 0, index: -1 };
    if (maps && p >= 0) {
      const map = shifted(p);
      best = peak(map);
      drawHeat(ctx, map, grid, box, hi - lo, model.get("opacity"));
    }
    finish();
    title.textContent = p >= 0 ? `“${shortLabel(prompts[p], 40)}” against each patch` : "";
    items.forEach((row, i) => {
      row.classList.toggle("is-selected", i === p);
    });
    thumbCanvases.forEach((t, i) => {
      t.classList.toggle("is-current", i === p);
    });
    opacity.value = String(Math.round(model.get("opacity") * 100));
    lines.checked = model.get("show_lines");
    const cell = best.index >= 0 ? `(${Math.floor(best.index / cols)}, ${best.index % cols})` : "";
    Object.assign(root.dataset, {
      state: "ready",
      prompt: String(p),
      peak: cell,
      scores: model.get("score_kind"),
    });
  }

  canvas.addEventListener("pointermove", (event) => {
    const { x, y } = stage.imagePoint(event);
    const cell = cellAt(grid, x, y);
    const p = model.get("prompt");
    readout.textContent =
      cell && maps
        ? `(${cell.r}, ${cell.c}): cos ${maps.data[p * cells + cell.r * cols + cell.c].toFixed(4)}`
        : "";
  });
  opacity.addEventListener("input", () => setTrait(model, "opacity", Number(opacity.value) / 100));
  lines.addEventListener("change", () => setTrait(model, "show_lines", lines.checked));
  const stop = onChange(model, ["prompt", "opacity", "show_lines", "size", "thumb"], () => {
    drawThumbs();
    paint();
  });
  drawThumbs();
  paint();
  return stop;
}

export default { render };
