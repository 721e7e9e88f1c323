// PredictionGridView: a classifier's predictions over many images (docs/architecture.md).
// Filters, pages, the top-k panel and the confusion matrix run here from the state; a click on
// a thumbnail also asks the kernel to open that image's attention ({type: "open", id, index}
// -> {type: "opened" | "error", id, ...}). Class names are untrusted: textContent only.

/**
 * The model this view reads: the synced traits of PredictionGridView
 * (src/attnwidgets/widgets/vision/prediction_grid.py). tests/python/test_js_contract.py checks
 * these names against the Python class and against every name the view's modules use.
 * @typedef {import("./shared/arrays.js").ArrayValue} ArrayValue
 * @typedef {import("./shared/arrays.js").PackedValue} PackedValue
 * @typedef {object} PredictionGridModel
 * @property {ArrayValue} images uint8 [n, h, w, 3] thumbnails
 * @property {PackedValue} predictions labels [n], classes [n, k], probabilities [n, k]
 * @property {ArrayValue} confusion_counts int32 [classes, classes], or {}
 * @property {string} confusion_note why there is no confusion matrix
 * @property {string[]} class_names untrusted text
 * @property {number} n_images
 * @property {number} true_class -1: any
 * @property {number} predicted_class -1: any
 * @property {"all" | "wrong" | "right"} correctness
 * @property {number} page
 * @property {number} per_page
 * @property {number} selected -1: none
 * @property {number} opened -1: none
 * @property {number} thumb CSS px
 * @property {boolean} can_open
 */

import { isEmpty, readArray } from "./shared/arrays.js";
import { onChange } from "./shared/model.js";
import { filterIndices, pageOf, readImages, readPredictions } from "./vision/grid_data.js";
import { buildConfusion, buildControls, buildThumb, drawDetail } from "./vision/grid_draw.js";
import { GRID_CSS } from "./vision/grid_style.js";
import { element } from "./vision/labels.js";

const ROOT = "attnwidgets-prediction-grid";
const NO_REPLY_MS = 8000;

