// The panels under the heatmap: model overview (thumbnails of every layer x head) and the
// per-head metrics table. Both read traits computed in the kernel; picking a head sets
// `layer` and `head` on the model, which every view follows.

import { drawHeatmap, place } from "../shared/heatmap.js";
import { truncateLabel } from "../shared/layout.js";
import { onChange, setTrait } from "../shared/model.js";
import { drawFocusBlock, focusRowPx, lineToHead } from "./focus.js";
import { drawLines, MAX_LINE_TOKENS, tokenAt } from "./lines.js";
import { drawMetricsTable, readMetrics } from "./metrics_table.js";
import { drawOverview, overviewLayout, readThumbnails, thumbAt } from "./overview.js";
import { drawOverviewLabels } from "./overview_labels.js";

function node(tag, className, parent) {
  const n = document.createElement(tag);
  if (className) n.className = className;
  if (parent) parent.appendChild(n);
  return n;
}

export function createPanels(model, root, tiles) {
  const bar = node("div", "attnwidgets-toolbar", root);
  const toggles = {};
  const toggle = (label, flip) => {
    const button = node(
      "button",
      `attnwidgets-toggle attnwidgets-toggle-${label.split(" ")[0]}`,
      bar,
    );
    button.type = "button";
    button.textContent = label;
    button.addEventListener("click", flip);
    return button;
  };
  toggles.show_overview = toggle("overview", () =>
    setTrait(model, "show_overview", !model.get("show_overview")),
  );
  toggles.show_metrics = toggle("head metrics", () =>
    setTrait(model, "show_metrics", !model.get("show_metrics")),
  );
  toggles.show_lines = toggle("token lines", () =>
    setTrait(model, "show_lines", !model.get("show_lines")),
  );
  const overview = node("div", "attnwidgets-overview", root);
  const grid = node("div", "attnwidgets-overview-grid", overview);
  const thumbLabels = node("div", "attnwidgets-thumb-labels", grid); // L0.. and H0..
  const canvas = node("canvas", "attnwidgets-thumbnails", grid);
  const marker = node("div", "attnwidgets-thumb-selected", grid);
  const overviewStatus = node("div", "attnwidgets-panel-status", overview);
  const metricsBox = node("div", "attnwidgets-metrics", root);
  const metricsStatus = node("div", "attnwidgets-panel-status", metricsBox);
  const scroller = node("div", "attnwidgets-metrics-scroll", metricsBox);
  const table = node("table", "attnwidgets-metrics-table", scroller);
  const linesBox = node("div", "attnwidgets-lines", root);
  const linesBar = node("label", "attnwidgets-lines-bar", linesBox);
  const allHeads = node("input", "attnwidgets-lines-all", linesBar);
  allHeads.type = "checkbox";
  linesBar.append(" all heads of the layer (one colour per head)");
  const linesStatus = node("div", "attnwidgets-panel-status", linesBox);
  const linesCanvas = node("canvas", "attnwidgets-token-lines", linesBox);
  let linesState = null; // {context, layout, hover}
  const redrawLines = () => {
    if (linesState) drawTokenLines(linesState.context, linesState.hover);
  };
  allHeads.addEventListener("change", redrawLines);
  linesCanvas.addEventListener("mousemove", (event) => {
    if (!linesState?.layout) return;
    const rect = linesCanvas.getBoundingClientRect();
    const { view } = linesState.context;
    const hit = tokenAt(
      linesState.layout,
      view.q1 - view.q0,
      view.k1 - view.k0,
      event.clientX - rect.left,
      event.clientY - rect.top,
    );
    if (JSON.stringify(hit) !== JSON.stringify(linesState.hover)) {
      linesState.hover = hit;
      redrawLines();
    }
  });
  linesCanvas.addEventListener("mouseleave", () => {
    if (linesState?.hover) {
      linesState.hover = null;
      redrawLines();
    }
  });

  function drawTokenLines(context, hover = null) {
    linesState = { context, hover, layout: null };
    const { entry, view, head } = context;
    const span = Math.max(view.q1 - view.q0, view.k1 - view.k0);
    let problem = null;
    if (!entry) problem = "token lines need the layer in the browser: zoom into fewer tokens";
    else if (span > MAX_LINE_TOKENS) {
      problem = `token lines show up to ${MAX_LINE_TOKENS} tokens: zoom the heatmap (wheel) to pick a range`;
    }
    linesStatus.textContent = problem ?? "";
    linesCanvas.hidden = Boolean(problem);
    if (problem) return;
    const heads = allHeads.checked ? Array.from({ length: entry.shape[0] }, (_, h) => h) : [head];
    linesState.layout = drawLines(linesCanvas, { ...context, heads, hover });
  }

  const focus = node("div", "attnwidgets-focus", root);
  const focusTitle = node("div", "attnwidgets-focus-title", focus);
  const focusStatus = node("div", "attnwidgets-panel-status", focus);
  const focusCanvases = ["attends to", "attended by"].map((what, block) => {
    const label = node("div", "attnwidgets-focus-label", focus);
    label.textContent = `${what} (rows: layer·head, columns: token positions)`;
    const canvas = node("canvas", `attnwidgets-focus-${block ? "from" : "to"}`, focus);
    canvas.addEventListener("click", (event) => {
      const rect = canvas.getBoundingClientRect();
      const lines = Number(canvas.dataset.lines) || 0;
      const line = Math.floor(((event.clientY - rect.top) / rect.height) * lines);
      if (line >= 0 && line < lines) {
        const { layer, head } = lineToHead(line, Number(model.get("n_heads")) || 1);
        pick(layer, head);
      }
    });
    canvas.addEventListener("mousemove", (event) => {
      const rect = canvas.getBoundingClientRect();
      const lines = Number(canvas.dataset.lines) || 0;
      const line = Math.floor(((event.clientY - rect.top) / rect.height) * lines);
      const { layer, head } = lineToHead(line, Number(model.get("n_heads")) || 1);
      canvas.title = line >= 0 && line < lines ? `layer ${layer} · head ${head}` : "";
    });
    return canvas;
  });
  const compareBox = node("div", "attnwidgets-compare", root);
  let sort = { key: "layer", descending: false };
  let thumbs = null;
  let layout = null;

  const pick = (layer, head) => {
    model.set("layer", layer);
    model.set("head", head);
    model.save_changes();
  };

  canvas.addEventListener("click", (event) => {
    if (!thumbs || !layout) return;
    const rect = canvas.getBoundingClientRect();
    const hit = thumbAt(layout, event.clientX - rect.left, event.clientY - rect.top);
    if (hit) pick(hit.layer, hit.head);
  });
  canvas.addEventListener("mousemove", (event) => {
    const rect = canvas.getBoundingClientRect();
    const hit = layout && thumbAt(layout, event.clientX - rect.left, event.clientY - rect.top);
    canvas.title = hit ? `layer ${hit.layer} · head ${hit.head}` : "";
  });

  function drawThumbs(width, dpr) {
    thumbs = readThumbnails(model.get("thumbnails"));
    if (!thumbs) {
      overviewStatus.textContent = "computing thumbnails in the kernel…";
      canvas.hidden = true;
      marker.hidden = true;
      return;
    }
    const kind = model.get("thumbnails")?.kind;
    overviewStatus.textContent =
      kind && kind !== "probability"
        ? `thumbnails of ${kind} values, each head over its own range`
        : "";
    canvas.hidden = false;
    layout = overviewLayout(thumbs, width);
    grid.style.width = `${layout.w}px`;
    grid.style.height = `${layout.h}px`;
    grid.style.paddingLeft = `${layout.labelW}px`; // room for the labels (overview_labels.js)
    grid.style.paddingTop = `${layout.labelH}px`;
    drawOverview(canvas, thumbs, layout, dpr);
    drawOverviewLabels(thumbLabels, thumbs, layout);
    const layer = Number(model.get("layer"));
    const head = Number(model.get("head"));
    const left = layout.labelW + head * layout.pitch;
    place(marker, left, layout.labelH + layer * layout.pitchY, layout.pitch, layout.pitchY);
    marker.hidden = !(layer < thumbs.layers && head < thumbs.heads);
  }

  function drawTable() {
    const metrics = readMetrics(model.get("metrics"));
    if (!metrics) {
      metricsStatus.textContent = "computing head metrics in the kernel…";
      table.replaceChildren();
      return;
    }
    // Entropy, mass on the diagonal... are properties of the softmax: they stay on probabilities.
    const kind = model.get("value_kind") || "probability";
    metricsStatus.textContent =
      kind === "probability"
        ? ""
        : `metrics are computed on the probabilities (after softmax), not on ${kind} values`;
    const selected = { layer: Number(model.get("layer")), head: Number(model.get("head")) };
    drawMetricsTable(table, metrics, {
      sort,
      selected,
      onSort: (key) => {
        sort = { key, descending: sort.key === key ? !sort.descending : key !== "layer" };
        drawTable();
      },
      onPick: pick,
      compared: model.get("compare_heads") ?? [],
      onCompare: (layer, head, on) => {
        const rest = (model.get("compare_heads") ?? []).filter(
          ([l, h]) => l !== layer || h !== head,
        );
        model.set("compare_heads", on ? [...rest, [layer, head]] : rest);
        model.save_changes();
      },
    });
  }

  // Heads ticked for comparison, side by side, each over its own range (tiles from the kernel).
  function drawCompare(dpr) {
    const picked = model.get("compare_heads") ?? [];
    compareBox.hidden = picked.length === 0;
    const nQ = (model.get("query_tokens") ?? []).length;
    const nK = (model.get("key_tokens") ?? []).length;
    const side = 150;
    const figures = picked.map(([layer, head]) => {
      const figure = node("figure", "attnwidgets-compare-head");
      const caption = node("figcaption", null, figure);
      caption.textContent = `layer ${layer} · head ${head}`;
      const canvas = node("canvas", "attnwidgets-compare-canvas", figure);
      canvas.addEventListener("click", () => pick(layer, head));
      const pixels = [Math.min(nQ, side * dpr), Math.min(nK, side * dpr)].map(Math.round);
      const request = { layer, head, rows: [0, nQ], cols: [0, nK], pixels };
      const tile = nQ && nK ? tiles.ensure(request) : null;
      if (tile) {
        const [r, c] = tile.shape;
        const size = { cssW: side, cssH: side, dpr, lo: tile.lo, hi: tile.hi };
        drawHeatmap(canvas, { values: tile.values, nQ: r, nK: c, ...size });
      } else {
        caption.textContent += ` (${tiles.error(request) ?? "loading…"})`;
      }
      return figure;
    });
    compareBox.replaceChildren(...figures);
  }

  function drawFocus(width, dpr) {
    const token = Number(model.get("focus_token"));
    const tokens = model.get("query_tokens") ?? [];
    focus.hidden = !(token >= 0 && token < tokens.length);
    if (focus.hidden) return;
    const kind = model.get("value_kind") || "probability";
    const of = kind === "probability" ? "" : ` (${kind} values, each row over its own range)`;
    focusTitle.textContent = `token focus: ${token} «${truncateLabel(tokens[token], 40)}», all layers and heads${of}`;
    const cssW = Math.max(100, width - 20);
    const request = { token, width: Math.min(tokens.length, Math.round(cssW * dpr)), kind };
    const reply = tiles.ensure(request, "request_focus");
    if (!reply) {
      focusStatus.textContent = tiles.error(request, "request_focus") ?? "loading token focus…";
      return;
    }
    focusStatus.textContent = "";
    const lines = reply.shape[1];
    focusCanvases.forEach((canvas, block) => {
      canvas.dataset.lines = lines;
      drawFocusBlock(canvas, reply, block, cssW, focusRowPx(lines), dpr);
    });
  }

  return {
    /** context: {entry (layers mode) or null, view, queryTokens, keyTokens, head}. */
    draw(width, dpr, context) {
      linesBox.hidden = !model.get("show_lines") || !context;
      toggles.show_lines.setAttribute("aria-pressed", String(Boolean(model.get("show_lines"))));
      if (!linesBox.hidden) drawTokenLines({ ...context, width: Math.max(200, width - 20), dpr });
      drawFocus(width, dpr);
      drawCompare(dpr);
      const showOverview = Boolean(model.get("show_overview"));
      const showMetrics = Boolean(model.get("show_metrics"));
      toggles.show_overview.setAttribute("aria-pressed", String(showOverview));
      toggles.show_metrics.setAttribute("aria-pressed", String(showMetrics));
      overview.hidden = !showOverview;
      metricsBox.hidden = !showMetrics;
      if (showOverview) drawThumbs(width, dpr);
      if (showMetrics) drawTable();
    },
    watch: (fn) =>
      onChange(
        model,
        ["show_overview", "show_metrics", "thumbnails", "metrics", "show_lines", "compare_heads"],
        fn,
      ),
  };
}
