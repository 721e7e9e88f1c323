// NeuronView (src/attnwidgets/widgets/features/neuron_view.py): one unit over a typed text
// and over its top stored inputs. The page edits `unit` and `text`; the kernel re-runs what
// is shown. Token strings and labels are untrusted: textContent only.

/**
 * The model this view reads: the synced traits of NeuronView
 * (src/attnwidgets/widgets/features/neuron_view.py). tests/python/test_js_contract.py checks
 * these names against the Python class and against every name the view's modules use.
 * @typedef {import("./shared/arrays.js").ArrayValue} ArrayValue
 * @typedef {{input_id: number, label: string, score: number | null, offset: number,
 *   length: number, tokens: string[], image?: number, height?: number, width?: number,
 *   grid?: number[] | null}} TopInput values = top_values[offset : offset + length]
 * @typedef {object} NeuronViewModel
 * @property {string} title module path and unit (or direction) name
 * @property {number} unit the feature index shown; set by the page
 * @property {number} units how many features the module has
 * @property {string} direction_name non-empty: a direction is shown (unit controls disabled)
 * @property {string} text the typed text; set by the page
 * @property {string[]} text_tokens the typed text's tokens, untrusted
 * @property {ArrayValue} text_values float32 [tokens]: the unit over the typed text, or {}
 * @property {TopInput[]} top the top stored inputs, best first
 * @property {ArrayValue} top_values float32: every top input's values, concatenated
 * @property {ArrayValue} top_images uint8 [k, h, w, 3], or {} for text inputs
 * @property {number} scale the largest |value| shown: one colour scale for the view
 * @property {string} status an error from the kernel, or ""
 */

import { fmt } from "./features/colours.js";
import { drawPatches } from "./features/patches.js";
import { blockText, lineText } from "./features/text.js";
import { drawTokens } from "./features/tokens.js";
import { isEmpty, readArray } from "./shared/arrays.js";
import { injectStyle, node } from "./shared/dom.js";
import { onChange, setTrait } from "./shared/model.js";

const ROOT = "aw-neuron-view";
const CSS = `
.${ROOT} { box-sizing: border-box; max-width: 100%; padding: 4px 0;
  font-family: var(--jp-ui-font-family, system-ui, sans-serif);
  font-size: var(--jp-ui-font-size1, 13px); color: var(--jp-ui-font-color1, #222); }
.${ROOT} .aw-nv-title { font-weight: 600; overflow-wrap: anywhere; }
.${ROOT} .aw-nv-controls { display: flex; gap: 6px; align-items: center; margin: 4px 0; }
.${ROOT} .aw-nv-controls input[type=number] { width: 6em; }
.${ROOT} .aw-nv-text-input { flex: 1; min-width: 200px; font-family: var(--jp-code-font-family, monospace); }
.${ROOT} .aw-nv-status { min-height: 1.2em; color: var(--jp-warn-color0, #a15c00); }
.${ROOT} .aw-nv-strip { font-family: var(--jp-code-font-family, monospace); font-size: 12px;
  line-height: 1.9; white-space: pre-wrap; overflow-wrap: anywhere; }
.${ROOT} .aw-nv-token { white-space: pre; border-radius: 2px; padding: 1px 0; }
.${ROOT} .aw-nv-peak { outline: 2px solid #222; }
.${ROOT} .aw-nv-top { margin-top: 6px; }
.${ROOT} .aw-nv-row { display: flex; gap: 8px; align-items: flex-start; padding: 3px 0;
  border-top: 1px solid var(--jp-border-color2, #eee); }
.${ROOT} .aw-nv-meta { min-width: 130px; font-variant-numeric: tabular-nums;
  color: var(--jp-ui-font-color2, #555); }
.${ROOT} .aw-nv-image { image-rendering: pixelated; }
.${ROOT} .aw-nv-images { display: flex; flex-wrap: wrap; gap: 8px; }
`;

