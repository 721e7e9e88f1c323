// ImageAttentionView: a query's attention drawn over the image (docs/architecture.md).
// Labels are untrusted: they reach the page through textContent / title only.

/**
 * The model this view reads: the synced traits of ImageAttentionView
 * (src/attnwidgets/widgets/vision/image_attention.py). tests/python/test_js_contract.py checks
 * these names against the Python class and against every name the view's modules use.
 * @typedef {import("./shared/arrays.js").ArrayValue} ArrayValue
 * @typedef {import("./shared/arrays.js").PackedValue} PackedValue
 * @typedef {object} ImageAttentionModel
 * @property {number} layer layer shown
 * @property {number} head head shown when heads is "one"
 * @property {"one" | "mean" | "max"} heads
 * @property {number} query index into tokens
 * @property {number} opacity 0..1
 * @property {"attention" | "rollout"} overlay
 * @property {"mean" | "max" | "min"} rollout_fusion
 * @property {number} discard_ratio
 * @property {boolean} show_lines
 * @property {boolean} show_heads_grid
 * @property {number} size longest image side, CSS px
 * @property {number} thumb heads-grid thumbnail side, CSS px
 * @property {number} n_layers
 * @property {number[]} layer_heads heads per layer
 * @property {string[]} layer_names module path per layer (untrusted text)
 * @property {string[]} tokens one label per position (untrusted text)
 * @property {object} image_layout patch grid, positions, specials, per-layer grids
 * @property {ArrayValue} image uint8 [h, w] or [h, w, 3]
 * @property {"layers" | "rows"} mode
 * @property {boolean} fetch_layers rows mode: whole layers on request
 * @property {PackedValue} first_data the first layer (or rows) drawn, before any request
 * @property {PackedValue} heads_grid a thumbnail per layer and head
 * @property {ArrayValue} rollout_map float32 [rows, cols], or {}
 * @property {string} rollout_note why there is no rollout map
 */

import { isEmpty, readArray } from "./shared/arrays.js";
import { fuseHeads } from "./shared/heads.js";
import { onChange } from "./shared/model.js";
import { buildControls } from "./vision/controls.js";
import {
  canvasSize,
  cellsOf,
  gridOf,
  layerQuery,
  peak,
  specialsOf,
  toGrid,
  tokenAt,
} from "./vision/geometry.js";
import { buildHeadsGrid } from "./vision/heads_grid.js";
import { element, shortLabel } from "./vision/labels.js";
import {
  drawHeat,
  drawImage,
  drawLines,
  drawMarker,
  gridEdges,
  imageCanvas,
} from "./vision/paint.js";
import { AttentionStore } from "./vision/store.js";
import { VISION_CSS } from "./vision/style.js";

const ROOT = "attnwidgets-image-attention";

function headText(heads, head, count) {
  if (heads === "mean") return `mean of ${count} heads`;
  if (heads === "max") return `max of ${count} heads`;
  return `head ${Math.min(head, count - 1)}`;
}

function cellText(layout, layer, cell) {
  const { cols } = gridOf(layout, layer);
  return `(${Math.floor(cell / cols)}, ${cell % cols})`;
}

/** The share panel: one bar per special token and one for all patches. */
function drawShares(panel, items, heading) {
  panel.replaceChildren();
  if (!items.length) return;
  element("div", "attnwidgets-vision-share-title", panel, heading);
  for (const { label, value } of items) {
    const row = element("div", "attnwidgets-vision-share-row", panel);
    element("span", "attnwidgets-vision-share-label", row, shortLabel(label, 16));
    const bar = element("span", "attnwidgets-vision-share-bar", row);
    const fill = element("span", "attnwidgets-vision-share-fill", bar);
    fill.style.width = `${Math.round(Math.min(1, Math.max(0, value)) * 100)}%`;
    element("span", "attnwidgets-vision-share-value", row, value.toFixed(3));
  }
}

