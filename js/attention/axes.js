// Axis titles (query rows, key columns) and the marks of generated tokens: their labels in
// another colour and a divider line in the heatmap after the prompt (trait `generated_from`:
// the first generated position, -1 for none). The titles sit in a strip of AXIS_TITLE px that
// computeLayout keeps left of the query labels and above the key labels.

import { place } from "../shared/heatmap.js";
import { AXIS_TITLE } from "../shared/layout.js";

export function createAxes(dom) {
  const query = document.createElement("div");
  query.className = "attnwidgets-axis-title attnwidgets-axis-title-query";
  query.textContent = "query";
  query.title = "rows: the queries (each row is one token attending)";
  const key = document.createElement("div");
  key.className = "attnwidgets-axis-title attnwidgets-axis-title-key";
  key.textContent = "key";
  key.title = "columns: the keys (the tokens attended to)";
  const rowLine = document.createElement("div");
  rowLine.className = "attnwidgets-prompt-divider attnwidgets-prompt-divider-row";
  const colLine = document.createElement("div");
  colLine.className = "attnwidgets-prompt-divider attnwidgets-prompt-divider-col";
  rowLine.hidden = true;
  colLine.hidden = true;
  dom.body.append(query, key, rowLine, colLine);

  /** Place the titles for layout V (the region `view` shown); mark generated tokens. */
  function draw(V, view, generatedFrom) {
    place(query, 0, V.marginTop, AXIS_TITLE, V.heatH);
    place(key, V.marginLeft, 0, V.heatW, AXIS_TITLE);
    // Long inputs label every step-th token only: the title is then a position ruler.
    query.textContent = axisTitle("query", view.q0, view.q1, V.queryStep);
    key.textContent = axisTitle("key", view.k0, view.k1, V.keyStep);
    const g = Number(generatedFrom);
    const marked = Number.isInteger(g) && g > 0;
    markLabels(dom.queries, view.q0, V.queryStep, marked ? g : Infinity);
    markLabels(dom.keys, view.k0, V.keyStep, marked ? g : Infinity);
    const rows = view.q1 - view.q0;
    const cols = view.k1 - view.k0;
    rowLine.hidden = !(marked && g > view.q0 && g < view.q1);
    colLine.hidden = !(marked && g > view.k0 && g < view.k1);
    if (!rowLine.hidden) {
      place(rowLine, V.marginLeft, V.marginTop + ((g - view.q0) * V.heatH) / rows - 1, V.heatW, 2);
    }
    if (!colLine.hidden) {
      place(colLine, V.marginLeft + ((g - view.k0) * V.heatW) / cols - 1, V.marginTop, 2, V.heatH);
    }
  }

  return { draw };
}

/**
 * "query", or with labels on every step-th token only, the positions shown and the step:
 * "query 0–32,767 · every 59th labelled".
 */
export function axisTitle(name, first, stop, step) {
  if (!(step > 1)) return name;
  const n = (v) => v.toLocaleString("en-US");
  return `${name} ${n(first)}–${n(stop - 1)} · every ${n(step)}th labelled`;
}

/** Labels are drawn every `step`-th token from `first`: those at or after `from` are marked. */
function markLabels(box, first, step, from) {
  Array.from(box.children).forEach((span, i) => {
    const generated = first + i * step >= from;
    span.classList.toggle("attnwidgets-generated", generated);
  });
}
