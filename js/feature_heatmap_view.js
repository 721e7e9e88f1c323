// FeatureHeatmapView (src/attnwidgets/widgets/vlm/feature_heatmap.py): a module's hidden
// states at image positions drawn over the image (norm, a channel, PCA as RGB, cosine to a
// clicked patch or to a text token), one module at a time with a slider through depth.
// Labels (module paths, tokens) are untrusted: textContent / title only.

/**
 * @typedef {object} FeatureHeatmapModel
 * @property {number} module index into modules
 * @property {"norm" | "channel" | "pca" | "patch" | "text"} measure
 * @property {number} channel
 * @property {number[]} patch [row, col, rows, cols] (the cell and the grid it was picked on) or []
 * @property {number} text_token a text position of tokens, -1 for none
 * @property {number} surface index into surfaces (resolved to one of the module's tower)
 * @property {number} opacity
 * @property {boolean} show_lines
 * @property {number} size longest image side, CSS px
 * @property {string} pattern module names / globs (editable when `editable`)
 * @property {string[]} modules module paths
 * @property {string[]} module_towers "vision" | "text" per module
 * @property {number[]} module_dims hidden size per module
 * @property {object[]} surfaces [{name, tower, image, grid, cell}]
 * @property {object} images packed uint8 image.<i> [H, W, 3]
 * @property {string[]} tokens the language model's sequence
 * @property {number[]} text_positions the text positions of tokens
 * @property {object} first_map the first map shown (js/vlm/map_store.js)
 * @property {number} data_version +1 when the kernel's features change
 * @property {string} note what was not drawn, or the last error of the module box
 * @property {boolean} editable whether the module box can run the model again
 */

import { colorAt } from "./shared/colormap.js";
import { onChange, setTrait } from "./shared/model.js";
import { element, shortLabel } from "./vision/labels.js";
import { drawMarker } from "./vision/paint.js";
import { VISION_CSS } from "./vision/style.js";
import { imageCanvases, labelled, rangeInput, setOptions } from "./vlm/controls.js";
import { MapStore } from "./vlm/map_store.js";
import { VLM_CSS } from "./vlm/style.js";
import {
  cellAt,
  drawCells,
  makeStage,
  patchOn,
  resolveSurface,
  surfaceGrid,
} from "./vlm/surface.js";
import { visibleToken } from "./vlm/token_list.js";

const ROOT = "attnwidgets-features";
const MEASURES = [
  ["pca", "PCA (RGB)"],
  ["norm", "L2 norm"],
  ["channel", "one channel"],
  ["patch", "cosine to a patch"],
  ["text", "cosine to a text token"],
];

function drawColorbar(canvas, rgb) {
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  for (let x = 0; x < width; x++) {
    const [r, g, b] = rgb ? [0, 0, 0] : colorAt(x / (width - 1));
    ctx.fillStyle = `rgb(${r}, ${g}, ${b})`;
    ctx.fillRect(x, 0, 1, height);
  }
}

