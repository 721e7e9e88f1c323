// TrainingMonitorView (src/attnwidgets/widgets/norms/monitor.py): the latest (or a scrubbed)
// snapshot of every norm's histograms, the spread of every layer, and the loss curve.

/**
 * The model this view reads: the synced traits of TrainingMonitorView
 * (src/attnwidgets/widgets/norms/monitor.py). tests/python/test_js_contract.py checks these
 * names against the Python class and against every name the view's modules use.
 * @typedef {import("./shared/arrays.js").ArrayValue} ArrayValue
 * @typedef {import("./shared/arrays.js").PackedValue} PackedValue
 * @typedef {object} TrainingMonitorModel
 * @property {number} layer
 * @property {number} n_layers
 * @property {string[]} layer_names
 * @property {boolean} log_counts
 * @property {PackedValue} snapshot summary arrays, with step, index, live
 * @property {PackedValue} loss loss [n, 2] (step, value), with stride
 * @property {number} n_history
 * @property {number} steps_seen
 * @property {string} status
 */

import { normHeader } from "./norms/header.js";
import { drawHistogram, drawLoss, drawSpread, fmt, nonfiniteText } from "./norms/plots.js";
import { isEmpty, readPackedValue, row } from "./shared/arrays.js";
import { BASE_CSS, chart, injectStyle, node, widthOf } from "./shared/dom.js";
import { displayLabel } from "./shared/layout.js";
import { onChange } from "./shared/model.js";

const ROOT = "attnwidgets-monitor-view";

function buildDom(el) {
  const root = node("div", ROOT, el);
  const dom = { root, ...normHeader(root) };
  const grid = node("div", "attnwidgets-grid", root);
  dom.hist = chart(grid, "attnwidgets-norm-hist", "histogram");
  dom.loss = chart(grid, "attnwidgets-loss", "loss");
  dom.summary = chart(grid, "attnwidgets-norm-summary", "std of every layer: input vs output");
  dom.summary.canvas.style.cursor = "pointer";
  return dom;
}

function createView(model, el) {
  const dom = buildDom(el);
  let snapshot = new Map();
  let snapshotMeta = {};
  let loss = null;
  let problem = "";
  let layerAt = () => -1;
  let scheduled = false;
  let disposed = false;
  let frames = 0;

  const schedule = () => {
    if (scheduled || disposed) return;
    scheduled = true;
    // One draw per animation frame however many traits changed (updates arrive in bursts).
    const run = () => {
      scheduled = false;
      if (!disposed) draw();
    };
    if (globalThis.requestAnimationFrame && document.visibilityState === "visible") {
      requestAnimationFrame(run);
    } else queueMicrotask(run);
  };

  function decodeSnapshot() {
    try {
      const value = model.get("snapshot");
      ({ arrays: snapshot, meta: snapshotMeta } = isEmpty(value)
        ? { arrays: new Map(), meta: {} }
        : readPackedValue(value, "snapshot"));
      problem = "";
    } catch (err) {
      snapshot = new Map();
      snapshotMeta = {};
      problem = `snapshot: ${err.message}`;
    }
  }
  function decodeLoss() {
    try {
      const value = model.get("loss");
      loss = isEmpty(value) ? null : (readPackedValue(value, "loss").arrays.get("loss") ?? null);
    } catch (err) {
      loss = null;
      problem = `loss: ${err.message}`;
    }
  }

  function draw() {
    frames += 1;
    dom.root.dataset.frames = String(frames);
    const W = widthOf(el);
    const half = Math.floor((W - 16) / 2);
    const meta = snapshotMeta;
    const n = Number(model.get("n_layers")) || 0;
    const layer = Math.min(Math.max(0, Number(model.get("layer")) || 0), n - 1);
    const names = model.get("layer_names") ?? [];
    const hin = snapshot.get("hist_in");
    dom.log.checked = Boolean(model.get("log_counts"));
    const steps = loss ? Array.from({ length: loss.shape[0] }, (_, i) => loss.data[2 * i]) : [];
    const values = loss
      ? Array.from({ length: loss.shape[0] }, (_, i) => loss.data[2 * i + 1])
      : [];
    drawLoss(dom.loss.canvas, { steps, losses: values, cssW: half, cssH: 180 });
    const last = values.length ? fmt(values[values.length - 1]) : "–";
    dom.loss.heading.textContent = `loss (latest ${last})`;
    if (problem || !hin || layer < 0) {
      dom.root.dataset.state = problem ? "error" : "waiting";
      dom.title.textContent = `step ${model.get("steps_seen") ?? 0}`;
      dom.status.textContent = problem || model.get("status") || "waiting for the first capture";
      return;
    }
    const where = meta.live ? "live" : `history ${meta.index + 1} of ${model.get("n_history")}`;
    const name = displayLabel(names[layer] ?? "?");
    dom.title.textContent = `step ${meta.step} (${where}) · norm ${layer}: ${name}`;
    dom.root.dataset.step = String(meta.step);
    dom.root.dataset.layer = String(layer);
    const range = row(snapshot.get("range"), layer);
    drawHistogram(dom.hist.canvas, {
      hin: row(hin, layer),
      hout: row(snapshot.get("hist_out"), layer),
      lo: range[0],
      hi: range[1],
      log: dom.log.checked,
      cssW: half,
      cssH: 180,
    });
    layerAt = drawSpread(dom.summary.canvas, {
      spread: snapshot.get("spread").data,
      selected: layer,
      cssW: half,
      cssH: 150,
    });
    const nonfinite = Array.from(row(snapshot.get("nonfinite"), layer));
    const warnings = [nonfiniteText(nonfinite, "input"), nonfiniteText(nonfinite, "output")];
    const text = [model.get("status"), ...warnings].filter(Boolean).join(" · ");
    dom.status.textContent = text;
    dom.root.dataset.state = text ? "nonfinite" : "ready";
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
  const onSnapshot = () => {
    decodeSnapshot();
    schedule();
  };
  const onLoss = () => {
    decodeLoss();
    schedule();
  };
  const stops = [
    onChange(model, ["snapshot"], onSnapshot),
    onChange(model, ["loss"], onLoss),
    onChange(model, ["layer", "n_layers", "layer_names", "log_counts", "status"], schedule),
    onChange(model, ["n_history", "steps_seen"], schedule),
  ];
  dom.summary.canvas.addEventListener("click", onClick);
  dom.log.addEventListener("change", onLog);
  injectStyle(el, "attnwidgets-monitor-style", BASE_CSS(ROOT));
  decodeSnapshot();
  decodeLoss();
  draw();

  return () => {
    disposed = true;
    for (const stop of stops) stop();
    dom.root.remove();
  };
}

export default {
  /** @param {{ model: import("./shared/model.js").WidgetModel<TrainingMonitorModel>, el: HTMLElement }} props */
  render({ model, el }) {
    return createView(model, el);
  },
};
