// PositionView: the views of one positional-encoding scheme, drawn on one canvas.
// Everything is computed from the float32 arrays in `data`, so sliders work without a
// kernel. Titles are set with textContent.

/**
 * The model this view reads: the synced traits of PositionView
 * (src/attnwidgets/widgets/positions/view.py). tests/python/test_js_contract.py checks these
 * names against the Python class and against every name the view's modules use.
 * @typedef {import("./shared/arrays.js").ArrayValue} ArrayValue
 * @typedef {import("./shared/arrays.js").PackedValue} PackedValue
 * @typedef {object} PositionModel
 * @property {string} kind
 * @property {string} title
 * @property {string[]} views
 * @property {string} view
 * @property {number} position
 * @property {number} dimension
 * @property {number} head
 * @property {"cosine" | "dot"} metric
 * @property {number[]} curve_dims
 * @property {number[]} grid
 * @property {Object<string, unknown>} params
 * @property {PackedValue} data float32 arrays of the scheme
 */

import { similarityMatrix } from "./positions/data.js";
import { setupCanvas } from "./positions/plots.js";
import { fmt, VIEWS } from "./positions/views.js";
import { readPackedValue } from "./shared/arrays.js";
import { injectStyle, node, redrawScheduler } from "./shared/dom.js";
import { drawColorbar } from "./shared/heatmap.js";
import { displayLabel } from "./shared/layout.js";
import { onChange, setTrait } from "./shared/model.js";

const ROOT = "attnwidgets-positions";
const STYLE_ID = "attnwidgets-positions-style";
const CSS = `
.${ROOT} { box-sizing: border-box; max-width: 100%; padding: 4px 0;
  font-family: var(--jp-ui-font-family, system-ui, sans-serif);
  font-size: var(--jp-ui-font-size1, 13px); color: var(--jp-ui-font-color1, #222); }
.${ROOT} .attnwidgets-title { font-weight: 600; overflow-wrap: anywhere; }
.${ROOT} .attnwidgets-view-buttons { display: flex; gap: 4px; margin: 4px 0; flex-wrap: wrap; }
.${ROOT} .attnwidgets-view-button { padding: 2px 8px; border-radius: 3px; cursor: pointer;
  border: 1px solid var(--jp-border-color1, #bbb); background: var(--jp-layout-color1, #fff);
  color: inherit; font: inherit; }
.${ROOT} .attnwidgets-view-button.attnwidgets-active { background: var(--jp-brand-color1, #1976d2);
  border-color: var(--jp-brand-color1, #1976d2); color: #fff; }
.${ROOT} .attnwidgets-status { min-height: 1.3em; color: var(--jp-warn-color0, #a15c00); }
.${ROOT} .attnwidgets-position-canvas { display: block; cursor: crosshair; }
.${ROOT} .attnwidgets-readout { white-space: pre-wrap; font-variant-numeric: tabular-nums;
  min-height: 1.3em; }
.${ROOT} .attnwidgets-legend { display: flex; align-items: center; gap: 6px; margin-top: 4px;
  font-variant-numeric: tabular-nums; }
.${ROOT} [hidden] { display: none !important; }
`;
const HEIGHT = 340;
const MARGIN = { left: 64, top: 10, right: 16, bottom: 48 };

function buildDom(el) {
  const root = node("div", ROOT, el);
  const dom = { root };
  dom.title = node("div", "attnwidgets-title", root);
  dom.buttons = node("div", "attnwidgets-view-buttons", root);
  dom.metrics = node("div", "attnwidgets-view-buttons attnwidgets-metric-buttons", root);
  dom.status = node("div", "attnwidgets-status", root);
  dom.status.setAttribute("role", "status");
  dom.canvas = node("canvas", "attnwidgets-position-canvas", root);
  dom.canvas.setAttribute("role", "img");
  dom.legend = node("div", "attnwidgets-legend", root);
  dom.lo = node("span", "attnwidgets-min", dom.legend);
  dom.colorbar = node("canvas", "attnwidgets-colorbar", dom.legend);
  dom.hi = node("span", "attnwidgets-max", dom.legend);
  dom.valueLabel = node("span", "attnwidgets-value-label", dom.legend);
  dom.readout = node("div", "attnwidgets-readout", root);
  return dom;
}