function render({ model, el }) {
  const root = element("div", ROOT, el);
  element("style", null, root, VISION_CSS + VLM_CSS);
  const bar = element("div", "attnwidgets-vision-controls", root);
  const module = rangeInput("attnwidgets-vlm-module", 0, 0);
  labelled(bar, "module", module);
  const moduleName = element("span", "attnwidgets-vision-layer-name", bar);
  const measure = element("select", "attnwidgets-vlm-measure");
  setOptions(measure, MEASURES);
  labelled(bar, "show", measure);
  const channel = element("input", "attnwidgets-vlm-channel");
  Object.assign(channel, { type: "number", min: "0", step: "1" });
  const channelLabel = labelled(bar, "channel", channel);
  const token = element("select", "attnwidgets-vlm-text-token");
  const tokenLabel = labelled(bar, "token", token);
  const surface = element("select", "attnwidgets-vlm-surface");
  const surfaceLabel = labelled(bar, "view", surface);
  const opacity = rangeInput("attnwidgets-vlm-opacity", 0, 100);
  labelled(bar, "opacity", opacity);
  const lines = element("input", "attnwidgets-vlm-lines");
  lines.type = "checkbox";
  labelled(bar, "grid", lines);
  const patternBar = element("div", "attnwidgets-vision-controls", root);
  const pattern = element("input", "attnwidgets-vlm-pattern");
  pattern.type = "text";
  pattern.placeholder = "module names or globs, e.g. model.language_model.layers.*";
  labelled(patternBar, "modules", pattern);
  const runButton = element("button", "attnwidgets-vlm-run", patternBar, "read");
  runButton.type = "button";

  const main = element("div", "attnwidgets-vision-main", root);
  const canvas = element("canvas", "attnwidgets-vlm-canvas", element("div", null, main));
  const stage = makeStage(canvas);
  const side = element("div", "attnwidgets-vision-side", main);
  const title = element("div", "attnwidgets-vision-title", side);
  const legend = element("div", "attnwidgets-vlm-legend", side);
  const colorbar = element("canvas", "attnwidgets-vlm-colorbar", side);
  colorbar.width = 160;
  colorbar.height = 10;
  drawColorbar(colorbar, false);
  const readout = element("div", "attnwidgets-vlm-readout", side);
  const status = element("div", "attnwidgets-vision-status", root);
  status.setAttribute("role", "status");

  let images = new Map();
  let frame = 0;
  let shown = null; // {entry, grid}
  const store = new MapStore(model, () => schedule());

  function reload() {
    images = imageCanvases(model.get("images"));
    const names = model.get("modules");
    module.max = String(Math.max(0, names.length - 1));
    const tokens = model.get("tokens");
    const positions = model.get("text_positions");
    setOptions(
      token,
      positions.map((i) => [i, `${i}: ${shortLabel(visibleToken(tokens[i]), 24)}`]),
    );
    pattern.value = model.get("pattern");
    patternBar.style.display = model.get("editable") ? "" : "none";
  }

  const state = () => ({
    module: model.get("module"),
    measure: model.get("measure"),
    channel: model.get("channel"),
    patch: model.get("patch") ?? [],
    token: model.get("text_token"),
    surface: model.get("surface"),
    opacity: model.get("opacity"),
    lines: model.get("show_lines"),
    size: model.get("size"),
  });

  function requestFor(s, moduleIndex) {
    const surfaces = model.get("surfaces");
    const tower = model.get("module_towers")[moduleIndex];
    const index = resolveSurface(surfaces, s.surface, tower);
    const grid = surfaceGrid(surfaces[index]);
    return {
      grid,
      request: {
        module: moduleIndex,
        measure: s.measure,
        surface: index,
        channel: s.channel,
        patch: patchOn(s.patch, grid),
        token: s.token,
      },
    };
  }

  function colourOf(entry, opacity) {
    const rgb = entry.shape.length === 3;
    const span = entry.hi > entry.lo ? entry.hi - entry.lo : 1;
    return (i) => {
      if (rgb) {
        const r = entry.data[3 * i];
        if (!Number.isFinite(r)) return null;
        return [
          Math.round(r * 255),
          Math.round(entry.data[3 * i + 1] * 255),
          Math.round(entry.data[3 * i + 2] * 255),
          opacity,
        ];
      }
      const v = entry.data[i];
      if (!Number.isFinite(v)) return null;
      const [r, g, b] = colorAt((v - entry.lo) / span);
      return [r, g, b, opacity];
    };
  }

  function describe(s, entry, tower) {
    const tokens = model.get("tokens");
    const what = {
      pca: "first three principal components as RGB",
      norm: "L2 norm of each cell's hidden state",
      channel: `channel ${s.channel}`,
      patch: "cosine similarity to the marked patch",
      text: `cosine similarity to the text token ${shortLabel(visibleToken(tokens[s.token] ?? ""), 24)}`,
    }[s.measure];
    title.textContent = `${what} · ${tower === "vision" ? "vision tower" : "language model"}`;
    if (!entry) {
      legend.textContent = "";
      colorbar.style.display = "none";
      return;
    }
    if (entry.shape.length === 3) {
      const pct = entry.ratio.map((v) => `${(100 * v).toFixed(1)}%`).join(", ");
      legend.textContent = `R, G, B = PC1, PC2, PC3 (explained variance ${pct}), fitted over the module's ${entry.fitted} image positions`;
      colorbar.style.display = "none";
    } else {
      legend.textContent = `${entry.lo.toFixed(3)} … ${entry.hi.toFixed(3)}`;
      colorbar.style.display = "";
    }
  }

  function paint() {
    frame = 0;
    const s = state();
    const names = model.get("modules");
    const towers = model.get("module_towers");
    const surfaces = model.get("surfaces");
    const tower = towers[s.module];
    const { grid, request } = requestFor(s, s.module);
    const where = surfaces[request.surface];
    const { ctx, box, finish } = stage.frame(images.get(where.image), grid, s.size, s.lines);
    let view = "ready";
    let note = "";
    let entry = null;
    if (s.measure === "patch" && !request.patch.length) {
      note = "click a patch on the image";
      view = "idle";
    } else if (s.measure === "text" && tower !== "text") {
      note =
        "cosine to a text token needs a language-model module: vision-tower states never meet the text";
      view = "idle";
    } else {
      entry = store.get(request);
      if (entry) {
        drawCells(ctx, grid, box, colourOf(entry, s.opacity));
        for (const next of [s.module + 1, s.module - 1]) {
          if (next < 0 || next >= names.length) continue;
          if (s.measure === "text" && towers[next] !== "text") continue;
          store.request(requestFor(s, next).request);
        }
      } else {
        const error = store.error(request);
        view = error ? "error" : store.missing(request) ? "missing" : "loading";
        note =
          error ??
          (view === "missing"
            ? "this map is not in this page (no kernel)"
            : "computing the map in the kernel…");
      }
    }
    finish();
    if (request.patch.length && s.measure === "patch")
      drawMarker(ctx, box, request.patch[0], request.patch[1]);
    shown = entry ? { entry, grid } : null;
    describe(s, entry, tower);
    const kernelNote = model.get("note");
    status.textContent = [note, kernelNote].filter(Boolean).join(" · ");
    module.value = String(s.module);
    moduleName.textContent = shortLabel(names[s.module] ?? "", 60);
    moduleName.title = shortLabel(names[s.module] ?? "", 300);
    measure.value = s.measure;
    channel.max = String((model.get("module_dims")[s.module] ?? 1) - 1);
    channel.value = String(s.channel);
    channelLabel.style.display = s.measure === "channel" ? "" : "none";
    token.value = String(s.token);
    tokenLabel.style.display = s.measure === "text" ? "" : "none";
    const mine = surfaces.map((x, i) => [i, x]).filter(([, x]) => x.tower === tower);
    setOptions(
      surface,
      mine.map(([i, x]) => [i, x.name]),
    );
    surface.value = String(request.surface);
    surfaceLabel.style.display = mine.length > 1 ? "" : "none";
    opacity.value = String(Math.round(s.opacity * 100));
    lines.checked = s.lines;
    Object.assign(root.dataset, {
      state: view,
      module: String(s.module),
      measure: s.measure,
      surface: String(request.surface),
      patch: request.patch.join(","),
    });
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(paint);
  }

  function onClick(event) {
    const s = state();
    const { grid, request } = requestFor(s, s.module);
    const { x, y } = stage.imagePoint(event);
    const cell = cellAt(grid, x, y);
    if (!cell) return;
    model.set("surface", request.surface);
    model.set("patch", [cell.r, cell.c, grid.rows, grid.cols]);
    model.set("measure", "patch");
    model.save_changes();
    paint();
  }

  function onMove(event) {
    readout.textContent = "";
    if (!shown) return;
    const { x, y } = stage.imagePoint(event);
    const cell = cellAt(shown.grid, x, y);
    if (!cell) return;
    const i = cell.r * shown.grid.cols + cell.c;
    const { entry } = shown;
    const values =
      entry.shape.length === 3
        ? [0, 1, 2].map((k) => entry.data[3 * i + k].toFixed(3)).join(", ")
        : entry.data[i].toFixed(4);
    readout.textContent = `(${cell.r}, ${cell.c}): ${values}`;
  }

  module.addEventListener("input", () => setTrait(model, "module", Number(module.value)));
  measure.addEventListener("change", () => setTrait(model, "measure", measure.value));
  channel.addEventListener("change", () => {
    const value = Math.round(Number(channel.value));
    const top = (model.get("module_dims")[model.get("module")] ?? 1) - 1;
    if (Number.isFinite(value)) setTrait(model, "channel", Math.min(top, Math.max(0, value)));
  });
  token.addEventListener("change", () => setTrait(model, "text_token", Number(token.value)));
  surface.addEventListener("change", () => setTrait(model, "surface", Number(surface.value)));
  opacity.addEventListener("input", () => setTrait(model, "opacity", Number(opacity.value) / 100));
  lines.addEventListener("change", () => setTrait(model, "show_lines", lines.checked));
  const submit = () => setTrait(model, "pattern", pattern.value.trim());
  runButton.addEventListener("click", submit);
  pattern.addEventListener("keydown", (event) => {
    event.stopPropagation();
    if (event.key === "Enter") submit();
  });
  canvas.addEventListener("click", onClick);
  canvas.addEventListener("pointermove", onMove);
  canvas.addEventListener("pointerleave", () => {
    readout.textContent = "";
  });
  const onMessage = (msg, buffers) => store.handle(msg, buffers);
  const stopState = onChange(
    model,
    [
      "module",
      "measure",
      "channel",
      "patch",
      "text_token",
      "surface",
      "opacity",
      "show_lines",
      "size",
      "note",
    ],
    () => paint(),
  );
  const stopData = onChange(model, ["data_version"], () => {
    store.reset();
    reload();
    paint();
  });
  const stopPattern = onChange(model, ["pattern"], () => {
    pattern.value = model.get("pattern");
  });
  model.on("msg:custom", onMessage);
  reload();
  paint();

  return () => {
    stopState();
    stopData();
    stopPattern();
    model.off("msg:custom", onMessage);
    if (frame) cancelAnimationFrame(frame);
    store.close();
  };
}

export default { render };
