// CrossModalView (src/attnwidgets/widgets/vlm/cross_modal.py): a text token's attention to the
// image tokens drawn over the image, and the text tokens that attend to a region of it.
// Labels are untrusted: they reach the page through textContent / title only.

/**
 * @typedef {object} CrossModalModel
 * @property {number} layer language-model layer shown
 * @property {number} head head shown when heads is "one"
 * @property {"one" | "mean" | "max"} heads
 * @property {number} query the text position whose attention is drawn (index into tokens)
 * @property {number} surface index into cm_layout.surfaces (image x view)
 * @property {number[]} region [r0, c0, r1, c1] cells of the surface, or []
 * @property {number} opacity
 * @property {boolean} show_lines
 * @property {number} size longest image side, CSS px
 * @property {number} n_layers
 * @property {number[]} layer_heads
 * @property {string[]} layer_names
 * @property {string[]} tokens
 * @property {number} generated_from first generated position, -1 for none
 * @property {object} cm_layout {rows, keys, surfaces: [{name, image, view, grid, cell, cells}], first_image}
 * @property {object} images packed uint8 image.<i> [H, W, 3]
 * @property {object} first_block the first layer's block (js/vlm/blocks.js)
 * @property {object} head_shares packed float32 image / text [layers, heads]
 */

import { fuseHeads } from "./shared/heads.js";
import { onChange, setTrait } from "./shared/model.js";
import { peak } from "./vision/geometry.js";
import { element, shortLabel } from "./vision/labels.js";
import { drawHeat } from "./vision/paint.js";
import { VISION_CSS } from "./vision/style.js";
import { BlockStore, decodeRow, fuseValues, regionValues, shareValues } from "./vlm/blocks.js";
import {
  headOptions,
  headTraits,
  headValue,
  imageCanvases,
  labelled,
  rangeInput,
  setOptions,
} from "./vlm/controls.js";
import { buildShareGrid } from "./vlm/share_grid.js";
import { VLM_CSS } from "./vlm/style.js";
import {
  cellAt,
  drawRegion,
  keyMap,
  makeStage,
  regionKeys,
  spanOf,
  surfaceGrid,
} from "./vlm/surface.js";
import { buildTokenList } from "./vlm/token_list.js";

const ROOT = "attnwidgets-cross-modal";

function headText(heads, head, count) {
  if (heads === "mean") return `mean of ${count} heads`;
  if (heads === "max") return `max of ${count} heads`;
  return `head ${Math.min(head, count - 1)}`;
}

function regionText(region) {
  const [r0, c0, r1, c1] = region;
  return r0 === r1 && c0 === c1 ? `(${r0}, ${c0})` : `(${r0}, ${c0})–(${r1}, ${c1})`;
}

