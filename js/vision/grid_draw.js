// PredictionGridView's DOM: the filter selects and pager, thumbnails (one canvas and one
// putImageData each), the top-k panel and the confusion matrix. Class names are untrusted:
// textContent / title only.

import { cellColour, cellInk, thumbPixels, topOf, WRONG_RGB } from "./grid_data.js";
import { element, shortLabel, shownLabel } from "./labels.js";

const P = "attnwidgets-grid";

function option(select, value, text) {
  const node = element("option", null, select, text);
  node.value = String(value);
  return node;
}

/** Selects (true class, predicted class, right/wrong), a clear button and the pager.
 * `on(name, value)` is called with the trait to set. Returns {sync(state, shown, page)}. */
export function buildControls(parent, names, on) {
  const bar = element("div", `${P}-controls`, parent);
  const pick = (label, cls, choices, trait) => {
    const wrap = element("label", `${P}-control`, bar, label);
    const select = element("select", cls, wrap);
    for (const [value, text] of choices) option(select, value, text);
    select.addEventListener("change", () => {
      const v = select.value;
      on(trait, trait === "correctness" ? v : Number(v));
    });
    return select;
  };
  const classes = names.map((name, i) => [i, shortLabel(name, 28)]);
  const trueSelect = pick("true ", `${P}-true-class`, [[-1, "any"], ...classes], "true_class");
  const predSelect = pick(
    "predicted ",
    `${P}-pred-class`,
    [[-1, "any"], ...classes],
    "predicted_class",
  );
  const rightSelect = pick(
    "",
    `${P}-correctness`,
    [
      ["all", "right and wrong"],
      ["wrong", "wrong only"],
      ["right", "right only"],
    ],
    "correctness",
  );
  const clear = element("button", `${P}-clear`, bar, "clear filters");
  clear.type = "button";
  clear.addEventListener("click", () => on("clear", null));
  const pager = element("span", `${P}-pager`, bar);
  const prev = element("button", `${P}-prev`, pager, "‹ prev");
  prev.type = "button";
  const text = element("span", `${P}-page-text`, pager);
  const next = element("button", `${P}-next`, pager, "next ›");
  next.type = "button";
  let current = 0;
  prev.addEventListener("click", () => on("page", current - 1));
  next.addEventListener("click", () => on("page", current + 1));
  return {
    sync(s, shown, page, total) {
      trueSelect.value = String(s.true_class);
      predSelect.value = String(s.predicted_class);
      rightSelect.value = s.correctness;
      current = page.page;
      prev.disabled = page.page <= 0;
      next.disabled = page.page >= page.pages - 1;
      const range = shown ? `${page.start + 1}–${page.end} of ${shown}` : "none";
      text.textContent = ` page ${page.page + 1} of ${page.pages} · ${range} (${total} images) `;
    },
  };
}

/** One thumbnail: a figure holding a canvas (the image in its frame) and two caption lines. */
export function buildThumb(parent, { images, pred, names, index, size, dpr }) {
  const wrong = pred.labels[index] !== pred.predicted[index];
  const figure = element("figure", `${P}-item${wrong ? " is-wrong" : ""}`, parent);
  figure.dataset.index = String(index);
  figure.tabIndex = 0;
  const canvas = element("canvas", `${P}-thumb`, figure);
  const side = Math.round(size * dpr);
  canvas.width = side;
  canvas.height = side;
  canvas.style.width = `${size}px`;
  canvas.style.height = `${size}px`;
  const border = Math.max(2, Math.round(3 * dpr));
  const rgba = thumbPixels(images, index, side, border, wrong ? WRONG_RGB : null);
  canvas.getContext("2d").putImageData(new ImageData(rgba, side, side), 0, 0);
  const top = pred.probabilities[index * pred.k];
  const predicted = names[pred.predicted[index]] ?? String(pred.predicted[index]);
  const truth = names[pred.labels[index]] ?? String(pred.labels[index]);
  const caption = element("figcaption", `${P}-caption`, figure);
  caption.style.width = `${size}px`;
  element("div", `${P}-pred`, caption, `${shortLabel(predicted, 14)} ${Math.round(top * 100)}%`);
  element("div", `${P}-true`, caption, wrong ? `≠ ${shortLabel(truth, 13)}` : "✓");
  figure.title = `image ${index}\npredicted: ${shownLabel(predicted)} (${(top * 100).toFixed(1)}%)\ntrue: ${shownLabel(truth)}`;
  return figure;
}

