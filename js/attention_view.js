// AttentionView: one head of one layer as a canvas heatmap (docs/architecture.md).
// Token labels are untrusted: they only ever reach the page through textContent / title.

/**
 * The model this view reads: the synced traits of AttentionView
 * (src/attnwidgets/widgets/attention/view.py). tests/python/test_js_contract.py checks these
 * names against the Python class and against every name the view's modules use.
 * @typedef {import("./shared/arrays.js").ArrayValue} ArrayValue
 * @typedef {import("./shared/arrays.js").PackedValue} PackedValue
 * @typedef {object} AttentionModel
 * @property {number} layer layer shown
 * @property {number} head head shown
 * @property {number} n_layers
 * @property {number} n_heads
 * @property {string[]} layer_names module path per layer (untrusted text)
 * @property {string[]} query_tokens one label per row (untrusted text)
 * @property {string[]} key_tokens one label per column (untrusted text)
 * @property {ArrayValue} chunk preloaded layers, uint8 [layers, heads, query, key]
 * @property {string} value_kind the kind drawn, one of available_kinds
 * @property {string[]} available_kinds
 * @property {"layers" | "tiles"} mode
 * @property {"linear" | "log" | "row"} color_scale
 * @property {number} focus_token locked query row, -1 for none
 * @property {boolean} show_overview
 * @property {boolean} show_metrics
 * @property {boolean} show_lines
 * @property {number[][]} compare_heads [[layer, head], ...]
 * @property {ArrayValue} tile0 tiles mode: the first view, uint8 [rows, cols]
 * @property {ArrayValue} thumbnails uint8 [layers, heads, side, side]
 * @property {ArrayValue} metrics float32 [layers, heads, metrics]
 * @property {number} data_version +1 on each set_data
 * @property {number} sentence_b_start -1 for none
 * @property {"all" | "A->A" | "B->B" | "A->B" | "B->A"} sentence_filter
 * @property {boolean} live
 * @property {boolean} can_generate
 * @property {string} text
 * @property {"idle" | "running" | "generating" | "error"} live_state
 * @property {string} live_message
 * @property {number} max_new_tokens
 * @property {number} live_answered
 * @property {string[]} stacks
 * @property {string} stack
 * @property {string} label_note
 * @property {number} generated_from -1 for none
 * @property {number[][]} windows per layer [lo, hi], or [] without a window
 * @property {number} hover_token token under the pointer, linked to the Tokens tab; -1 for none
 */

import { createAxes } from "./attention/axes.js";
import { LayerStore } from "./attention/cache.js";
import { decodeHead, splitChunk, valueRange } from "./attention/decode.js";
import { buildDom, injectStyle } from "./attention/dom.js";
import { createLive } from "./attention/live.js";
import { createPanels } from "./attention/panels.js";
import { titlePlayButtons } from "./attention/play_titles.js";
import { createPointer } from "./attention/pointer.js";
import { applyScale } from "./attention/scales.js";
import { hasSentences, sentenceBounds, sentenceLabel } from "./attention/sentences.js";
import { createStacks } from "./attention/stacks.js";
import { readTile, TileStore } from "./attention/tiles.js";
import { linkHoverToken } from "./attention/token_link.js";
import { cropValues, viewLayout } from "./attention/viewport.js";
import { drawWindowEdge, windowOf, windowTitle } from "./attention/window_edge.js";
import { hasNaN } from "./shared/colormap.js";
import { redrawScheduler } from "./shared/dom.js";
import { drawAxisLabels, drawColorbar, drawHeatmap, place } from "./shared/heatmap.js";
import {
  clampIndex,
  computeLayout,
  displayLabel,
  truncateLabel,
  viewWidth,
} from "./shared/layout.js";
import { onChange, setTrait } from "./shared/model.js";

