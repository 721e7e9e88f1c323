// The view's stylesheet and DOM skeleton (class names are the contract tests select by).

import { NAN_RGB } from "../shared/colormap.js";
import { injectStyle as injectStyleOnce, node } from "../shared/dom.js";
import { SENTENCE_FILTERS } from "./sentences.js";

export const ROOT = "attnwidgets-attention";
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
.${ROOT} .attnwidgets-nan-swatch { display: inline-block; width: 10px; height: 10px;
  margin-right: 3px; vertical-align: -1px; border: 1px solid var(--jp-border-color2, #ddd); }
.${ROOT}:focus { outline: none; }
.${ROOT}:focus-visible { outline: 2px solid var(--jp-brand-color1, #1976d2); }
.${ROOT} .attnwidgets-toolbar { display: flex; gap: 6px; margin-top: 8px; }
.${ROOT} .attnwidgets-toggle[aria-pressed="true"] { font-weight: 600; }
.${ROOT} .attnwidgets-overview-grid { position: relative; margin-top: 6px; }
.${ROOT} .attnwidgets-thumbnails { display: block; cursor: pointer; image-rendering: pixelated; }
.${ROOT} .attnwidgets-thumb-selected { position: absolute; pointer-events: none;
  box-sizing: border-box; border: 2px solid #e4572e; }
.${ROOT} .attnwidgets-metrics-scroll { max-height: 320px; overflow: auto; margin-top: 6px; }
.${ROOT} .attnwidgets-metrics-table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
.${ROOT} .attnwidgets-metrics-table th { cursor: pointer; position: sticky; top: 0;
  background: var(--jp-layout-color1, #fff); text-align: right; padding: 2px 6px; }
.${ROOT} .attnwidgets-metrics-table td { text-align: right; padding: 1px 6px; cursor: pointer; }
.${ROOT} .attnwidgets-metrics-table tr.selected td { outline: 1px solid #e4572e; }
.${ROOT} .attnwidgets-locked-row { position: absolute; pointer-events: none;
  box-sizing: border-box; border: 2px solid #e4572e; }
.${ROOT} .attnwidgets-focus-text { min-height: 1.3em; white-space: pre-wrap; overflow-wrap: anywhere; }
.${ROOT} .attnwidgets-focus canvas { display: block; cursor: pointer; image-rendering: pixelated;
  margin-bottom: 6px; }
.${ROOT} .attnwidgets-token-lines { display: block; margin-top: 4px; }
.${ROOT} .attnwidgets-lines { margin-top: 6px; }
.${ROOT} .attnwidgets-compare { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 6px; }
.${ROOT} .attnwidgets-compare-head { margin: 0; }
.${ROOT} .attnwidgets-compare-head figcaption { font-size: 11px; }
.${ROOT} .attnwidgets-compare-canvas { display: block; cursor: pointer; image-rendering: pixelated; }
.${ROOT} .attnwidgets-focus-title { font-weight: 600; margin-top: 8px; }
.${ROOT} .attnwidgets-focus-label { font-size: 11px; color: #555; }
.${ROOT} .attnwidgets-live { display: flex; flex-wrap: wrap; align-items: center; gap: 6px;
  margin-bottom: 6px; }
.${ROOT} .attnwidgets-text { flex: 1 1 240px; min-width: 120px; font: inherit; padding: 2px 4px; }
.${ROOT} .attnwidgets-new-tokens { width: 4.5em; font: inherit; }
.${ROOT} .attnwidgets-live-status { color: var(--jp-ui-font-color2, #555); }
.${ROOT} .attnwidgets-live[data-state="error"] .attnwidgets-live-status {
  color: var(--jp-error-color1, #d32f2f); }
.${ROOT} .attnwidgets-axis-title { position: absolute; overflow: hidden; white-space: nowrap;
  text-align: center; font-size: 11px; line-height: 14px; color: var(--jp-ui-font-color2, #555); }
.${ROOT} .attnwidgets-axis-title-query { writing-mode: vertical-rl; transform: rotate(180deg); }
.${ROOT} .attnwidgets-label.attnwidgets-generated { color: rgb(194, 24, 91); font-weight: 600; }
.${ROOT} .attnwidgets-prompt-divider { position: absolute; pointer-events: none;
  background: #fff; box-shadow: 0 0 0 1px rgba(0, 0, 0, 0.55); }
.${ROOT} .attnwidgets-thumb-label { position: absolute; overflow: hidden; white-space: nowrap;
  font-size: 10px; line-height: 14px; color: var(--jp-ui-font-color2, #555); }
.${ROOT} .attnwidgets-thumb-layer { text-align: right; }
.${ROOT} .attnwidgets-stack-bar { margin-bottom: 4px; }
.${ROOT} .attnwidgets-label-note { color: var(--jp-ui-font-color2, #555); font-size: 12px; }
.${ROOT} textarea.attnwidgets-text { resize: vertical; line-height: 1.3; }
.${ROOT} [hidden] { display: none !important; }
`;

/** Add the view's stylesheet once per document (or shadow root). */
export function injectStyle(el) {
  injectStyleOnce(el, STYLE_ID, CSS);
}

export function buildDom(el) {
  const root = node("div", ROOT, el);
  root.tabIndex = 0; // arrow keys step head (left/right) and layer (up/down)
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
  dom.lockedRow = node("div", "attnwidgets-locked-row", dom.body);
  dom.lockedRow.hidden = true;
  dom.tooltip = node("div", "attnwidgets-tooltip", dom.body);
  dom.tooltip.hidden = true;
  dom.cursor.hidden = true;
  const legend = node("div", "attnwidgets-legend", root);
  dom.lo = node("span", "attnwidgets-min", legend);
  dom.colorbar = node("canvas", "attnwidgets-colorbar", legend);
  dom.hi = node("span", "attnwidgets-max", legend);
  dom.valueLabel = node("span", "attnwidgets-value-label", legend);
  // Shown when the head drawn holds NaN: its cells have their own colour, outside the map.
  dom.nanKey = node("span", "attnwidgets-nan-key", legend);
  dom.nanKey.title = "cells in this colour are NaN (not a number): the forward produced them";
  dom.nanKey.hidden = true;
  node("span", "attnwidgets-nan-swatch", dom.nanKey).style.background = `rgb(${NAN_RGB})`;
  dom.nanKey.append("NaN");
  dom.scale = node("select", "attnwidgets-scale", legend);
  dom.scale.title = "colour scale";
  for (const name of ["linear", "log", "row"]) {
    const option = node("option", null, dom.scale);
    option.value = name;
    option.textContent = name === "row" ? "per row" : name;
  }
  // Which numbers are shown (probability / scores / scaled / masked): filled from
  // available_kinds, hidden when there is only one.
  dom.kind = node("select", "attnwidgets-kind", legend);
  dom.kind.title = "values shown";
  dom.kind.hidden = true;
  // bertviz's sentence pair filter: shown when sentence_b_start splits the tokens.
  dom.sentence = node("select", "attnwidgets-sentence", legend);
  dom.sentence.title = "sentence pair shown (queries → keys)";
  dom.sentence.hidden = true;
  for (const [value, label] of SENTENCE_FILTERS)
    node("option", null, dom.sentence, label).value = value;
  dom.focusText = node("div", "attnwidgets-focus-text", root);
  return dom;
}
