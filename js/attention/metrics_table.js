// Per-head metrics (computed in the kernel) as a sortable table: one row per layer x head,
// a bar behind each number. Click a column header to sort, a row to open that head.

import { isEmpty, readArray } from "../shared/arrays.js";

/** The metrics trait as {layers, heads, names, values: Float32Array} or null. */
export function readMetrics(payload) {
  if (isEmpty(payload) || payload.dtype !== "float32" || payload.shape?.length !== 3) return null;
  let read;
  try {
    read = readArray(payload, "metrics");
  } catch {
    return null;
  }
  const [layers, heads, count] = read.shape;
  const names = read.meta.names ?? [];
  if (names.length !== count) return null;
  return { layers, heads, names, values: read.data };
}

/** Rows {layer, head, values: [...]} sorted by column `key` ("layer" or a metric name). */
export function sortedRows(metrics, key, descending) {
  const { layers, heads, names, values } = metrics;
  const rows = [];
  for (let l = 0; l < layers; l++) {
    for (let h = 0; h < heads; h++) {
      const start = (l * heads + h) * names.length;
      rows.push({
        layer: l,
        head: h,
        values: Array.from(values.subarray(start, start + names.length)),
      });
    }
  }
  const index = names.indexOf(key);
  if (index < 0) return descending ? rows.reverse() : rows;
  const sign = descending ? -1 : 1;
  const value = (row) => (Number.isFinite(row.values[index]) ? row.values[index] : -Infinity);
  return rows.sort((a, b) => sign * (value(a) - value(b)) || a.layer - b.layer || a.head - b.head);
}

function cell(doc, tag, text) {
  const n = doc.createElement(tag);
  n.textContent = text;
  return n;
}

/**
 * Fill `table` with the metrics, sorted by `sort = {key, descending}`; onSort(key) when a
 * header is clicked, onPick(layer, head) when a row is, onCompare(layer, head, on) when its
 * compare box is ticked (`compared`: [[layer, head], ...] ticked now). Marks the selected head.
 */
export function drawMetricsTable(table, metrics, options) {
  const { sort, selected, onSort, onPick, compared = [], onCompare } = options;
  const doc = table.ownerDocument;
  const head = doc.createElement("tr");
  for (const key of ["layer", ...metrics.names]) {
    const th = cell(doc, "th", key);
    th.dataset.key = key;
    if (sort.key === key) th.textContent = `${key} ${sort.descending ? "▼" : "▲"}`;
    th.addEventListener("click", () => onSort(key));
    head.appendChild(th);
  }
  head.appendChild(cell(doc, "th", "compare"));
  const highs = metrics.names.map((_, i) => {
    let hi = 0;
    for (let j = i; j < metrics.values.length; j += metrics.names.length) {
      if (Number.isFinite(metrics.values[j])) hi = Math.max(hi, Math.abs(metrics.values[j]));
    }
    return hi || 1;
  });
  const body = sortedRows(metrics, sort.key, sort.descending).map((row) => {
    const tr = doc.createElement("tr");
    tr.dataset.layer = row.layer;
    tr.dataset.head = row.head;
    if (selected?.layer === row.layer && selected?.head === row.head) tr.className = "selected";
    tr.appendChild(cell(doc, "td", `L${row.layer} H${row.head}`));
    row.values.forEach((v, i) => {
      const td = cell(doc, "td", Number.isFinite(v) ? v.toFixed(3) : "–");
      const pct = Number.isFinite(v) ? Math.round((100 * Math.abs(v)) / highs[i]) : 0;
      td.style.background = `linear-gradient(90deg, rgba(49,104,142,0.35) ${pct}%, transparent ${pct}%)`;
      tr.appendChild(td);
    });
    const box = doc.createElement("input");
    box.type = "checkbox";
    box.className = "attnwidgets-compare-pick";
    box.checked = compared.some(([l, h]) => l === row.layer && h === row.head);
    box.addEventListener("click", (event) => {
      event.stopPropagation(); // ticking a head to compare does not open it
      onCompare?.(row.layer, row.head, box.checked);
    });
    const td = doc.createElement("td");
    td.appendChild(box);
    tr.appendChild(td);
    tr.addEventListener("click", () => onPick(row.layer, row.head));
    return tr;
  });
  const thead = doc.createElement("thead");
  thead.appendChild(head);
  const tbody = doc.createElement("tbody");
  tbody.append(...body);
  table.replaceChildren(thead, tbody);
}
