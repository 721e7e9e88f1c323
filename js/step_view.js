// StepView: one head's attention step by step (src/attnwidgets/widgets/steps/view.py).
// Token labels are untrusted: they only reach the page through textContent / title.

/**
 * The model this view reads: the synced traits of StepView
 * (src/attnwidgets/widgets/steps/view.py). tests/python/test_js_contract.py checks these
 * names against the Python class and against every name the view's modules use.
 * @typedef {import("./shared/arrays.js").ArrayValue} ArrayValue
 * @typedef {import("./shared/arrays.js").PackedValue} PackedValue
 * @typedef {object} StepModel
 * @property {number} layer
 * @property {number} head
 * @property {number} step index into steps
 * @property {number} n_layers
 * @property {number} n_heads
 * @property {string[]} layer_names
 * @property {string[]} query_tokens
 * @property {string[]} key_tokens
 * @property {string[]} steps
 * @property {string[]} step_titles
 * @property {Object<string, unknown>} info
 * @property {PackedValue} data float32 arrays of the head shown
 */

import { readPackedValue } from "./shared/arrays.js";
import { BASE_CSS, injectStyle, node, redrawScheduler, widthOf } from "./shared/dom.js";
import { drawHeatmap } from "./shared/heatmap.js";
import { labelFontPx, labelStep, truncateLabel } from "./shared/layout.js";
import { onChange, setTrait } from "./shared/model.js";
import { cellText, finiteSpan, panelsOf } from "./steps/cells.js";

const ROOT = "attnwidgets-steps";
const LABEL_W = 80; // room for row labels
const MAX_CELL = 28;
const MAX_H = 420; // a panel never grows taller than this

const CSS = `${BASE_CSS(ROOT)}
.${ROOT} .attnwidgets-step-controls { display: flex; flex-wrap: wrap; align-items: center;
  gap: 6px; margin: 4px 0; }
.${ROOT} .attnwidgets-step-slider { width: 180px; }
.${ROOT} .attnwidgets-step-title { margin: 2px 0 6px; }
.${ROOT} .attnwidgets-step-panels { display: flex; flex-wrap: wrap; gap: 12px 24px; }
.${ROOT} .attnwidgets-step-panel { position: relative; }
.${ROOT} .attnwidgets-step-canvas { position: absolute; cursor: crosshair;
  image-rendering: pixelated; }
.${ROOT} .attnwidgets-step-label { position: absolute; overflow: hidden; white-space: pre;
  text-overflow: ellipsis; font-size: 11px; }
.${ROOT} .attnwidgets-step-rowlabel { text-align: right; }
.${ROOT} .attnwidgets-step-collabel { writing-mode: vertical-rl; transform: rotate(180deg); }
.${ROOT} .attnwidgets-step-tooltip { position: absolute; z-index: 10; pointer-events: none;
  padding: 3px 6px; border: 1px solid var(--jp-border-color1, #bbb); border-radius: 3px;
  background: var(--jp-layout-color1, #fff); box-shadow: 0 1px 4px rgba(0, 0, 0, 0.2);
  white-space: pre; font-family: var(--jp-code-font-family, monospace); font-size: 11px; }
.${ROOT} .attnwidgets-step-range { font-size: 11px; color: #555; }
`;

function buildDom(el) {
  const root = node("div", ROOT, el);
  root.style.position = "relative";
  const dom = { root };
  dom.title = node("div", "attnwidgets-title", root);
  const controls = node("div", "attnwidgets-step-controls", root);
  dom.layer = node("select", "attnwidgets-step-layer", controls);
  dom.layer.title = "layer";
  dom.head = node("select", "attnwidgets-step-head", controls);
  dom.head.title = "head";
  dom.prev = node("button", "attnwidgets-step-prev", controls, "◀ back");
  dom.slider = node("input", "attnwidgets-step-slider", controls);
  dom.slider.type = "range";
  dom.slider.min = "0";
  dom.slider.setAttribute("aria-label", "step");
  dom.next = node("button", "attnwidgets-step-next", controls, "next ▶");
  dom.prev.title = "previous step";
  dom.next.title = "next step";
  dom.stepTitle = node("div", "attnwidgets-step-title", root);
  dom.status = node("div", "attnwidgets-status", root);
  dom.panels = node("div", "attnwidgets-step-panels", root);
  dom.tooltip = node("div", "attnwidgets-step-tooltip", root);
  dom.tooltip.hidden = true;
  return dom;
}

function fillSelect(select, count, prefix, chosen) {
  if (select.options.length !== count) {
    const doc = select.ownerDocument;
    select.replaceChildren(
      ...Array.from({ length: count }, (_, i) => {
        const option = doc.createElement("option");
        option.value = String(i);
        option.textContent = `${prefix} ${i}`;
        return option;
      }),
    );
  }
  select.value = String(chosen);
}

