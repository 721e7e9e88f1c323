// The list beside a FeatureMap: the legend, how many inputs are selected, and each listed
// input as its label and a text snippet or an image thumbnail.

import { isEmpty, readArray } from "../shared/arrays.js";
import { node } from "../shared/dom.js";
import { drawRgb } from "./rgb.js";
import { blockText, lineText } from "./text.js";

const THUMB_SCALE = 2;

/** The legend: one swatch, name and count per class. */
export function drawLegend(box, legend) {
  box.replaceChildren();
  for (const entry of legend ?? []) {
    const row = node("span", "aw-fm-legend-entry", box);
    const swatch = node("span", "aw-fm-swatch", row);
    swatch.style.background = entry.color;
    node("span", "aw-fm-name", row, lineText(entry.name));
    node("span", "aw-fm-count", row, `(${entry.count})`);
  }
}

/** The selected inputs: rows with the label badge and a snippet or a thumbnail. */
export function drawItems(box, items, thumbnails) {
  box.replaceChildren();
  const images = isEmpty(thumbnails) ? null : readArray(thumbnails, "thumbnails");
  for (const item of items ?? []) {
    const row = node("div", "aw-fm-item", box);
    row.dataset.inputId = String(item.input_id);
    const badge = node("span", "aw-fm-badge", row, lineText(item.label));
    badge.style.borderColor = item.color;
    node("span", "aw-fm-id", row, `#${item.input_id}`);
    if (images && Number.isInteger(item.image)) {
      const [, h, w] = images.shape;
      const canvas = node("canvas", "aw-fm-thumb", row);
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", `input ${item.input_id}`);
      const offset = item.image * h * w * 3;
      drawRgb(canvas, images.data, offset, h, w, THUMB_SCALE);
    } else {
      node("pre", "aw-fm-text", row, blockText(item.text));
    }
  }
}
