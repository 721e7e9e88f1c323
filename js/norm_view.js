// NormView: what one norm module does to its input (src/attnwidgets/widgets/norms/view.py).
// Token labels are untrusted text.

/**
 * The model this view reads: the synced traits of NormView
 * (src/attnwidgets/widgets/norms/view.py). tests/python/test_js_contract.py checks these
 * names against the Python class and against every name the view's modules use.
 * @typedef {import("./shared/arrays.js").ArrayValue} ArrayValue
 * @typedef {import("./shared/arrays.js").PackedValue} PackedValue
 * @typedef {object} NormModel
 * @property {number} layer
 * @property {number} n_layers
 * @property {string[]} layer_names
 * @property {string[]} layer_kinds
 * @property {string[]} class_names
 * @property {string[]} tokens untrusted text
 * @property {boolean} log_counts
 * @property {PackedValue} data every layer's arrays (hist_in, hist_out, range, ...)
 * @property {string[]} hist_notes
 */

import { normHeader } from "./norms/header.js";
import {
  drawHistogram,
  drawSeries,
  drawSpread,
  drawValues,
  fmt,
  INPUT_RGB,
  nonfiniteText,
  OUTPUT_RGB,
} from "./norms/plots.js";
import { readPackedValue, row } from "./shared/arrays.js";
import { BASE_CSS, chart, injectStyle, node, redrawScheduler, widthOf } from "./shared/dom.js";
import { displayLabel } from "./shared/layout.js";
import { onChange } from "./shared/model.js";

const ROOT = "attnwidgets-norms";

function buildDom(el) {
  const root = node("div", ROOT, el);
  const dom = { root, ...normHeader(root) };
  const grid = node("div", "attnwidgets-grid", root);
  dom.hist = chart(grid, "attnwidgets-norm-hist", "histogram (shared bins)");
  dom.tokens = chart(grid, "attnwidgets-norm-tokens", "per token");
  dom.gamma = chart(grid, "attnwidgets-norm-gamma", "scale γ");
  dom.beta = chart(grid, "attnwidgets-norm-beta", "shift β");
  dom.summary = chart(grid, "attnwidgets-norm-summary", "std of every layer: input vs output");
  dom.summary.canvas.style.cursor = "pointer";
  dom.outlierTitle = node("div", "attnwidgets-chart-title", root, "outliers");
  dom.outliers = node("ul", "attnwidgets-outliers", root);
  return dom;
}