function render({ model, el }) {
  const layout = model.get("cm_layout");
  const tokens = model.get("tokens");
  const names = model.get("layer_names") ?? [];
  const layerHeads = model.get("layer_heads") ?? [];
  const images = imageCanvases(model.get("images"));
  const rowOf = new Map(layout.rows.map((position, i) => [position, i]));
  const root = element("div", ROOT, el);
  element("style", null, root, VISION_CSS + VLM_CSS);

  const bar = element("div", "attnwidgets-vision-controls", root);
  const layer = rangeInput("attnwidgets-vlm-layer", 0, Math.max(0, model.get("n_layers") - 1));
  labelled(bar, "layer", layer);
  const layerName = element("span", "attnwidgets-vision-layer-name", bar);
  const head = element("select", "attnwidgets-vlm-head");
  labelled(bar, "heads", head);
  const surface = element("select", "attnwidgets-vlm-surface");
  setOptions(
    surface,
    layout.surfaces.map((s, i) => [i, s.name]),
  );
  const surfaceLabel = labelled(bar, "view", surface);
  surfaceLabel.style.display = layout.surfaces.length > 1 ? "" : "none";
  const opacity = rangeInput("attnwidgets-vlm-opacity", 0, 100);
  labelled(bar, "opacity", opacity);
  const lines = element("input", "attnwidgets-vlm-lines");
  lines.type = "checkbox";
  labelled(bar, "grid", lines);
  const clear = element("button", "attnwidgets-vlm-clear-region", bar, "clear region");
  clear.type = "button";

  const main = element("div", "attnwidgets-vision-main", root);
  const canvas = element("canvas", "attnwidgets-vlm-canvas", element("div", null, main));
  canvas.tabIndex = 0;
  const stage = makeStage(canvas);
  const side = element("div", "attnwidgets-vision-side", main);
  const title = element("div", "attnwidgets-vision-title", side);
  const peakLine = element("div", "attnwidgets-vision-peak", side);
  const shareLine = element("div", "attnwidgets-vlm-share", side);
  const readout = element("div", "attnwidgets-vlm-readout", side);
  const list = buildTokenList(side, {
    tokens,
    rows: layout.rows,
    generatedFrom: model.get("generated_from"),
    onPick: (position) => pickQuery(position),
  });
  const status = element("div", "attnwidgets-vision-status", root);
  status.setAttribute("role", "status");
  const gridBox = element("div", "attnwidgets-vlm-grid", root);
  const shareGrid = buildShareGrid(gridBox, {
    payload: model.get("head_shares"),
    names,
    onPick: (l, h) => {
      model.set("layer", l);
      model.set("head", h);
      model.set("heads", "one");
      model.save_changes();
      paint();
    },
  });

  let frame = 0;
  let drag = null; // {start, end} cells while a rectangle is dragged
  let shown = null; // {map, grid} of the last paint
  let headsShown = -1;
  const store = new BlockStore(model, () => schedule());

  const state = () => ({
    layer: model.get("layer"),
    head: model.get("head"),
    heads: model.get("heads"),
    query: model.get("query"),
    surface: Math.min(model.get("surface"), layout.surfaces.length - 1),
    region: model.get("region") ?? [],
    opacity: model.get("opacity"),
    lines: model.get("show_lines"),
    size: model.get("size"),
  });

  function syncControls(s) {
    layer.value = String(s.layer);
    layerName.textContent = shortLabel(names[s.layer] ?? "", 48);
    layerName.title = shortLabel(names[s.layer] ?? "", 300);
    const count = layerHeads[s.layer] ?? 1;
    if (count !== headsShown) {
      setOptions(head, headOptions(count));
      headsShown = count;
    }
    head.value = headValue(s.heads, Math.min(s.head, count - 1));
    surface.value = String(s.surface);
    opacity.value = String(Math.round(s.opacity * 100));
    lines.checked = s.lines;
    clear.disabled = !s.region.length;
  }

  function paint() {
    frame = 0;
    const s = state();
    const where = layout.surfaces[s.surface];
    const grid = surfaceGrid(where);
    const { ctx, box, finish } = stage.frame(images.get(where.image), grid, s.size, s.lines);
    const entry = store.get(s.layer);
    const region = drag ? spanOf(drag.start, drag.end) : s.region;
    const t = rowOf.get(s.query) ?? layout.rows.length - 1;
    let top = { value: 0, index: -1 };
    let view = "ready";
    let note = "";
    shown = null;
    if (entry) {
      for (const next of [s.layer + 1, s.layer - 1])
        if (next >= 0 && next < layerHeads.length) store.request(next);
      const fused = fuseHeads(decodeRow(entry, t), entry.heads, entry.keys, s.heads, s.head);
      const map = keyMap(fused, where.cells, grid);
      top = peak(map);
      drawHeat(ctx, map, grid, box, top.value, s.opacity);
      shown = { map, grid };
      const perHead = (what) =>
        fuseValues(
          Array.from({ length: entry.heads }, (_, h) => entry[what][h * entry.rows + t]),
          s.heads,
          s.head,
        );
      shareLine.textContent = `on image tokens ${perHead("image").toFixed(3)} · on text tokens ${perHead("text").toFixed(3)}`;
      let values;
      let heading;
      if (region.length === 4) {
        const keys = regionKeys(where.cells, grid, region);
        values = regionValues(entry, keys, s.heads, s.head);
        heading = `attention of each text token to ${regionText(region)} (${keys.length} image tokens)`;
      } else {
        values = shareValues(entry, "image", s.heads, s.head);
        heading =
          "share of each text token's attention on the image (drag on the image to pick a region)";
      }
      let max = 0;
      for (const v of values) max = Math.max(max, v);
      list.update(values, s.query, heading, max);
      if (entry.nan) note = "this layer holds NaN (drawn as 0)";
    } else {
      const error = store.error(s.layer);
      view = error ? "error" : store.missing(s.layer) ? "missing" : "loading";
      note =
        error ??
        (view === "missing"
          ? `layer ${s.layer} is not in this page (no kernel)`
          : `loading layer ${s.layer}…`);
      shareLine.textContent = "";
      list.update(null, s.query, "", 1);
    }
    finish();
    drawRegion(ctx, box, region);
    const count = layerHeads[s.layer] ?? 1;
    title.textContent = `${shortLabel(tokens[s.query], 24)} → ${where.name} · layer ${s.layer} · ${headText(s.heads, s.head, count)}`;
    const peakCell =
      top.index >= 0 ? `(${Math.floor(top.index / grid.cols)}, ${top.index % grid.cols})` : "";
    peakLine.textContent = peakCell ? `max ${top.value.toFixed(4)} at ${peakCell}` : "";
    status.textContent = note;
    Object.assign(root.dataset, {
      state: view,
      layer: String(s.layer),
      head: s.heads === "one" ? String(s.head) : s.heads,
      query: String(s.query),
      surface: String(s.surface),
      peak: peakCell,
      region: region.length === 4 ? region.join(",") : "",
    });
    syncControls(s);
    shareGrid?.highlight(s.heads === "one" ? s.layer : -1, s.head);
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(paint);
  }

  function pickQuery(position) {
    setTrait(model, "query", position);
    paint();
  }

  function cellUnder(event) {
    const s = state();
    const { x, y } = stage.imagePoint(event);
    return cellAt(surfaceGrid(layout.surfaces[s.surface]), x, y);
  }

  function onDown(event) {
    const cell = cellUnder(event);
    if (!cell) return;
    drag = { start: cell, end: cell };
    canvas.setPointerCapture?.(event.pointerId);
    paint();
  }

  function onMove(event) {
    const cell = cellUnder(event);
    if (drag) {
      if (cell && (cell.r !== drag.end.r || cell.c !== drag.end.c)) {
        drag.end = cell;
        paint();
      }
      return;
    }
    readout.textContent =
      cell && shown
        ? `(${cell.r}, ${cell.c}): ${shown.map[cell.r * shown.grid.cols + cell.c].toFixed(4)}`
        : "";
  }

  function onUp() {
    if (!drag) return;
    const region = spanOf(drag.start, drag.end);
    drag = null;
    setTrait(model, "region", region);
    paint();
  }

  function onKey(event) {
    if (event.target.closest?.("input, select, textarea, button")) return;
    if (event.key === "Escape") {
      setTrait(model, "region", []);
      paint();
      return;
    }
    const step = { ArrowDown: 1, ArrowUp: -1 }[event.key];
    if (!step) return;
    event.preventDefault();
    const t = rowOf.get(model.get("query")) ?? 0;
    const next = layout.rows[Math.min(layout.rows.length - 1, Math.max(0, t + step))];
    pickQuery(next);
  }

  layer.addEventListener("input", () => setTrait(model, "layer", Number(layer.value)));
  head.addEventListener("change", () => {
    const picked = headTraits(head.value);
    model.set("heads", picked.heads);
    if (picked.head != null) model.set("head", picked.head);
    model.save_changes();
  });
  surface.addEventListener("change", () => {
    model.set("surface", Number(surface.value));
    model.set("region", []);
    model.save_changes();
  });
  opacity.addEventListener("input", () => setTrait(model, "opacity", Number(opacity.value) / 100));
  lines.addEventListener("change", () => setTrait(model, "show_lines", lines.checked));
  clear.addEventListener("click", () => {
    setTrait(model, "region", []);
    paint();
  });
  const onMessage = (msg, buffers) => store.handle(msg, buffers);
  const stop = onChange(
    model,
    ["layer", "head", "heads", "query", "surface", "region", "opacity", "show_lines", "size"],
    () => paint(),
  );
  model.on("msg:custom", onMessage);
  canvas.addEventListener("pointerdown", onDown);
  canvas.addEventListener("pointermove", onMove);
  canvas.addEventListener("pointerup", onUp);
  canvas.addEventListener("pointercancel", onUp);
  canvas.addEventListener("pointerleave", () => {
    if (!drag) readout.textContent = "";
  });
  root.addEventListener("keydown", onKey);
  paint();

  return () => {
    stop();
    model.off("msg:custom", onMessage);
    if (frame) cancelAnimationFrame(frame);
    store.close();
  };
}

export default { render };