function render({ model, el }) {
  const names = model.get("class_names") ?? [];
  const images = readImages(model.get("images"));
  const pred = readPredictions(model.get("predictions"));
  const dpr = window.devicePixelRatio || 1;
  const root = element("div", ROOT, el);
  element("style", null, root, GRID_CSS);
  let wrongCount = 0;
  for (let i = 0; i < pred.n; i++) if (pred.labels[i] !== pred.predicted[i]) wrongCount++;
  const accuracy = pred.n ? (100 * (pred.n - wrongCount)) / pred.n : 0;
  element(
    "div",
    "attnwidgets-grid-summary",
    root,
    `${model.get("n_images")} images · accuracy ${accuracy.toFixed(1)}% · ${wrongCount} wrong (red frame)`,
  );
  const controls = buildControls(root, names, setFilter);
  const main = element("div", "attnwidgets-grid-main", root);
  const thumbs = element("div", "attnwidgets-grid-thumbs", main);
  const side = element("div", "attnwidgets-grid-side", main);
  const detail = element("div", "attnwidgets-grid-detail", side);
  const counts = model.get("confusion_counts");
  let confusion = null;
  if (!isEmpty(counts)) {
    element("div", "attnwidgets-grid-note", side, "confusion matrix (click a cell to filter)");
    confusion = buildConfusion(side, {
      counts: readArray(counts, "confusion_counts").data,
      names,
      onCell: (t, p) => setFilter("cell", [t, p]),
    });
  } else if (model.get("confusion_note")) {
    element("div", "attnwidgets-grid-note", side, model.get("confusion_note"));
  }
  const status = element("div", "attnwidgets-grid-status", root);
  status.setAttribute("role", "status");

  let hover = null;
  let shownKey = "";
  let items = new Map(); // image index -> figure on this page
  let nextId = 1;
  const pending = new Map(); // request id -> {index, timer}

  function setFilter(name, value) {
    const changes = {};
    if (name === "clear")
      Object.assign(changes, { true_class: -1, predicted_class: -1, correctness: "all" });
    else if (name === "cell")
      Object.assign(changes, {
        true_class: value[0],
        predicted_class: value[1],
        correctness: "all",
      });
    else changes[name] = value;
    if (name !== "page") changes.page = 0;
    else {
      const count = filterIndices(pred, filterState()).length;
      changes.page = pageOf(count, model.get("per_page"), value).page;
    }
    if ("true_class" in changes) model.set("true_class", changes.true_class);
    if ("predicted_class" in changes) model.set("predicted_class", changes.predicted_class);
    if ("correctness" in changes) model.set("correctness", changes.correctness);
    model.set("page", changes.page);
    model.save_changes();
    paint();
  }

  function filterState() {
    return {
      trueClass: model.get("true_class"),
      predictedClass: model.get("predicted_class"),
      correctness: model.get("correctness"),
    };
  }

  function buildPage(kept, page) {
    const size = model.get("thumb");
    const fragment = document.createDocumentFragment();
    items = new Map();
    for (let i = page.start; i < page.end; i++) {
      const index = kept[i];
      items.set(index, buildThumb(fragment, { images, pred, names, index, size, dpr }));
    }
    thumbs.replaceChildren(fragment);
    if (!kept.length)
      element("div", "attnwidgets-grid-hint", thumbs, "no image matches the filters");
  }

  function paint() {
    const s = {
      true_class: model.get("true_class"),
      predicted_class: model.get("predicted_class"),
      correctness: model.get("correctness"),
      page: model.get("page"),
      per_page: model.get("per_page"),
      thumb: model.get("thumb"),
    };
    const kept = filterIndices(pred, filterState());
    const page = pageOf(kept.length, s.per_page, s.page);
    const key = JSON.stringify([
      s.true_class,
      s.predicted_class,
      s.correctness,
      page.page,
      s.per_page,
      s.thumb,
    ]);
    if (key !== shownKey) {
      shownKey = key;
      buildPage(kept, page);
    }
    const selected = model.get("selected");
    const opened = model.get("opened");
    for (const [index, figure] of items) {
      figure.classList.toggle("is-selected", index === selected);
      figure.classList.toggle("is-opened", index === opened);
    }
    drawDetail(detail, { images, pred, names, index: hover ?? selected, dpr });
    controls.sync(s, kept.length, page, pred.n);
    confusion?.highlight(s.true_class, s.predicted_class);
    Object.assign(root.dataset, {
      state: "ready",
      shown: String(kept.length),
      page: String(page.page),
      pages: String(page.pages),
      selected: String(selected),
      opened: String(opened),
    });
  }

  function say(text, isError = false) {
    status.textContent = text;
    status.classList.toggle("is-error", isError);
  }

  function choose(index) {
    model.set("selected", index);
    model.save_changes();
    paint();
    if (!model.get("can_open")) return;
    const id = nextId++;
    const timer = setTimeout(() => {
      if (!pending.delete(id)) return;
      say(
        `no reply from the kernel for image ${index}: its attention needs a running kernel`,
        true,
      );
    }, NO_REPLY_MS);
    pending.set(id, { index, timer });
    root.dataset.opening = String(index);
    say(`running the model on image ${index}…`);
    model.send({ type: "open", id, index });
  }

  function onMessage(msg) {
    if (!msg || !pending.has(msg.id)) return;
    const { index, timer } = pending.get(msg.id);
    clearTimeout(timer);
    pending.delete(msg.id);
    if (msg.type === "opened") say(`attention of image ${index}: below the grid`);
    else say(String(msg.message ?? "the kernel could not open this image"), true);
    if (!pending.size) delete root.dataset.opening;
  }

  const itemOf = (event) => event.target.closest?.(".attnwidgets-grid-item");
  thumbs.addEventListener("click", (event) => {
    const figure = itemOf(event);
    if (figure) choose(Number(figure.dataset.index));
  });
  thumbs.addEventListener("keydown", (event) => {
    const figure = itemOf(event);
    if (figure && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      choose(Number(figure.dataset.index));
    }
  });
  thumbs.addEventListener("pointerover", (event) => {
    const figure = itemOf(event);
    const index = figure ? Number(figure.dataset.index) : null;
    if (index !== hover) {
      hover = index;
      drawDetail(detail, { images, pred, names, index: hover ?? model.get("selected"), dpr });
    }
  });
  thumbs.addEventListener("pointerleave", () => {
    hover = null;
    drawDetail(detail, { images, pred, names, index: model.get("selected"), dpr });
  });

  const stopWatching = onChange(
    model,
    [
      "true_class",
      "predicted_class",
      "correctness",
      "page",
      "per_page",
      "thumb",
      "selected",
      "opened",
    ],
    () => paint(),
  );
  model.on("msg:custom", onMessage);
  paint();

  return () => {
    stopWatching();
    model.off("msg:custom", onMessage);
    for (const { timer } of pending.values()) clearTimeout(timer);
  };
}

export default { render };
