// RowView: one query's attention row over every key, and its top-k keys
// (src/attnwidgets/widgets/attention/row_view.py). Token text is untrusted: it reaches the
// page only through textContent.

/**
 * The model this view reads: the synced traits of RowView. tests/python/test_js_contract.py
 * checks these names against the Python class and every name the view's modules use.
 * @typedef {import("./shared/arrays.js").ArrayValue} ArrayValue
 * @typedef {object} RowModel
 * @property {number} layer
 * @property {number} head
 * @property {number} query
 * @property {number} top_k
 * @property {number} n_layers
 * @property {number} n_heads
 * @property {number} n_queries
 * @property {string[]} layer_names
 * @property {string} query_text
 * @property {ArrayValue} row float32 [bins]: the row max-pooled, with step, n_keys, max
 * @property {object[]} top the best keys, best first: {key, p, text}
 */

import { columnMaxima, rulerTicks } from "./rows/plot.js";
import { readArray } from "./shared/arrays.js";
import { BASE_CSS, injectStyle, node, redrawScheduler, widthOf } from "./shared/dom.js";
import { onChange, setTrait } from "./shared/model.js";

const ROOT = "attnwidgets-row";
const PLOT_H = 140; // bar area
const RULER_H = 18; // the position ruler under the bars
export const BAR = [31, 119, 180];
export const MARK = [214, 39, 40]; // top-k keys: a mark above their column
const MARK_H = 6;

const CSS = `${BASE_CSS(ROOT)}
.${ROOT} .attnwidgets-row-controls { display: flex; flex-wrap: wrap; gap: 6px 12px;
  align-items: center; margin: 4px 0; }
.${ROOT} .attnwidgets-row-controls input { width: 6em; }
.${ROOT} .attnwidgets-row-top { margin: 4px 0; padding-left: 2.5em;
  font-family: var(--jp-code-font-family, monospace); font-size: 12px; }
.${ROOT} .attnwidgets-row-top li { white-space: pre; overflow: hidden; text-overflow: ellipsis; }
`;

function numberInput(parent, label) {
  const box = node("label", "", parent, `${label} `);
  const input = node("input", "", box);
  input.type = "number";
  input.min = "0";
  input.step = "1";
  return input;
}

function createView(model, el) {
  injectStyle(el, `${ROOT}-style`, CSS);
  const root = node("div", ROOT, el);
  const controls = node("div", "attnwidgets-row-controls", root);
  const inputs = {
    layer: numberInput(controls, "layer"),
    head: numberInput(controls, "head"),
    query: numberInput(controls, "query"),
    top_k: numberInput(controls, "top"),
  };
  const title = node("div", "attnwidgets-title", root);
  const status = node("div", "attnwidgets-status", root);
  const canvas = node("canvas", "attnwidgets-row-canvas", root);
  const list = node("ol", "attnwidgets-row-top", root);
  list.start = 1;

  const redraw = redrawScheduler(() => draw());
  const schedule = redraw.schedule;

  function commit(name, input) {
    const value = Number(input.value);
    if (!Number.isInteger(value)) return;
    if (name === "layer") setTrait(model, "layer", value);
    if (name === "head") setTrait(model, "head", value);
    if (name === "query") setTrait(model, "query", value);
    if (name === "top_k") setTrait(model, "top_k", value);
  }
  for (const [name, input] of Object.entries(inputs)) {
    input.addEventListener("change", () => commit(name, input));
  }

  function draw() {
    const layer = Number(model.get("layer")) || 0;
    const head = Number(model.get("head")) || 0;
    const query = Number(model.get("query")) || 0;
    inputs.layer.value = String(layer);
    inputs.layer.max = String(Math.max(0, (Number(model.get("n_layers")) || 1) - 1));
    inputs.head.value = String(head);
    inputs.head.max = String(Math.max(0, (Number(model.get("n_heads")) || 1) - 1));
    inputs.query.value = String(query);
    inputs.query.max = String(Math.max(0, (Number(model.get("n_queries")) || 1) - 1));
    inputs.top_k.value = String(Number(model.get("top_k")) || 0);
    let row;
    try {
      row = readArray(model.get("row"), "row");
    } catch (err) {
      root.dataset.state = "error";
      status.textContent = err.message;
      return;
    }
    const nKeys = Number(row.meta.n_keys) || row.data.length;
    const top = Number(row.meta.max) || 0;
    const name = (model.get("layer_names") ?? [])[layer];
    title.textContent =
      `layer ${layer}${name ? ` (${name})` : ""} · head ${head} · query ${query} ` +
      `"${model.get("query_text") ?? ""}" · ${nKeys} keys · max ${top.toPrecision(4)}`;
    const best = model.get("top") ?? [];
    const width = widthOf(el, 720);
    drawPlot(row.data, Number(row.meta.step) || 1, nKeys, top, best, width);
    list.replaceChildren(
      ...best.map((item) => {
        const li = node("li", "");
        li.textContent = `key ${item.key} · ${Number(item.p).toFixed(4)} · ${item.text}`;
        li.dataset.key = String(item.key);
        return li;
      }),
    );
    status.textContent = "";
    Object.assign(root.dataset, {
      state: "ready",
      layer: String(layer),
      head: String(head),
      query: String(query),
    });
  }

  function drawPlot(values, step, nKeys, top, best, width) {
    canvas.width = width;
    canvas.height = PLOT_H + RULER_H;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${PLOT_H + RULER_H}px`;
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    const image = ctx.createImageData(width, PLOT_H);
    const pixels = image.data;
    pixels.fill(255);
    const heights = columnMaxima(values, step, nKeys, width);
    for (let x = 0; x < width; x++) {
      const h = top > 0 ? Math.round((heights[x] / top) * (PLOT_H - MARK_H - 1)) : 0;
      for (let y = PLOT_H - h; y < PLOT_H; y++) paint(pixels, width, x, y, BAR);
    }
    for (const item of best) {
      const x = Math.min(width - 1, Math.floor((item.key * width) / nKeys));
      for (let y = 0; y < MARK_H; y++) paint(pixels, width, x, y, MARK);
    }
    ctx.putImageData(image, 0, 0);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, PLOT_H, width, RULER_H);
    ctx.fillStyle = "#555";
    ctx.font = "10px sans-serif";
    for (const tick of rulerTicks(nKeys, width)) {
      const x = Math.round((tick * width) / nKeys);
      ctx.fillRect(x, PLOT_H, 1, 4);
      ctx.fillText(String(tick), Math.min(x + 2, width - 30), PLOT_H + RULER_H - 3);
    }
  }

  const stop = onChange(
    model,
    ["row", "top", "layer", "head", "query", "top_k", "query_text", "layer_names"],
    schedule,
  );
  draw();
  return () => {
    stop();
    redraw.cancel();
  };
}

function paint(pixels, width, x, y, rgb) {
  const i = (y * width + x) * 4;
  pixels[i] = rgb[0];
  pixels[i + 1] = rgb[1];
  pixels[i + 2] = rgb[2];
  pixels[i + 3] = 255;
}

export default {
  render({ model, el }) {
    return createView(model, el);
  },
};