function createView(model, el) {
  const dom = buildDom(el);

  let shown = null; // what the canvas holds: {key, values, rows, cols, view, layout, ...}
  let view = null; // region shown: {q0, q1, k0, k1}
  let bounds = null; // the region the sentence filter allows (every token without one)
  let viewShape = "";
  let drawnWidth = -1;

  const redraw = redrawScheduler(() => draw());
  const schedule = redraw.schedule;
  const send = (content) => model.send(content);
  const kindOf = () => model.get("value_kind") || "probability";
  const sendLayer = (content) => model.send({ ...content, kind: kindOf() });
  const store = new LayerStore({ send: sendLayer, onChange: schedule });
  const tiles = new TileStore({ send, onChange: schedule });
  const panels = createPanels(model, dom.root, tiles);
  const live = createLive(model, dom.root, dom.title);
  const stacks = createStacks(model, dom.root, dom.title); // stack select and label note
  const axes = createAxes(dom); // axis titles, generated-token marks
  const link = linkHoverToken(model, dom); // hover_token: the Tokens tab's linked hover
  const untitlePlay = titlePlayButtons(el);

  // A new chunk means new data: forget every layer and every request in flight.
  function resetStore() {
    try {
      store.reset(splitChunk(model.get("chunk")));
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
  // New data in place (a new text, a generation step): nothing cached may be drawn again.
  const onData = () => {
    tiles.reset();
    first = null;
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

  function clearCanvas(L, dpr) {
    shown = null; // never leave another head's picture under this title
    dom.lockedRow.hidden = true;
    dom.nanKey.hidden = true;
    drawHeatmap(dom.canvas, { nQ: 0, nK: 0, cssW: L.heatW, cssH: L.heatH, dpr });
  }

  // The values of the region shown: {values, rows, cols, lo, hi, key} or {problem, loading}.
  function layerPixels(layer, head, nQ, nK) {
    store.ensure(layer);
    const status = store.status(layer);
    const entry = status.entry;
    if (!entry)
      return { problem: status.error ?? `loading layer ${layer}…`, loading: status.loading };
    if (entry.shape[1] !== nQ || entry.shape[2] !== nK) {
      return {
        problem: `layer ${layer} has shape [${entry.shape}] but there are ${nQ} x ${nK} tokens`,
      };
    }
    if (head >= entry.shape[0]) return { problem: "no heads to show" };
    const full =
      shown?.entry === entry && shown.head === head ? shown.full : decodeHead(entry, head);
    const [lo, hi] = valueRange(entry);
    const values = cropValues(full, nK, view);
    return { entry, head, full, values, rows: view.q1 - view.q0, cols: view.k1 - view.k0, lo, hi };
  }

  function tilePixels(layer, head, L, dpr) {
    const rows = [view.q0, view.q1];
    const cols = [view.k0, view.k1];
    const pixels = [
      Math.max(1, Math.min(view.q1 - view.q0, Math.round(L.heatH * dpr))),
      Math.max(1, Math.min(view.k1 - view.k0, Math.round(L.heatW * dpr))),
    ];
    const request = { layer, head, rows, cols, pixels, kind: kindOf() };
    // The first view in the state: used as is when as fine as the kernel's reply would be,
    // else drawn while the sharper tile is on its way.
    const pooledSide = (span, px) => Math.ceil(span / Math.ceil(span / px));
    const seed = firstTile(layer, head, rows, cols);
    const fine =
      seed &&
      seed.shape[0] >= pooledSide(rows[1] - rows[0], pixels[0]) &&
      seed.shape[1] >= pooledSide(cols[1] - cols[0], pixels[1]);
    const tile = fine ? seed : (tiles.ensure(request) ?? seed);
    if (!tile) {
      const error = tiles.error(request);
      return { problem: error ?? `loading layer ${layer} head ${head}…`, loading: !error, request };
    }
    // Neighbours next, so that a slider step or an arrow key finds them here.
    const nHeads = Number(model.get("n_heads")) || 0;
    const nLayers = Number(model.get("n_layers")) || 0;
    for (const [l, h] of [
      [layer, head + 1],
      [layer, head - 1],
      [layer + 1, head],
      [layer - 1, head],
    ]) {
      if (l >= 0 && l < nLayers && h >= 0 && h < nHeads)
        tiles.ensure({ ...request, layer: l, head: h });
    }
    const [r, c] = tile.shape;
    return { tile, values: tile.values, rows: r, cols: c, lo: tile.lo, hi: tile.hi };
  }

  // The first view that came with the widget state (tiles mode), if it shows this region.
  let first = null; // {payload, tile}: tile0 decoded once per value
  function firstTile(layer, head, rows, cols) {
    const payload = model.get("tile0");
    if (!payload?.shape || payload.layer !== layer || payload.head !== head) return null;
    if (payload.kind !== undefined && payload.kind !== kindOf()) return null;
    if (String(payload.rows) !== String(rows) || String(payload.cols) !== String(cols)) return null;
    if (first?.payload !== payload) {
      try {
        first = { payload, tile: readTile(payload, "tile") };
      } catch {
        first = { payload, tile: null };
      }
    }
    return first.tile;
  }

  function draw() {
    const nLayers = Number(model.get("n_layers")) || 0;
    const layer = clampIndex(model.get("layer"), nLayers);
    const queryTokens = model.get("query_tokens") ?? [];
    const keyTokens = model.get("key_tokens") ?? [];
    const nQ = queryTokens.length;
    const nK = keyTokens.length;
    const filter = model.get("sentence_filter");
    const start = model.get("sentence_b_start");
    bounds = sentenceBounds(filter, start, nQ, nK);
    const shape = `${nQ}x${nK}:${Object.values(bounds)}`;
    if (viewShape !== shape || !view) {
      view = { ...bounds };
      viewShape = shape;
    }
    updateSentences(nQ, nK);
    live.update();
    stacks.update();
    const L = computeLayout({
      width: viewWidth(el.clientWidth),
      queryTokens: queryTokens.slice(bounds.q0, bounds.q1),
      keyTokens: keyTokens.slice(bounds.k0, bounds.k1),
    });
    const V = viewLayout(L, view);
    const dpr = globalThis.devicePixelRatio || 1;
    drawnWidth = L.width;
    dom.root.style.width = `${L.width}px`;
    dom.body.style.height = `${L.marginTop + L.heatH + L.fontPx}px`; // room for the last label
    place(dom.canvas, L.marginLeft, L.marginTop, L.heatW, L.heatH);
    const qShown = queryTokens.slice(view.q0, view.q1);
    drawAxisLabels(dom.queries, dom.keys, V, qShown, keyTokens.slice(view.k0, view.k1));
    link.draw(V, view);
    axes.draw(V, view, model.get("generated_from"));
    hideHover();

    const tiled = model.get("mode") === "tiles";
    const nHeads = Number(model.get("n_heads")) || 0;
    const head = clampIndex(model.get("head"), nHeads);
    updateTitle(layer, head, nQ, nK);
    dom.root.dataset.layer = layer;
    dom.root.dataset.head = head;
    dom.root.dataset.view = `${view.q0},${view.q1},${view.k0},${view.k1}`;

    let got;
    if (layer < 0) got = { problem: "no layers to show" };
    else if (head < 0) got = { problem: "no heads to show" };
    else got = tiled ? tilePixels(layer, head, L, dpr) : layerPixels(layer, head, nQ, nK);
    const notice = store.notice ? [store.notice] : [];
    if (got.problem) {
      // While a zoomed tile of the same head loads, keep its coarser picture.
      const sameHead = shown && shown.layer === layer && shown.head === head && got.loading;
      if (!sameHead || !tiled) clearCanvas(L, dpr);
      setStatus(got.loading ? "loading" : "error", [...notice, got.problem].join(" · "));
      panels.draw(L.width, dpr, null);
      return;
    }
    const { values, rows, cols, lo, hi } = got;
    const scale = model.get("color_scale") || "linear";
    dom.scale.value = scale;
    const scaled = applyScale(values, rows, cols, lo, hi, scale);
    const size = { cssW: L.heatW, cssH: L.heatH, dpr };
    drawHeatmap(dom.canvas, { values: scaled.t, nQ: rows, nK: cols, lo: 0, hi: 1, ...size });
    dom.nanKey.hidden = !hasNaN(values);
    drawWindowEdge(dom.canvas, windowOf(model.get("windows"), layer), view);
    drawColorbar(dom.colorbar, { cssW: Math.min(200, Math.max(60, L.heatW / 2)), cssH: 10, dpr });
    dom.lo.textContent = scaled.low;
    dom.hi.textContent = scaled.high;
    dom.valueLabel.textContent = kindOf();
    updateKinds();
    dom.canvas.setAttribute("aria-label", `attention of head ${head} in layer ${layer}`);
    shown = { ...got, layer, head, layout: V, view: { ...view }, queryTokens, keyTokens };
    const entry = got.entry ?? null;
    panels.draw(L.width, dpr, { entry, view: { ...view }, queryTokens, keyTokens, head });
    drawLockedRow();
    setStatus(notice.length ? "error" : "ready", notice.join(""));
  }

  // Click locks a query row: outlined, and its strongest keys listed (exact when unpooled).
  function drawLockedRow() {
    const row = Number(model.get("focus_token"));
    const { layout: V, view: v, queryTokens, keyTokens, values, rows, cols } = shown;
    const inView = row >= v.q0 && row < v.q1;
    dom.lockedRow.hidden = !(row >= 0 && inView);
    if (row < 0 || row >= queryTokens.length) {
      dom.focusText.textContent = "";
      return;
    }
    if (inView) {
      place(dom.lockedRow, V.marginLeft, V.marginTop + (row - v.q0) * V.cellH, V.heatW, V.cellH);
    }
    let text = `query ${row} «${truncateLabel(queryTokens[row], 40)}» locked`;
    if (inView && rows === v.q1 - v.q0 && cols === v.k1 - v.k0) {
      const start = (row - v.q0) * cols;
      const order = Array.from({ length: cols }, (_, c) => c)
        .sort((a, b) => values[start + b] - values[start + a])
        .slice(0, 5);
      const top = order.map(
        (c) =>
          `${truncateLabel(keyTokens[v.k0 + c], 20)} ${
            values[start + c] === Number.NEGATIVE_INFINITY ? "masked" : values[start + c].toFixed(3)
          }`,
      );
      text += ` · strongest keys: ${top.join(", ")}`;
    }
    dom.focusText.textContent = text;
  }

  // The kind select: one option per available kind, shown when there is a choice.
  function updateKinds() {
    const kinds = model.get("available_kinds") ?? [];
    const names = kinds.join(",");
    if (dom.kind.dataset.kinds !== names) {
      dom.kind.dataset.kinds = names;
      dom.kind.replaceChildren(
        ...kinds.map((name) => {
          const option = dom.kind.ownerDocument.createElement("option");
          option.value = name;
          option.textContent = displayLabel(name);
          return option;
        }),
      );
    }
    dom.kind.hidden = kinds.length <= 1;
    dom.kind.value = kindOf();
  }

  // The sentence select: shown when sentence_b_start splits the tokens.
  function updateSentences(nQ, nK) {
    dom.sentence.hidden = !hasSentences(model.get("sentence_b_start"), nQ, nK);
    dom.sentence.value = model.get("sentence_filter") || "all";
  }

  function updateTitle(layer, head, nQ, nK) {
    if (layer < 0) {
      dom.title.textContent = "no layers";
      return;
    }
    const name = displayLabel(model.get("layer_names")?.[layer] ?? "");
    const headText = head >= 0 ? ` · head ${head}` : "";
    const same = ["q0", "q1", "k0", "k1"].every((k) => view[k] === bounds[k]);
    const zoom = same ? "" : ` · queries ${view.q0}–${view.q1 - 1}, keys ${view.k0}–${view.k1 - 1}`;
    const pair = sentenceLabel(model.get("sentence_filter"), model.get("sentence_b_start"), nQ, nK);
    const window = windowTitle(model.get("windows"), layer);
    const title = `layer ${layer}${name ? ` (${name})` : ""}${headText}${window}${pair ? ` · ${pair}` : ""}`;
    dom.title.textContent = `${title}${zoom}`;
  }

  const pointer = createPointer({
    dom,
    model,
    schedule,
    state: {
      get shown() {
        return shown;
      },
      get view() {
        return view;
      },
      set view(next) {
        view = next;
      },
      get bounds() {
        return bounds;
      },
    },
  });
  const hideHover = pointer.hideHover;

  const onMessage = (msg, buffers) => {
    if (!tiles.handleMessage(msg, buffers)) store.handleMessage(msg, buffers);
    else if (msg.type !== "error" && store.clearNotice()) schedule(); // an old notice is stale
  };
  const events = [
    ["change:chunk", onChunk],
    ["change:data_version", onData],
    ["msg:custom", onMessage],
  ];
  for (const [name, fn] of events) model.on(name, fn);
  const stops = [
    onChange(model, ["layer", "head", "n_layers", "n_heads", "layer_names"], schedule),
    onChange(model, ["query_tokens", "key_tokens", "mode", "color_scale", "focus_token"], schedule),
    onChange(model, ["tile0", "value_kind", "available_kinds", "windows"], schedule),
    onChange(model, ["sentence_b_start", "sentence_filter", "live_answered"], schedule),
    onChange(model, ["generated_from"], schedule),
    live.watch(schedule),
    panels.watch(schedule),
    stacks.watch(schedule),
  ];
  const listeners = [
    ...pointer.listeners,
    [dom.scale, "change", () => setTrait(model, "color_scale", dom.scale.value)],
    [dom.kind, "change", () => setTrait(model, "value_kind", dom.kind.value)],
    [dom.sentence, "change", () => setTrait(model, "sentence_filter", dom.sentence.value)],
  ];
  for (const [target, name, fn] of listeners) target.addEventListener(name, fn);
  const resize = globalThis.ResizeObserver ? new ResizeObserver(onResize) : null;
  resize?.observe(el);

  injectStyle(el);
  resetStore();
  draw();

  return () => {
    redraw.cancel();
    for (const [name, fn] of events) model.off(name, fn);
    for (const stop of stops) stop();
    for (const [target, name, fn] of listeners) target.removeEventListener(name, fn);
    resize?.disconnect();
    store.dispose();
    tiles.dispose();
    live.dispose();
    stacks.dispose();
    link.dispose();
    untitlePlay();
    dom.root.remove();
  };
}

export default {
  /** @param {{ model: import("./shared/model.js").WidgetModel<AttentionModel>, el: HTMLElement }} props */
  render({ model, el }) {
    return createView(model, el);
  },
};