/** One matrix panel: a heading, a canvas and its row / column labels. */
function drawPanel(parent, spec, entry, labels, width) {
  const [rows, cols] = entry.shape;
  const room = Math.max(40, width - LABEL_W);
  const cell = Math.max(1, Math.min(MAX_CELL, room / Math.max(cols, 1), MAX_H / Math.max(rows, 1)));
  const w = Math.max(1, Math.round(cell * cols));
  const h = Math.max(1, Math.round(cell * rows));
  const font = labelFontPx(cell);
  const top = spec.cols === "key" ? 70 : 18;
  const box = node("div", "attnwidgets-step-panel", parent);
  box.dataset.panel = spec.name;
  box.style.width = `${LABEL_W + w}px`;
  box.style.height = `${top + h + 4}px`;
  const heading = node("div", "attnwidgets-chart-title", box);
  const [lo, hi] = finiteSpan(entry.data);
  heading.textContent = `${spec.title} [${rows} × ${cols}] · ${lo.toPrecision(3)} … ${hi.toPrecision(3)}`;
  const canvas = node("canvas", "attnwidgets-step-canvas", box);
  Object.assign(canvas.style, { left: `${LABEL_W}px`, top: `${top}px` });
  const dpr = globalThis.devicePixelRatio || 1;
  drawHeatmap(canvas, { values: entry.data, nQ: rows, nK: cols, lo, hi, cssW: w, cssH: h, dpr });
  const step = labelStep(cell, font);
  const rowNames = spec.rows === "query" ? labels.queryTokens : labels.keyTokens;
  for (let r = 0; r < rows; r += step) {
    const span = node("span", "attnwidgets-step-label attnwidgets-step-rowlabel", box);
    span.textContent = truncateLabel(rowNames[r] ?? String(r), 12);
    span.title = String(rowNames[r] ?? r);
    Object.assign(span.style, {
      left: "0px",
      width: `${LABEL_W - 4}px`,
      top: `${top + (r + 0.5) * cell - font * 0.65}px`,
      fontSize: `${font}px`,
    });
  }
  if (spec.cols === "key") {
    for (let c = 0; c < cols; c += step) {
      const span = node("span", "attnwidgets-step-label attnwidgets-step-collabel", box);
      span.textContent = truncateLabel(labels.keyTokens[c] ?? String(c), 10);
      span.title = String(labels.keyTokens[c] ?? c);
      Object.assign(span.style, {
        left: `${LABEL_W + (c + 0.5) * cell - font * 0.65}px`,
        top: "16px",
        height: `${top - 18}px`,
        fontSize: `${font}px`,
      });
    }
  } else {
    const axis = node("span", "attnwidgets-step-range", box, `← dims 0…${cols - 1} →`);
    Object.assign(axis.style, { position: "absolute", left: `${LABEL_W}px`, top: `${top + h}px` });
  }
  return { canvas, cell, rows, cols };
}

