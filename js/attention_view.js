// AttentionView: one head of one layer as a canvas heatmap (docs/architecture.md).
// Token labels are untrusted: they only ever reach the page through textContent / title.

import { LayerStore } from "./lib/cache.js";
import { decodeHead, splitChunk, valueRange } from "./lib/decode.js";
import { drawAxisLabels, drawColorbar, drawHeatmap, place } from "./lib/heatmap.js";
import { cellAt, clampIndex, computeLayout, truncateLabel, viewWidth } from "./lib/layout.js";

const ROOT = "attnwidgets-attention";
const STYLE_ID = "attnwidgets-attention-style";
const CSS = `
.${ROOT} { box-sizing: border-box; max-width: 100%; padding: 4px 0;
  font-family: var(--jp-ui-font-family, system-ui, sans-serif);
  font-size: var(--jp-ui-font-size1, 13px); color: var(--jp-ui-font-color1, #222); }
.${ROOT} .attnwidgets-title { font-weight: 600; overflow-wrap: anywhere; }
.${ROOT} .attnwidgets-status { min-height: 1.3em; color: var(--jp-warn-color0, #a15c00); }
.${ROOT} .attnwidgets-body { position: relative; }
.${ROOT} .attnwidgets-heatmap { position: absolute; display: block; cursor: crosshair;
  image-rendering: pixelated; }
.${ROOT} .attnwidgets-axis { position: absolute; }
.${ROOT} .attnwidgets-label { position: absolute; overflow: hidden; white-space: pre;
  text-overflow: ellipsis; }
.${ROOT} .attnwidgets-qlabel { left: 0; text-align: right; }
.${ROOT} .attnwidgets-klabel { bottom: 0; writing-mode: vertical-rl; transform: rotate(180deg); }
.${ROOT} .attnwidgets-tooltip { position: absolute; z-index: 10; pointer-events: none;
  padding: 3px 6px; border: 1px solid var(--jp-border-color1, #bbb); border-radius: 3px;
  background: var(--jp-layout-color1, #fff); box-shadow: 0 1px 4px rgba(0, 0, 0, 0.2);
  white-space: pre; font-variant-numeric: tabular-nums; }
.${ROOT} .attnwidgets-cursor { position: absolute; pointer-events: none;
  outline: 1px solid #fff; box-shadow: 0 0 0 2px rgba(0, 0, 0, 0.6); }
.${ROOT} .attnwidgets-legend { display: flex; align-items: center; gap: 6px; margin-top: 6px;
  font-variant-numeric: tabular-nums; }
.${ROOT} .attnwidgets-colorbar { display: block; border: 1px solid var(--jp-border-color2, #ddd); }
.${ROOT} [hidden] { display: none !important; }
`;

/** Add the stylesheet once per document (or shadow root, for hosts that use one). */
function injectStyle(el) {
  const root = el.getRootNode?.();
  const host = root instanceof ShadowRoot ? root : document.head;
  if (host.querySelector(`#${STYLE_ID}`)) return;
  const style = document.createElement("style");
  style.id = STYLE_ID;
  style.textContent = CSS;
  host.appendChild(style);
}

function node(tag, className, parent) {
  const n = document.createElement(tag);
  if (className) n.className = className;
  if (parent) parent.appendChild(n);
  return n;
}

function buildDom(el) {
  const root = node("div", ROOT, el);
  const dom = { root };
  dom.title = node("div", "attnwidgets-title", root);
  dom.status = node("div", "attnwidgets-status", root);
  dom.status.setAttribute("role", "status");
  dom.body = node("div", "attnwidgets-body", root);
  dom.keys = node("div", "attnwidgets-axis attnwidgets-keys", dom.body);
  dom.queries = node("div", "attnwidgets-axis attnwidgets-queries", dom.body);
  dom.canvas = node("canvas", "attnwidgets-heatmap", dom.body);
  dom.canvas.setAttribute("role", "img");
  dom.cursor = node("div", "attnwidgets-cursor", dom.body);
  dom.tooltip = node("div", "attnwidgets-tooltip", dom.body);
  dom.tooltip.hidden = true;
  dom.cursor.hidden = true;
  const legend = node("div", "attnwidgets-legend", root);
  dom.lo = node("span", "attnwidgets-min", legend);
  dom.colorbar = node("canvas", "attnwidgets-colorbar", legend);
  dom.hi = node("span", "attnwidgets-max", legend);
  dom.valueLabel = node("span", "attnwidgets-value-label", legend);
  return dom;
}

function formatBound(v) {
  return String(Number(v.toPrecision(3)));
}