function render({ model, el }) {
  const layout = model.get("image_layout");
  const tokens = model.get("tokens");
  const names = model.get("layer_names") ?? [];
  const layerHeads = model.get("layer_heads") ?? [];
  const specials = specialsOf(layout);
  const base = imageCanvas(model.get("image"));
  const root = element("div", ROOT, el);
  element("style", null, root, VISION_CSS);
  const controls = buildControls(root, model, tokens, specials);
  const main = element("div", "attnwidgets-vision-main", root);
  const canvas = element(
    "canvas",
    "attnwidgets-vision-canvas",
    element("div", "attnwidgets-vision-stage", main),
  );
  canvas.tabIndex = 0;
  const side = element("div", "attnwidgets-vision-side", main);
  const title = element("div", "attnwidgets-vision-title", side);
  const peakLine = element("div", "attnwidgets-vision-peak", side);
  const shares = element("div", "attnwidgets-vision-share", side);
  const readout = element("div", "attnwidgets-vision-readout", side);
  const status = element("div", "attnwidgets-vision-status", root);
  status.setAttribute("role", "status");
  const gridBox = element("div", "attnwidgets-vision-headgrid", root);
  const cells = new Map();
  const cellsAt = (layer) => {
    if (!cells.has(layer)) cells.set(layer, cellsOf(layout, layer));
    return cells.get(layer);
  };
  let hover = null; // token previewed under the pointer
  let frame = 0;
  let headsGrid = null;
  let shown = null; // what the last paint drew: {map, grid, size}
  const store = new AttentionStore(model, (reply) => (reply ? paint() : schedule()));

  const state = () => ({
    layer: model.get("layer"),
    head: model.get("head"),
    heads: model.get("heads"),
    query: model.get("query"),
    opacity: model.get("opacity"),
    overlay: model.get("overlay"),
    rollout_fusion: model.get("rollout_fusion"),
    discard_ratio: model.get("discard_ratio"),
    show_lines: model.get("show_lines"),
    show_heads_grid: model.get("show_heads_grid"),
    size: model.get("size"),
  });

  function attentionMap(s, query) {
    const grid = gridOf(layout, s.layer);
    const lq = layerQuery(layout, s.layer, query);
    const got = store.rows(s.layer, lq);
    prefetch(s.layer, query, got != null);
    if (!got) {
      const error = store.error(s.layer, lq);
      if (error) return { grid, state: "error", note: error };
      if (store.missing(s.layer, lq))
        return { grid, state: "missing", note: `layer ${s.layer} is not in this page (no kernel)` };
      return { grid, state: "loading", note: `loading layer ${s.layer}…` };
    }
    const fused = fuseHeads(got.rows, got.heads, got.n, s.heads, s.head);
    const map = toGrid(fused, cellsAt(s.layer), grid.rows, grid.cols);
    const entry = layout.layers[s.layer];
    const items = [];
    if (!entry.own) {
      let patches = 0;
      for (let i = 0; i < fused.length; i++) if (layout.positions[i] != null) patches += fused[i];
      for (const i of specials) items.push({ label: tokens[i], value: fused[i] });
      items.push({ label: "patches", value: patches });
    }
    const what = headText(s.heads, s.head, got.heads);
    return {
      grid,
      map,
      items,
      state: "ready",
      note: got.nan ? "this layer holds NaN (drawn as 0)" : "",
      title: `${shortLabel(tokens[query], 24)} → every patch · layer ${s.layer} · ${what}`,
      shareTitle: s.heads === "max" ? "weight on (max over heads)" : "share of the attention",
      lq,
    };
  }

  function rolloutMap(s) {
    const payload = model.get("rollout_map");
    const note = model.get("rollout_note");
    if (isEmpty(payload)) {
      const grid = gridOf(layout, s.layer);
      return note
        ? { grid, state: "error", note }
        : { grid, state: "loading", note: "computing the rollout…" };
    }
    const { data, meta } = readArray(payload, "rollout_map");
    const layers = meta.layers ?? [];
    const grid = gridOf(layout, layers.length ? layers[0] : s.layer);
    const span = layers.length ? `layers ${layers[0]}–${layers[layers.length - 1]}` : "all layers";
    return {
      grid,
      map: data,
      items: [],
      state: "ready",
      note: "",
      title: `rollout of ${shortLabel(meta.query, 30)} through ${span} · heads fused by ${meta.head_fusion} · discard ${Number(meta.discard_ratio).toFixed(2)}`,
    };
  }

  function prefetch(layer, query, loaded) {
    if (!loaded) return;
    for (const next of [layer + 1, layer - 1]) {
      if (next < 0 || next >= layout.layers.length) continue;
      // neighbours: whole layers when small (layers mode), else the query's rows only
      store.request(next, layerQuery(layout, next, query), store.rowsMode ? "rows" : "layer");
    }
  }

  function paint() {
    frame = 0;
    const s = state();
    const query = hover ?? s.query;
    const dpr = window.devicePixelRatio || 1;
    const size = canvasSize(layout, s.size, dpr);
    if (canvas.width !== size.w || canvas.height !== size.h) {
      canvas.width = size.w;
      canvas.height = size.h;
      canvas.style.width = `${size.cssW}px`;
      canvas.style.height = `${size.cssH}px`;
    }
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, size.w, size.h);
    drawImage(ctx, base, size.w, size.h);
    const view = s.overlay === "rollout" ? rolloutMap(s) : attentionMap(s, query);
    const box = gridEdges(view.grid, size.k, size.w, size.h);
    let top = { value: 0, index: -1 };
    if (view.map) {
      top = peak(view.map);
      drawHeat(ctx, view.map, view.grid, box, top.value, s.opacity);
    }
    if (s.show_lines) drawLines(ctx, box, size.w, size.h);
    const position = layout.positions[query];
    if (s.overlay === "attention" && position != null) {
      const lq = layerQuery(layout, s.layer, query);
      const cell = layout.layers[s.layer].own ? lq : position[0] * view.grid.cols + position[1];
      drawMarker(ctx, box, Math.floor(cell / view.grid.cols), cell % view.grid.cols);
    }
    shown = { map: view.map, grid: view.grid, size };
    title.textContent = view.title ?? "";
    peakLine.textContent =
      top.index >= 0
        ? `max ${top.value.toFixed(4)} at ${cellText(layout, s.layer, top.index)}`
        : "";
    drawShares(shares, view.items ?? [], view.shareTitle ?? "");
    status.textContent = view.note;
    Object.assign(root.dataset, {
      state: view.state,
      layer: String(s.layer),
      head: s.heads === "one" ? String(s.head) : s.heads,
      query: String(query),
      overlay: s.overlay,
      peak: top.index >= 0 ? cellText(layout, s.layer, top.index) : "",
    });
    controls.sync(
      { ...s, position: layout.positions[s.query], staged: layout.layers.some((l) => l.own) },
      names,
      layerHeads,
    );
    gridBox.style.display = s.show_heads_grid ? "" : "none";
    if (s.show_heads_grid && headsGrid === null) {
      headsGrid = buildHeadsGrid(gridBox, { model, layout, base, onPick: pick }) ?? false;
    }
    if (headsGrid)
      headsGrid.highlight(s.overlay === "attention" && s.heads === "one" ? s.layer : -1, s.head);
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(paint);
  }

  function pick(layer, head) {
    model.set("layer", layer);
    model.set("head", head);
    model.set("heads", "one");
    model.set("overlay", "attention");
    model.save_changes();
    paint();
  }

  function tokenUnder(event) {
    const rect = canvas.getBoundingClientRect();
    const [height, width] = layout.image_shape;
    const x = ((event.clientX - rect.left) / rect.width) * width;
    const y = ((event.clientY - rect.top) / rect.height) * height;
    return { token: tokenAt(layout, x, y), x, y };
  }

  function onMove(event) {
    const { token, x, y } = tokenUnder(event);
    if (model.get("overlay") === "rollout") {
      readout.textContent = "";
      if (shown?.map && token >= 0) {
        const g = shown.grid;
        const r = Math.min(g.rows - 1, Math.floor(y / g.cellH));
        const c = Math.min(g.cols - 1, Math.floor(x / g.cellW));
        readout.textContent = `(${r}, ${c}): ${shown.map[r * g.cols + c].toFixed(4)}`;
      }
      return;
    }
    const next = token >= 0 ? token : null;
    if (next !== hover) {
      hover = next;
      paint(); // at once: a patch under the pointer is the query (as a click makes it)
    }
  }

  function onLeave() {
    readout.textContent = "";
    if (hover !== null) {
      hover = null;
      schedule();
    }
  }

  function onClick(event) {
    const { token } = tokenUnder(event);
    if (token < 0 || model.get("overlay") === "rollout") return;
    hover = token;
    model.set("query", token);
    model.save_changes();
    paint();
  }

  function onKey(event) {
    const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    const [rows, cols] = layout.patch_grid;
    const p = layout.positions[model.get("query")] ?? [rows >> 1, cols >> 1];
    const r = Math.min(rows - 1, Math.max(0, p[0] + move[0]));
    const c = Math.min(cols - 1, Math.max(0, p[1] + move[1]));
    const next = layout.positions.findIndex((q) => q != null && q[0] === r && q[1] === c);
    if (next >= 0) {
      hover = null;
      model.set("query", next);
      model.save_changes();
      paint();
    }
  }

  const onMessage = (msg, buffers) => store.handle(msg, buffers);
  const stopWatching = onChange(
    model,
    [
      "layer",
      "head",
      "heads",
      "query",
      "opacity",
      "overlay",
      "rollout_fusion",
      "discard_ratio",
      "show_lines",
      "show_heads_grid",
      "size",
      "rollout_map",
      "rollout_note",
    ],
    () => paint(),
  );
  model.on("msg:custom", onMessage);
  canvas.addEventListener("pointermove", onMove);
  canvas.addEventListener("pointerleave", onLeave);
  canvas.addEventListener("click", onClick);
  canvas.addEventListener("keydown", onKey);
  paint();

  return () => {
    stopWatching();
    model.off("msg:custom", onMessage);
    if (frame) cancelAnimationFrame(frame);
    store.close();
  };
}

export default { render };