function createView(model, el) {
  const dom = buildDom(el);
  let arrays = new Map();
  let problem = "";
  let drawn = [];

  const redraw = redrawScheduler(() => draw());
  const schedule = redraw.schedule;

  function decode() {
    try {
      arrays = readPackedValue(model.get("data"), "data").arrays;
      problem = "";
    } catch (err) {
      arrays = new Map();
      problem = `data: ${err.message}`;
    }
  }

  function stepIndex() {
    const count = (model.get("steps") ?? []).length;
    return Math.min(Math.max(0, Number(model.get("step")) || 0), Math.max(0, count - 1));
  }

  function draw() {
    const steps = model.get("steps") ?? [];
    const titles = model.get("step_titles") ?? [];
    const info = model.get("info") ?? {};
    const layer = Number(model.get("layer")) || 0;
    const head = Number(model.get("head")) || 0;
    const index = stepIndex();
    const step = steps[index] ?? "";
    fillSelect(dom.layer, Number(model.get("n_layers")) || 0, "layer", layer);
    fillSelect(dom.head, Number(model.get("n_heads")) || 0, "head", head);
    dom.slider.max = String(Math.max(0, steps.length - 1));
    dom.slider.value = String(index);
    dom.prev.disabled = index <= 0;
    dom.next.disabled = index >= steps.length - 1;
    const name = (model.get("layer_names") ?? [])[layer];
    const shared =
      info.kv_heads && info.kv_heads < info.heads
        ? ` · reads key/value head ${info.kv_head} of ${info.kv_heads}`
        : "";
    dom.title.textContent = `layer ${layer}${name ? ` (${name})` : ""} · head ${head}${shared}`;
    dom.stepTitle.textContent = `step ${index + 1} of ${steps.length} · ${titles[index] ?? step}`;
    Object.assign(dom.root.dataset, { step, layer: String(layer), head: String(head) });
    hideHover();
    dom.panels.replaceChildren();
    drawn = [];
    const missing = panelsOf(step).find((spec) => !arrays.has(spec.array));
    if (problem || !step || missing) {
      dom.root.dataset.state = "error";
      dom.status.textContent =
        problem || (missing ? `no ${missing.array} in the data` : "no steps");
      return;
    }
    const labels = {
      queryTokens: model.get("query_tokens") ?? [],
      keyTokens: model.get("key_tokens") ?? [],
    };
    const specs = panelsOf(step);
    const width = widthOf(el, 720);
    const each = specs.length > 1 ? Math.floor((width - 24) / 2) : width;
    for (const spec of specs) {
      const panel = drawPanel(dom.panels, spec, arrays.get(spec.array), labels, each);
      drawn.push({ ...panel, spec });
    }
    dom.status.textContent = "";
    dom.root.dataset.state = "ready";
  }

  function hideHover() {
    dom.tooltip.hidden = true;
    delete dom.root.dataset.hover;
  }

  function onMove(event) {
    const hit = drawn.find((panel) => panel.canvas === event.target);
    if (!hit) return;
    const box = hit.canvas.getBoundingClientRect();
    const col = Math.floor(((event.clientX - box.left) * hit.cols) / box.width);
    const row = Math.floor(((event.clientY - box.top) * hit.rows) / box.height);
    if (row < 0 || col < 0 || row >= hit.rows || col >= hit.cols) {
      hideHover();
      return;
    }
    const labels = {
      queryTokens: model.get("query_tokens") ?? [],
      keyTokens: model.get("key_tokens") ?? [],
    };
    const step = (model.get("steps") ?? [])[stepIndex()];
    const lines = cellText(step, hit.spec.name, row, col, arrays, model.get("info") ?? {}, labels);
    dom.tooltip.textContent = lines.join("\n");
    dom.tooltip.hidden = false;
    const rootBox = dom.root.getBoundingClientRect();
    const x = event.clientX - rootBox.left;
    const wide = dom.tooltip.offsetWidth;
    // left of the pointer when it would overflow the view on the right
    const left = x + 14 + wide > rootBox.width ? Math.max(0, x - 14 - wide) : x + 14;
    dom.tooltip.style.left = `${left}px`;
    dom.tooltip.style.top = `${event.clientY - rootBox.top + 14}px`;
    dom.root.dataset.hover = `${hit.spec.name}:${row},${col}`;
  }

  const go = (delta) => {
    const count = (model.get("steps") ?? []).length;
    const next = Math.min(Math.max(0, stepIndex() + delta), Math.max(0, count - 1));
    if (next !== stepIndex()) setTrait(model, "step", next);
  };
  const onKey = (event) => {
    if (event.key === "ArrowRight") go(1);
    else if (event.key === "ArrowLeft") go(-1);
    else return;
    event.preventDefault();
  };
  const onData = () => {
    decode();
    schedule();
  };
  const stops = [
    onChange(model, ["data"], onData),
    onChange(model, ["layer", "head", "step", "steps", "step_titles", "info"], schedule),
    onChange(model, ["n_layers", "n_heads", "layer_names", "query_tokens", "key_tokens"], schedule),
  ];
  const listeners = [
    [dom.panels, "mousemove", onMove],
    [dom.panels, "mouseleave", hideHover],
    [dom.prev, "click", () => go(-1)],
    [dom.next, "click", () => go(1)],
    [dom.slider, "input", () => setTrait(model, "step", Number(dom.slider.value))],
    [dom.layer, "change", () => setTrait(model, "layer", Number(dom.layer.value))],
    [dom.head, "change", () => setTrait(model, "head", Number(dom.head.value))],
    [dom.root, "keydown", onKey],
  ];
  dom.root.tabIndex = 0;
  for (const [target, name, fn] of listeners) target.addEventListener(name, fn);

  injectStyle(el, "attnwidgets-steps-style", CSS);
  decode();
  draw();

  return () => {
    redraw.cancel();
    for (const stop of stops) stop();
    for (const [target, name, fn] of listeners) target.removeEventListener(name, fn);
    dom.root.remove();
  };
}

export default {
  /** @param {{ model: import("./shared/model.js").WidgetModel<StepModel>, el: HTMLElement }} props */
  render({ model, el }) {
    return createView(model, el);
  },
};