function createView(model, el) {
  const dom = buildDom(el);
  let arrays = {};
  let error = null;
  let simCache = new Map();
  let shownPlot = null;

  const redraw = redrawScheduler(() => draw());
  const schedule = redraw.schedule;

  function loadData() {
    simCache = new Map();
    try {
      const { arrays: found } = readPackedValue(model.get("data"), "data");
      arrays = Object.fromEntries(
        [...found].map(([k, v]) => [k, { values: v.data, shape: v.shape }]),
      );
      error = null;
    } catch (err) {
      arrays = {};
      error = `data: ${err.message}`;
    }
  }

  function state() {
    const metric = model.get("metric") === "dot" ? "dot" : "cosine";
    return {
      arrays,
      metric,
      position: model.get("position"),
      dimension: model.get("dimension"),
      head: model.get("head"),
      curveDims: model.get("curve_dims") ?? [],
      grid: model.get("grid") ?? [],
      params: model.get("params") ?? {},
      similarity() {
        if (!simCache.has(metric)) {
          const { values, shape } = arrays.table;
          simCache.set(metric, similarityMatrix(values, shape[0], shape[1], metric));
        }
        return simCache.get(metric);
      },
    };
  }

  /** One button per choice (`trait`: its data attribute); clicking one calls pick(choice). */
  function drawButtons(box, trait, choices, current, pick, prefix = "") {
    const buttons = choices.map((name) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "attnwidgets-view-button";
      if (name === current) b.classList.add("attnwidgets-active");
      b.dataset[trait] = name;
      b.textContent = `${prefix}${name}`;
      b.addEventListener("click", () => pick(name));
      return b;
    });
    box.replaceChildren(...buttons);
  }

  function draw() {
    const views = model.get("views") ?? [];
    const view = views.includes(model.get("view")) ? model.get("view") : views[0];
    drawButtons(dom.buttons, "view", views, view, (name) => setTrait(model, "view", name));
    const metric = model.get("metric") === "dot" ? "dot" : "cosine";
    const pickMetric = (name) => setTrait(model, "metric", name);
    drawButtons(dom.metrics, "metric", ["cosine", "dot"], metric, pickMetric, "metric: ");
    dom.metrics.hidden = view !== "similarity" && view !== "grid";
    dom.title.textContent = `${model.get("kind")} · ${displayLabel(model.get("title"))}`;
    const width = Math.max(320, Math.min(720, el.clientWidth || 640));
    const dpr = globalThis.devicePixelRatio || 1;
    const ctx = setupCanvas(dom.canvas, width, HEIGHT, dpr);
    const rect = {
      left: MARGIN.left,
      top: MARGIN.top,
      width: width - MARGIN.left - MARGIN.right,
      height: HEIGHT - MARGIN.top - MARGIN.bottom,
    };
    dom.root.dataset.view = view ?? "";
    let problem = error;
    let result = null;
    if (!problem && !VIEWS[view]) problem = `no view named ${view}`;
    if (!problem) {
      try {
        result = VIEWS[view](ctx, rect, state());
      } catch (err) {
        problem = `${view}: ${err.message}`;
      }
    }
    dom.status.textContent = problem ?? "";
    dom.root.dataset.state = problem ? "error" : "ready";
    shownPlot = result?.plot ?? null;
    dom.canvas.dataset.plot = JSON.stringify(shownPlot);
    dom.canvas.setAttribute("aria-label", `${view} view of the ${model.get("kind")} positions`);
    dom.readout.textContent = result?.readout ?? "";
    dom.legend.hidden = !result?.matrix;
    if (result?.matrix) {
      const [lo, hi, label] = result.matrix;
      drawColorbar(dom.colorbar, { cssW: 160, cssH: 10, dpr });
      dom.lo.textContent = fmt(lo);
      dom.hi.textContent = fmt(hi);
      dom.valueLabel.textContent = label;
    }
  }

  /** Click: the data position under the pointer becomes the selected position (or head). */
  function onClick(event) {
    if (!shownPlot) return;
    const r = dom.canvas.getBoundingClientRect();
    const x = event.clientX - r.left;
    const y = event.clientY - r.top;
    const p = shownPlot;
    if (x < p.left || y < p.top || x > p.left + p.width || y > p.top + p.height) return;
    const fx = p.xRange[0] + ((x - p.left) / p.width) * (p.xRange[1] - p.xRange[0]);
    const fy = p.yRange[0] + ((y - p.top) / p.height) * (p.yRange[1] - p.yRange[0]);
    const view = dom.root.dataset.view;
    if (view === "bias" || view === "grid") return;
    const value = Math.max(0, p.yDown ? Math.round(fy) : Math.round(fx));
    if (view === "slopes") setTrait(model, "head", value);
    else if (view === "frequencies") setTrait(model, "dimension", value);
    else setTrait(model, "position", value);
  }

  const onData = () => {
    loadData();
    schedule();
  };
  const stops = [
    onChange(model, ["data"], onData),
    onChange(model, ["view", "views", "position", "dimension", "head", "metric"], schedule),
    onChange(model, ["curve_dims", "grid", "params", "kind", "title"], schedule),
  ];
  dom.canvas.addEventListener("click", onClick);
  let drawnWidth = el.clientWidth;
  const resize = globalThis.ResizeObserver
    ? new ResizeObserver(() => {
        if (el.clientWidth !== drawnWidth) {
          drawnWidth = el.clientWidth;
          schedule();
        }
      })
    : null;
  resize?.observe(el);

  injectStyle(el, STYLE_ID, CSS);
  loadData();
  draw();

  return () => {
    redraw.cancel();
    for (const stop of stops) stop();
    resize?.disconnect();
    dom.root.remove();
  };
}

export default {
  /** @param {{ model: import("./shared/model.js").WidgetModel<PositionModel>, el: HTMLElement }} props */
  render({ model, el }) {
    return createView(model, el);
  },
};