/** The detail panel of one image: a larger picture, its labels and top-k bars. */
export function drawDetail(panel, { images, pred, names, index, dpr }) {
  panel.replaceChildren();
  if (index == null || index < 0) {
    element("div", `${P}-hint`, panel, "hover or click an image for its top classes");
    return;
  }
  const size = 112;
  const canvas = element("canvas", `${P}-detail-image`, panel);
  const side = Math.round(size * dpr);
  canvas.width = side;
  canvas.height = side;
  canvas.style.width = `${size}px`;
  canvas.style.height = `${size}px`;
  const wrong = pred.labels[index] !== pred.predicted[index];
  const rgba = thumbPixels(images, index, side, Math.round(3 * dpr), wrong ? WRONG_RGB : null);
  canvas.getContext("2d").putImageData(new ImageData(rgba, side, side), 0, 0);
  const truth = names[pred.labels[index]] ?? String(pred.labels[index]);
  element("div", `${P}-detail-title`, panel, `image ${index} · true: ${shortLabel(truth, 30)}`);
  const verdict = element(
    "div",
    `${P}-verdict`,
    panel,
    wrong ? "predicted wrong" : "predicted right",
  );
  verdict.classList.toggle("is-wrong", wrong);
  for (const { cls, p } of topOf(pred, index)) {
    const row = element("div", `${P}-bar-row`, panel);
    row.dataset.cls = String(cls);
    const label = element("span", `${P}-bar-label`, row, shortLabel(names[cls] ?? String(cls), 16));
    label.title = shownLabel(names[cls] ?? String(cls));
    const bar = element("span", `${P}-bar`, row);
    const fill = element("span", `${P}-bar-fill`, bar);
    fill.style.width = `${Math.round(Math.min(1, Math.max(0, p)) * 100)}%`;
    if (cls === pred.labels[index]) fill.classList.add("is-true");
    element("span", `${P}-bar-value`, row, p.toFixed(3));
  }
}

/** The confusion matrix as a table of counts (row: true class, column: predicted); a click
 * on a cell calls onCell(true, predicted), on a row label onCell(true, -1). */
export function buildConfusion(parent, { counts, names, onCell }) {
  const n = names.length;
  let max = 0;
  for (let i = 0; i < counts.length; i++) max = Math.max(max, counts[i]);
  const table = element("table", `${P}-confusion`, parent);
  const head = element("tr", null, element("thead", null, table));
  element("th", `${P}-corner`, head, "true ╲ predicted");
  for (let j = 0; j < n; j++) {
    const th = element("th", `${P}-col`, head, shortLabel(names[j], 7));
    th.title = shownLabel(names[j]);
  }
  const body = element("tbody", null, table);
  const cells = [];
  for (let i = 0; i < n; i++) {
    const tr = element("tr", null, body);
    const th = element("th", `${P}-row`, tr, shortLabel(names[i], 14));
    th.title = shownLabel(names[i]);
    th.addEventListener("click", () => onCell(i, -1));
    for (let j = 0; j < n; j++) {
      const count = counts[i * n + j];
      const td = element("td", `${P}-cell`, tr, String(count));
      td.dataset.true = String(i);
      td.dataset.pred = String(j);
      td.style.background = cellColour(count, max, i === j);
      td.style.color = cellInk(count, max);
      td.title = `true ${shownLabel(names[i])}, predicted ${shownLabel(names[j])}: ${count}`;
      td.addEventListener("click", () => onCell(i, j));
      cells.push(td);
    }
  }
  return {
    highlight(trueClass, predictedClass) {
      for (const td of cells) {
        const t = Number(td.dataset.true);
        const p = Number(td.dataset.pred);
        const on =
          (trueClass >= 0 || predictedClass >= 0) &&
          (trueClass < 0 || t === trueClass) &&
          (predictedClass < 0 || p === predictedClass);
        td.classList.toggle("is-active", on);
      }
    },
  };
}
