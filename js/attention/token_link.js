// The attention view's half of the linked hover (the Tokens tab of run.show(), a
// TokenizerView, holds the other half): `hover_token` is the token under the pointer in either
// view. Here it is drawn as a band over its query row and key column, and its axis labels are
// marked; moving the pointer over a heatmap row, or over a query or key label, sets it. The
// view calls link.draw(layout, view) after drawing its labels.

import { injectStyle } from "../shared/dom.js";

const STYLE_ID = "attnwidgets-hover-link-style";
const CSS = `
.attnwidgets-linked-band { position: absolute; pointer-events: none; box-sizing: border-box;
  background: rgba(255, 138, 101, 0.18); border: 1px solid rgb(191, 54, 12); }
.attnwidgets-label.attnwidgets-label-linked { background: rgb(255, 138, 101); color: #000;
  font-weight: 600; }
`;

function band(parent) {
  const div = parent.ownerDocument.createElement("div");
  div.className = "attnwidgets-linked-band";
  div.hidden = true;
  parent.appendChild(div);
  return div;
}

function place(div, left, top, width, height) {
  div.style.left = `${left}px`;
  div.style.top = `${top}px`;
  div.style.width = `${Math.max(2, width)}px`;
  div.style.height = `${Math.max(2, height)}px`;
  div.hidden = false;
}

/**
 * Link `model`'s hover_token to the attention view drawn in `dom` (root, body, canvas,
 * queries, keys). Returns {draw(layout, view), dispose()}: draw after the labels are drawn
 * (layout: marginLeft/Top, heatW/H, cellW/H, queryStep, keyStep; view: q0, q1, k0, k1).
 */
export function linkHoverToken(model, dom) {
  injectStyle(dom.root, STYLE_ID, CSS);
  const row = band(dom.body);
  const col = band(dom.body);
  let layout = null;
  let region = null;

  function mark(box, index, first, step) {
    const labels = box.children;
    for (const label of labels) label.classList.remove("attnwidgets-label-linked");
    if (index < 0 || (index - first) % step !== 0) return;
    labels[(index - first) / step]?.classList.add("attnwidgets-label-linked");
  }

  function show() {
    const t = Number(model.get("hover_token"));
    dom.root.dataset.hoverToken = String(t);
    row.hidden = true;
    col.hidden = true;
    if (!layout || !region) return;
    const V = layout;
    const v = region;
    const inRows = t >= v.q0 && t < v.q1;
    const inCols = t >= v.k0 && t < v.k1;
    mark(dom.queries, inRows ? t : -1, v.q0, V.queryStep || 1);
    mark(dom.keys, inCols ? t : -1, v.k0, V.keyStep || 1);
    if (inRows) place(row, 0, V.marginTop + (t - v.q0) * V.cellH, V.marginLeft + V.heatW, V.cellH);
    if (inCols) place(col, V.marginLeft + (t - v.k0) * V.cellW, 0, V.cellW, V.marginTop + V.heatH);
  }

  // Set in the page only: ipywidgets.jslink reacts to the change event and saves the other
  // side; the kernel need not hear of every row the pointer crosses on the heatmap.
  function set(t) {
    if (Number(model.get("hover_token")) === t) return;
    model.set("hover_token", t);
  }

  const onCanvas = (event) => {
    if (!layout || !region) return;
    const rect = dom.canvas.getBoundingClientRect();
    const r = Math.floor((event.clientY - rect.top) / layout.cellH);
    if (r >= 0 && region.q0 + r < region.q1) set(region.q0 + r);
  };
  const onLabel = (box, first, stepOf) => (event) => {
    const label = event.target?.closest?.(".attnwidgets-label");
    if (!label || label.parentNode !== box || !layout) return;
    const index = Array.prototype.indexOf.call(box.children, label);
    set(first() + index * stepOf());
  };
  const onQueries = onLabel(
    dom.queries,
    () => region?.q0 ?? 0,
    () => layout?.queryStep || 1,
  );
  const onKeys = onLabel(
    dom.keys,
    () => region?.k0 ?? 0,
    () => layout?.keyStep || 1,
  );
  const listeners = [
    [dom.canvas, "pointermove", onCanvas],
    [dom.queries, "pointermove", onQueries],
    [dom.keys, "pointermove", onKeys],
  ];
  for (const [target, name, fn] of listeners) target.addEventListener(name, fn);
  model.on("change:hover_token", show);

  return {
    draw(nextLayout, nextRegion) {
      layout = nextLayout;
      region = { ...nextRegion };
      show();
    },
    dispose() {
      model.off("change:hover_token", show);
      for (const [target, name, fn] of listeners) target.removeEventListener(name, fn);
      row.remove();
      col.remove();
    },
  };
}
