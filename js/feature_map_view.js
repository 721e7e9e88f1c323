// SelectionList, the list beside a FeatureMap (src/attnwidgets/widgets/features/feature_map.py):
// legend, selected count, and each selected input (text snippet or image thumbnail). The plot
// itself is bqplot's; this view lists, and reads the brush rectangle or lasso off the figure
// beside it (js/features/selectors.js). Labels and texts are untrusted: textContent only.

/**
 * The model this view reads: the synced traits of SelectionList
 * (src/attnwidgets/widgets/features/feature_map.py). tests/python/test_js_contract.py checks
 * these names against the Python class and against every name the view's modules use.
 * @typedef {import("./shared/arrays.js").ArrayValue} ArrayValue
 * @typedef {{name: string, color: string, count: number}} LegendEntry
 * @typedef {{input_id: number, label: string, color: string, text: string, image?: number,
 *   height?: number, width?: number}} ListedInput text "" and image = index into thumbnails
 * @typedef {object} SelectionListModel
 * @property {string} title module path and how many inputs are drawn
 * @property {LegendEntry[]} legend one entry per class
 * @property {ListedInput[]} items the listed inputs (at most 60)
 * @property {ArrayValue} thumbnails uint8 [k, h, w, 3], or {} when no item is an image
 * @property {number} selected_count how many inputs are selected
 * @property {string} note shown instead of the hint when set (a saved page: no kernel)
 * @property {number[]} box brush rectangle, fractions [x0, y0, x1, y1] of the plot area, or []
 * @property {number[]} lasso last lasso, fractions [x0, y0, x1, y1, ...] of the plot area, or []
 */
// box / lasso: written by the view after each drag (0 = left / top of the plot area); [] from
// the kernel hides the brush rectangle / takes the lassos off the figure.

import { drawItems, drawLegend } from "./features/selection_list.js";
import { clearBrush, clearLassos, watchSelectors } from "./features/selectors.js";
import { lineText } from "./features/text.js";
import { injectStyle, node } from "./shared/dom.js";
import { onChange, setTrait } from "./shared/model.js";

const ROOT = "aw-feature-map";
const CSS = `
.${ROOT} { box-sizing: border-box; width: 340px; max-height: 520px; overflow-y: auto;
  padding: 4px 8px; font-family: var(--jp-ui-font-family, system-ui, sans-serif);
  font-size: var(--jp-ui-font-size1, 13px); color: var(--jp-ui-font-color1, #222); }
.${ROOT} .aw-fm-title { font-weight: 600; overflow-wrap: anywhere; }
.${ROOT} .aw-fm-legend { display: flex; flex-wrap: wrap; gap: 4px 10px; margin: 4px 0 8px; }
.${ROOT} .aw-fm-legend-entry { display: inline-flex; align-items: center; gap: 4px; }
.${ROOT} .aw-fm-swatch { width: 10px; height: 10px; border-radius: 50%; display: inline-block; }
.${ROOT} .aw-fm-count, .${ROOT} .aw-fm-id { color: var(--jp-ui-font-color2, #777); }
.${ROOT} .aw-fm-status { margin: 4px 0; color: var(--jp-ui-font-color2, #555); }
.${ROOT} .aw-fm-item { display: flex; align-items: flex-start; gap: 6px; padding: 3px 0;
  border-top: 1px solid var(--jp-border-color2, #eee); }
.${ROOT} .aw-fm-badge { border-left: 4px solid; padding-left: 4px; white-space: nowrap; }
.${ROOT} .aw-fm-text { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 11px;
  font-family: var(--jp-code-font-family, monospace); flex: 1; }
.${ROOT} .aw-fm-thumb { image-rendering: pixelated; border: 1px solid #ddd; }
`;

function render({ model, el }) {
  injectStyle(el, `${ROOT}-style`, CSS);
  const root = node("div", ROOT, el);
  const title = node("div", "aw-fm-title", root);
  const legend = node("div", "aw-fm-legend", root);
  const status = node("div", "aw-fm-status", root);
  status.setAttribute("role", "status");
  const list = node("div", "aw-fm-items", root);
  const draw = () => {
    title.textContent = lineText(model.get("title"));
    drawLegend(legend, model.get("legend"));
    const count = model.get("selected_count");
    const items = model.get("items") ?? [];
    const note = model.get("note");
    status.textContent = note
      ? lineText(note)
      : count === 0
        ? "Drag on the plot to select inputs."
        : `${count} selected${count > items.length ? `, first ${items.length} listed` : ""}`;
    drawItems(list, items, model.get("thumbnails"));
  };
  const stop = onChange(
    model,
    ["title", "legend", "items", "thumbnails", "selected_count", "note"],
    draw,
  );
  draw();
  const unwatch = watchSelectors(
    el,
    (box) => setTrait(model, "box", box),
    (polygon) => setTrait(model, "lasso", polygon),
  );
  const stopLasso = onChange(model, ["lasso"], () => {
    if (!(model.get("lasso") ?? []).length) clearLassos(el);
  });
  const stopBox = onChange(model, ["box"], () => {
    if (!(model.get("box") ?? []).length) clearBrush(el);
  });
  return () => {
    stop();
    unwatch();
    stopLasso();
    stopBox();
  };
}

export default { render };