function createView(model, el) {
  const dom = buildDom(el);
  let arrays = new Map();
  let problem = "";
  let layerAt = () => -1;

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

  function draw() {
    const n = Number(model.get("n_layers")) || 0;
    const layer = Math.min(Math.max(0, Number(model.get("layer")) || 0), n - 1);
    const W = widthOf(el);
    const half = Math.floor((W - 16) / 2);
    const names = model.get("layer_names") ?? [];
    const kind = (model.get("layer_kinds") ?? [])[layer] ?? "";
    const cls = (model.get("class_names") ?? [])[layer] ?? "";
    dom.root.dataset.layer = String(layer);
    const name = displayLabel(names[layer] ?? "?");
    dom.title.textContent = `norm ${layer} of ${n}: ${name} (${displayLabel(cls)}, ${kind})`;
    dom.log.checked = Boolean(model.get("log_counts"));
    const hin = arrays.get("hist_in");
    if (problem || !hin || layer < 0) {
      dom.root.dataset.state = "error";
      dom.status.textContent = problem || "no norm layers to show";
      return;
    }
    const range = row(arrays.get("range"), layer);
    const nonfinite = Array.from(row(arrays.get("nonfinite"), layer));
    const outIn = arrays.get(`outliers_in.${layer}`);
    const outOut = arrays.get(`outliers_out.${layer}`);
    const marks = [...(outIn?.data ?? [])].filter((_, i) => i % 3 === 2);
    const note = (model.get("hist_notes") ?? [])[layer] ?? "";
    dom.hist.heading.textContent = `histogram (shared bins)${note ? `: ${note}` : ""}`;
    drawHistogram(dom.hist.canvas, {
      hin: row(hin, layer),
      hout: row(arrays.get("hist_out"), layer),
      lo: range[0],
      hi: range[1],
      log: dom.log.checked,
      cssW: half,
      cssH: 180,
      marks,
    });
    drawTokens(layer, kind, half, outIn);
    drawParams(layer, half);
    layerAt = drawSpread(dom.summary.canvas, {
      spread: arrays.get("spread").data,
      selected: layer,
      cssW: half,
      cssH: 150,
    });
    listOutliers(outIn, outOut);
    const warnings = [nonfiniteText(nonfinite, "input"), nonfiniteText(nonfinite, "output")];
    dom.status.textContent = warnings.filter(Boolean).join(" · ");
    dom.root.dataset.state = dom.status.textContent ? "nonfinite" : "ready";
  }

  function drawTokens(layer, kind, width, outIn) {
    const tin = arrays.get(`tokens_in.${layer}`);
    const tout = arrays.get(`tokens_out.${layer}`);
    const labels = model.get("tokens") ?? [];
    const marked = [];
    for (let i = 0; outIn && i < outIn.shape[0]; i++) marked.push(outIn.data[3 * i]);
    const rms = kind === "rmsnorm";
    dom.tokens.heading.textContent = rms
      ? "per-token RMS (input solid blue, output orange)"
      : "per-token std (solid) and mean (dashed)";
    const series = rms
      ? [
          { values: row(tin, 2), rgb: INPUT_RGB },
          { values: row(tout, 2), rgb: OUTPUT_RGB },
        ]
      : [
          { values: row(tin, 1), rgb: INPUT_RGB },
          { values: row(tin, 0), rgb: INPUT_RGB, dash: true },
          { values: row(tout, 1), rgb: OUTPUT_RGB },
          { values: row(tout, 0), rgb: OUTPUT_RGB, dash: true },
        ];
    drawSeries(dom.tokens.canvas, { series, labels, cssW: width, cssH: 180, marked });
  }

  function drawParams(layer, width) {
    const gamma = arrays.get(`gamma.${layer}`);
    const beta = arrays.get(`beta.${layer}`);
    dom.gamma.box.hidden = !gamma;
    dom.beta.box.hidden = !beta;
    if (gamma) {
      dom.gamma.heading.textContent = `scale γ (${gamma.data.length} values)`;
      drawValues(dom.gamma.canvas, {
        values: gamma.data,
        rgb: [148, 103, 189],
        cssW: width,
        cssH: 110,
      });
    }
    if (beta) {
      dom.beta.heading.textContent = `shift β (${beta.data.length} values)`;
      drawValues(dom.beta.canvas, {
        values: beta.data,
        rgb: [140, 86, 75],
        cssW: width,
        cssH: 110,
      });
    }
  }

  function listOutliers(outIn, outOut) {
    const labels = model.get("tokens") ?? [];
    dom.outliers.replaceChildren();
    for (const [entry, side] of [
      [outIn, "input"],
      [outOut, "output"],
    ]) {
      for (let i = 0; entry && i < entry.shape[0]; i++) {
        const [t, d, v] = entry.data.subarray(3 * i, 3 * i + 3);
        const token = labels[t] !== undefined ? `"${displayLabel(labels[t])}" (${t})` : `${t}`;
        node(
          "li",
          "attnwidgets-outlier",
          dom.outliers,
          `${side}: token ${token} · dim ${d} · ${fmt(v)}`,
        );
      }
    }
    const count = dom.outliers.childElementCount;
    dom.outlierTitle.textContent = count
      ? `outliers (massive activations): ${count}`
      : "no outliers";
  }

  const onClick = (event) => {
    const rect = dom.summary.canvas.getBoundingClientRect();
    const picked = layerAt(event.clientX - rect.left);
    if (picked >= 0) {
      model.set("layer", picked);
      model.save_changes();
    }
  };
  const onLog = () => {
    model.set("log_counts", dom.log.checked);
    model.save_changes();
  };
  const onData = () => {
    decode();
    schedule();
  };
  const stops = [
    onChange(model, ["data"], onData),
    onChange(model, ["layer", "n_layers", "layer_names", "tokens", "log_counts"], schedule),
    onChange(model, ["hist_notes", "layer_kinds", "class_names"], schedule),
  ];
  dom.summary.canvas.addEventListener("click", onClick);
  dom.log.addEventListener("change", onLog);
  injectStyle(el, "attnwidgets-norms-style", BASE_CSS(ROOT));
  decode();
  draw();

  return () => {
    redraw.cancel();
    for (const stop of stops) stop();
    dom.root.remove();
  };
}

export default {
  /** @param {{ model: import("./shared/model.js").WidgetModel<NormModel>, el: HTMLElement }} props */
  render({ model, el }) {
    return createView(model, el);
  },
};
