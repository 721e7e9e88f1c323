// A layers x heads grid: how much each head's text rows attend to the image tokens (the mean
// share of their attention on image tokens), drawn in viridis over 0..max with the value on
// hover; a click picks that layer and head. Reads the `head_shares` trait: packed float32
// image / text [layers, heads], meta {rows}.

import { isEmpty, readPackedValue } from "../shared/arrays.js";
import { colorAt } from "../shared/colormap.js";
import { element } from "../vision/labels.js";

const CELL = 18; // CSS px per cell

/** Build the grid in `container`; returns {highlight(layer, head)} or null without data. */
export function buildShareGrid(container, { payload, names, onPick }) {
  container.replaceChildren();
  if (isEmpty(payload)) return null;
  const { arrays, meta } = readPackedValue(payload, "head_shares");
  const image = arrays.get("image");
  const text = arrays.get("text");
  const [layers, heads] = image.shape;
  let max = 0;
  for (const v of image.data) max = Math.max(max, v);
  element(
    "div",
    "attnwidgets-vlm-grid-title",
    container,
    `where the text reads the image: mean share of attention on image tokens, over ${meta.rows} text rows after the image (rows: layers, columns: heads; brightest ${max.toFixed(3)}). Click one to show it.`,
  );
  const wrap = element("div", "attnwidgets-vlm-grid-wrap", container);
  const labels = element("div", "attnwidgets-vlm-grid-labels", wrap);
  for (let l = 0; l < layers; l++) {
    const label = element("div", "attnwidgets-vlm-grid-label", labels, `L${l}`);
    label.title = names[l] ?? `layer ${l}`;
    label.style.height = `${CELL}px`;
  }
  const canvas = element("canvas", "attnwidgets-vlm-share-grid", wrap);
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(heads * CELL * dpr);
  canvas.height = Math.round(layers * CELL * dpr);
  canvas.style.width = `${heads * CELL}px`;
  canvas.style.height = `${layers * CELL}px`;
  const readout = element("div", "attnwidgets-vlm-grid-readout", container);
  const ctx = canvas.getContext("2d");
  let current = [-1, -1];

  function draw() {
    const k = CELL * dpr;
    for (let l = 0; l < layers; l++) {
      for (let h = 0; h < heads; h++) {
        const [r, g, b] = colorAt(max > 0 ? image.data[l * heads + h] / max : 0);
        ctx.fillStyle = `rgb(${r}, ${g}, ${b})`;
        ctx.fillRect(Math.round(h * k), Math.round(l * k), Math.ceil(k), Math.ceil(k));
      }
    }
    const [l, h] = current;
    if (l >= 0) {
      ctx.strokeStyle = "rgb(255, 40, 40)";
      ctx.lineWidth = 2 * dpr;
      ctx.strokeRect(h * k + dpr, l * k + dpr, k - 2 * dpr, k - 2 * dpr);
    }
  }

  const cellOf = (event) => {
    const rect = canvas.getBoundingClientRect();
    const h = Math.floor(((event.clientX - rect.left) / rect.width) * heads);
    const l = Math.floor(((event.clientY - rect.top) / rect.height) * layers);
    return l >= 0 && l < layers && h >= 0 && h < heads ? [l, h] : null;
  };
  canvas.addEventListener("pointermove", (event) => {
    const at = cellOf(event);
    if (!at) return;
    const [l, h] = at;
    const i = l * heads + h;
    readout.textContent = `layer ${l}, head ${h}: image ${image.data[i].toFixed(3)} · text ${text.data[i].toFixed(3)}`;
  });
  canvas.addEventListener("pointerleave", () => {
    readout.textContent = "";
  });
  canvas.addEventListener("click", (event) => {
    const at = cellOf(event);
    if (at) onPick(at[0], at[1]);
  });
  draw();
  return {
    highlight(layer, head) {
      current = [layer, head];
      draw();
    },
  };
}