function buildDom(el) {
  const root = node("div", ROOT, el);
  const dom = { root };
  dom.title = node("div", "aw-nv-title", root);
  const controls = node("div", "aw-nv-controls", root);
  node("span", "", controls, "unit");
  dom.prev = node("button", "aw-nv-prev", controls, "◀");
  dom.unit = node("input", "aw-nv-unit", controls);
  dom.unit.type = "number";
  dom.unit.min = "0";
  dom.next = node("button", "aw-nv-next", controls, "▶");
  dom.text = node("input", "aw-nv-text-input", controls);
  dom.text.type = "text";
  dom.text.placeholder = "type a text, press Enter";
  dom.status = node("div", "aw-nv-status", root);
  dom.status.setAttribute("role", "status");
  dom.strip = node("div", "aw-nv-strip aw-nv-typed", root);
  node("div", "aw-nv-heading", root, "Top inputs in the store");
  dom.top = node("div", "aw-nv-top", root);
  return dom;
}

function drawTop(dom, model) {
  dom.top.replaceChildren();
  const items = model.get("top") ?? [];
  const valuesPayload = model.get("top_values");
  if (isEmpty(valuesPayload)) return;
  const values = readArray(valuesPayload, "top_values").data;
  const imagesPayload = model.get("top_images");
  const images = isEmpty(imagesPayload) ? null : readArray(imagesPayload, "top_images");
  const scale = model.get("scale");
  const box = images ? node("div", "aw-nv-images", dom.top) : dom.top;
  items.forEach((item, rank) => {
    const row = node("div", "aw-nv-row", box);
    row.dataset.inputId = String(item.input_id);
    const score = item.score == null ? "" : ` ${fmt(item.score)}`;
    node(
      "div",
      "aw-nv-meta",
      row,
      `${rank + 1}. #${item.input_id} ${lineText(item.label)}${score}`,
    );
    const slice = values.subarray(item.offset, item.offset + item.length);
    if (images && Number.isInteger(item.image)) {
      const canvas = node("canvas", "aw-nv-image", row);
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", `input ${item.input_id}, patches by value`);
      drawPatches(canvas, images, item, slice, scale);
    } else {
      drawTokens(node("div", "aw-nv-strip", row), item.tokens ?? [], slice, scale);
    }
  });
}

function render({ model, el }) {
  injectStyle(el, `${ROOT}-style`, CSS);
  const dom = buildDom(el);
  const direction = () => Boolean(model.get("direction_name"));
  const setUnit = (value) => {
    const units = model.get("units");
    const next = Math.max(0, Math.min(units - 1, Math.round(Number(value))));
    if (!Number.isFinite(next) || next === model.get("unit")) return;
    setTrait(model, "unit", next);
  };
  dom.prev.addEventListener("click", () => setUnit(model.get("unit") - 1));
  dom.next.addEventListener("click", () => setUnit(model.get("unit") + 1));
  dom.unit.addEventListener("change", () => setUnit(dom.unit.value));
  dom.text.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    setTrait(model, "text", dom.text.value);
  });
  const draw = () => {
    dom.title.textContent = lineText(model.get("title"));
    dom.unit.value = String(model.get("unit"));
    dom.unit.max = String(Math.max(0, model.get("units") - 1));
    for (const c of [dom.prev, dom.next, dom.unit]) c.disabled = direction();
    if (document.activeElement !== dom.text) dom.text.value = model.get("text");
    dom.status.textContent = blockText(model.get("status"));
    const tokens = model.get("text_tokens") ?? [];
    const payload = model.get("text_values");
    if (tokens.length && !isEmpty(payload)) {
      drawTokens(dom.strip, tokens, readArray(payload, "text_values").data, model.get("scale"));
    } else {
      dom.strip.replaceChildren();
    }
    drawTop(dom, model);
  };
  const stop = onChange(
    model,
    [
      "title",
      "unit",
      "units",
      "direction_name",
      "text",
      "text_tokens",
      "text_values",
      "top",
      "top_values",
      "top_images",
      "scale",
      "status",
    ],
    draw,
  );
  draw();
  return stop;
}

export default { render };