function createView(model, el) {
  const dom = buildDom(el);
  let shown = null; // what the canvas holds: {entry, head, values, layout, nQ, nK}
  let scheduled = false;
  let disposed = false;
  let drawnWidth = -1;

  const schedule = () => {
    if (scheduled || disposed) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      if (!disposed) draw();
    });
  };
  const store = new LayerStore({ send: (content) => model.send(content), onChange: schedule });

  // A new chunk means new data: forget every layer and every request in flight.
  function resetStore() {
    try {
      store.reset(splitChunk(model.get("chunk"), model.get("chunk_meta")));
    } catch (err) {
      store.reset([]);
      store.notice = `chunk: ${err.message}`;
    }
    shown = null;
  }
  const onChunk = () => {
    resetStore();
    schedule();
  };
  const onResize = () => {
    if (viewWidth(el.clientWidth) !== drawnWidth) schedule();
  };

  function setStatus(state, text) {
    dom.root.dataset.state = state;
    dom.status.textContent = text;
  }

  function draw() {
    const nLayers = Number(model.get("n_layers")) || 0;
    const layer = clampIndex(model.get("layer"), nLayers);
    const queryTokens = model.get("query_tokens") ?? [];
    const keyTokens = model.get("key_tokens") ?? [];
    const nQ = queryTokens.length;
    const nK = keyTokens.length;
    const L = computeLayout({ width: viewWidth(el.clientWidth), queryTokens, keyTokens });
    const dpr = globalThis.devicePixelRatio || 1;
    drawnWidth = L.width;
    dom.root.style.width = `${L.width}px`;
    dom.body.style.height = `${L.marginTop + L.heatH + L.fontPx}px`; // room for the last label
    place(dom.canvas, L.marginLeft, L.marginTop, L.heatW, L.heatH);
    drawAxisLabels(dom.queries, dom.keys, L, queryTokens, keyTokens);
    hideHover();

    if (layer >= 0) store.ensure(layer);
    const status = layer >= 0 ? store.status(layer) : {};
    const entry = status.entry;
    const nHeads = entry ? entry.shape[0] : Number(model.get("n_heads")) || 0;
    const head = clampIndex(model.get("head"), nHeads);
    updateTitle(layer, head);
    dom.root.dataset.layer = layer;
    dom.root.dataset.head = head;

    let problem = null;
    if (layer < 0) problem = "no layers to show";
    else if (!entry) problem = status.error ?? `loading layer ${layer}…`;
    else if (entry.shape[1] !== nQ || entry.shape[2] !== nK) {
      problem = `layer ${layer} has shape [${entry.shape}] but there are ${nQ} x ${nK} tokens`;
    } else if (head < 0) problem = "no heads to show";
    const notice = store.notice ? [store.notice] : [];
    if (problem) {
      shown = null; // never leave another layer's picture under this title
      drawHeatmap(dom.canvas, { nQ: 0, nK: 0, cssW: L.heatW, cssH: L.heatH, dpr });
      setStatus(status.loading ? "loading" : "error", [...notice, problem].join(" · "));
      return;
    }
    const values =
      shown?.entry === entry && shown.head === head ? shown.values : decodeHead(entry, head);
    const [lo, hi] = valueRange(entry);
    drawHeatmap(dom.canvas, { values, nQ, nK, lo, hi, cssW: L.heatW, cssH: L.heatH, dpr });
    drawColorbar(dom.colorbar, { cssW: Math.min(200, Math.max(60, L.heatW / 2)), cssH: 10, dpr });
    dom.lo.textContent = formatBound(lo);
    dom.hi.textContent = formatBound(hi);
    dom.valueLabel.textContent = model.get("value_label") || "";
    dom.canvas.setAttribute("aria-label", `attention of head ${head} in layer ${layer}`);
    shown = { entry, head, values, layout: L, nQ, nK, queryTokens, keyTokens };
    setStatus(notice.length ? "error" : "ready", notice.join(""));
  }

  function updateTitle(layer, head) {
    if (layer < 0) {
      dom.title.textContent = "no layers";
      return;
    }
    const name = model.get("layer_names")?.[layer];
    const headText = head >= 0 ? ` · head ${head}` : "";
    dom.title.textContent = `layer ${layer}${name ? ` (${name})` : ""}${headText}`;
  }

  function hideHover() {
    dom.tooltip.hidden = true;
    dom.cursor.hidden = true;
  }

  function onMove(event) {
    if (!shown) return hideHover();
    const rect = dom.canvas.getBoundingClientRect();
    const x = event.clientX - rect.left;
    const y = event.clientY - rect.top;
    const { layout: L, nQ, nK, values, queryTokens, keyTokens } = shown;
    const cell = cellAt(L, x, y, nQ, nK);
    if (!cell) return hideHover();
    const value = values[cell.row * nK + cell.col];
    const label = model.get("value_label") || "value";
    const q = truncateLabel(queryTokens[cell.row], 40);
    const k = truncateLabel(keyTokens[cell.col], 40);
    dom.tooltip.textContent = `query: ${q} → key: ${k}\n${label}: ${value.toFixed(3)}`;
    dom.tooltip.hidden = false;
    const tipW = dom.tooltip.offsetWidth;
    let left = L.marginLeft + x + 14;
    if (left + tipW > L.width) left = Math.max(0, L.marginLeft + x - tipW - 14);
    dom.tooltip.style.left = `${left}px`;
    dom.tooltip.style.top = `${L.marginTop + y + 14}px`;
    place(
      dom.cursor,
      L.marginLeft + cell.col * L.cellW,
      L.marginTop + cell.row * L.cellH,
      L.cellW,
      L.cellH,
    );
    dom.cursor.hidden = L.cellW < 4 || L.cellH < 4;
  }

  const onMessage = (msg, buffers) => store.handleMessage(msg, buffers);
  const events = [
    ["change:chunk", onChunk],
    ["change:chunk_meta", onChunk],
    ["msg:custom", onMessage],
  ];
  const redrawOn = ["layer", "head", "n_layers", "n_heads", "layer_names", "value_label"];
  redrawOn.push("query_tokens", "key_tokens");
  for (const name of redrawOn) events.push([`change:${name}`, schedule]);
  for (const [name, fn] of events) model.on(name, fn);
  dom.canvas.addEventListener("mousemove", onMove);
  dom.canvas.addEventListener("mouseleave", hideHover);
  const resize = globalThis.ResizeObserver ? new ResizeObserver(onResize) : null;
  resize?.observe(el);

  injectStyle(el);
  resetStore();
  draw();

  return () => {
    disposed = true;
    for (const [name, fn] of events) model.off(name, fn);
    resize?.disconnect();
    store.dispose();
    dom.root.remove();
  };
}

export default {
  render({ model, el }) {
    return createView(model, el);
  },
};
