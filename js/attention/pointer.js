// Pointer and keyboard on the heatmap: hover tooltip, wheel zoom, drag pan, click locks a row,
// double click / Escape reset, arrow keys step head (left/right) and layer (up/down).
// `state` exposes the view's shown picture, its region (`view`, settable) and the sentence
// bounds zoom and pan stay inside; token text reaches the page through textContent only.

import { place } from "../shared/heatmap.js";
import { cellAt, clampIndex, truncateLabel } from "../shared/layout.js";
import { setTrait } from "../shared/model.js";
import { fromLocal, toLocal } from "./sentences.js";
import { panView, zoomView } from "./viewport.js";

export function createPointer({ dom, model, state, schedule }) {
  function hideHover() {
    dom.tooltip.hidden = true;
    dom.cursor.hidden = true;
  }

  function pointer(event) {
    const rect = dom.canvas.getBoundingClientRect();
    return { x: event.clientX - rect.left, y: event.clientY - rect.top };
  }

  function onMove(event) {
    if (drag) return onDrag(event);
    if (!state.shown) return hideHover();
    const { x, y } = pointer(event);
    const { layout: V, view: v, queryTokens, keyTokens, values, rows, cols } = state.shown;
    const cell = cellAt(V, x, y, v.q1 - v.q0, v.k1 - v.k0);
    if (!cell) return hideHover();
    // The stored picture may be pooled: find the value bin under the pointer.
    const r = Math.min(rows - 1, Math.floor((y / V.heatH) * rows));
    const c = Math.min(cols - 1, Math.floor((x / V.heatW) * cols));
    const value = values[r * cols + c];
    const pooled = rows < v.q1 - v.q0 || cols < v.k1 - v.k0;
    const label = `${pooled ? "max " : ""}${model.get("value_kind") || "value"}`;
    const q = truncateLabel(queryTokens[v.q0 + cell.row], 40);
    const k = truncateLabel(keyTokens[v.k0 + cell.col], 40);
    let text = `${label}: ${value.toFixed(3)}`;
    if (value === Number.NEGATIVE_INFINITY) text = "masked";
    else if (Number.isNaN(value)) text = `${label}: NaN (not a number: the forward produced it)`;
    dom.tooltip.textContent = `query: ${q} → key: ${k}\n${text}`;
    dom.tooltip.hidden = false;
    const tipW = dom.tooltip.offsetWidth;
    let left = V.marginLeft + x + 14;
    if (left + tipW > V.width) left = Math.max(0, V.marginLeft + x - tipW - 14);
    dom.tooltip.style.left = `${left}px`;
    dom.tooltip.style.top = `${V.marginTop + y + 14}px`;
    place(
      dom.cursor,
      V.marginLeft + cell.col * V.cellW,
      V.marginTop + cell.row * V.cellH,
      V.cellW,
      V.cellH,
    );
    dom.cursor.hidden = V.cellW < 4 || V.cellH < 4;
  }

  // Zoom (wheel), pan (drag), reset (double click or Escape); the kernel refines tiles.
  let drag = null;
  // Zoom and pan maths run inside the bounds (the sentence filter's block).
  function dims() {
    return [state.bounds.q1 - state.bounds.q0, state.bounds.k1 - state.bounds.k0];
  }
  function onWheel(event) {
    if (!state.shown || !state.view) return;
    event.preventDefault();
    const { x, y } = pointer(event);
    const [nQ, nK] = dims();
    const factor = event.deltaY < 0 ? 1.5 : 1 / 1.5;
    const L = state.shown.layout;
    state.view = fromLocal(
      zoomView(toLocal(state.view, state.bounds), nQ, nK, factor, x / L.heatW, y / L.heatH),
      state.bounds,
    );
    schedule();
  }
  function onDown(event) {
    if (event.button !== 0 || !state.shown) return;
    drag = {
      x: event.clientX,
      y: event.clientY,
      view: { ...state.view },
      layout: state.shown.layout,
    };
    drag.moved = false;
  }
  function onClick(event) {
    if (!state.shown || drag?.moved) return;
    const { y } = pointer(event);
    const v = state.shown.view;
    const row = v.q0 + Math.floor(y / state.shown.layout.cellH);
    if (row < v.q0 || row >= v.q1) return;
    setTrait(model, "focus_token", Number(model.get("focus_token")) === row ? -1 : row);
  }
  function onDrag(event) {
    const [nQ, nK] = dims();
    const dCols = -(event.clientX - drag.x) / drag.layout.cellW;
    const dRows = -(event.clientY - drag.y) / drag.layout.cellH;
    const next = fromLocal(
      panView(toLocal(drag.view, state.bounds), nQ, nK, dRows, dCols),
      state.bounds,
    );
    if (Math.abs(event.clientX - drag.x) + Math.abs(event.clientY - drag.y) > 3) drag.moved = true;
    if (next.q0 !== state.view.q0 || next.k0 !== state.view.k0) {
      state.view = next;
      schedule();
    }
  }
  const onUp = (event) => {
    if (drag && event.target === dom.canvas) onClick(event);
    drag = null;
  };
  function resetView() {
    state.view = null;
    schedule();
  }
  function onKey(event) {
    if (["INPUT", "SELECT", "TEXTAREA", "BUTTON"].includes(event.target?.tagName)) return;
    const steps = { ArrowLeft: ["head", -1], ArrowRight: ["head", 1], ArrowUp: ["layer", -1] };
    steps.ArrowDown = ["layer", 1];
    if (event.key === "Escape") {
      if (Number(model.get("focus_token")) >= 0) setTrait(model, "focus_token", -1);
      return resetView();
    }
    const step = steps[event.key];
    if (!step) return;
    event.preventDefault();
    const [name, delta] = step;
    if (name === "layer") {
      const next = clampIndex(
        Number(model.get("layer")) + delta,
        Number(model.get("n_layers")) || 0,
      );
      if (next >= 0 && next !== model.get("layer")) setTrait(model, "layer", next);
    } else {
      const next = clampIndex(Number(model.get("head")) + delta, Number(model.get("n_heads")) || 0);
      if (next >= 0 && next !== model.get("head")) setTrait(model, "head", next);
    }
  }

  return {
    hideHover,
    listeners: [
      [dom.canvas, "mousemove", onMove],
      [dom.canvas, "mouseleave", hideHover],
      [dom.canvas, "wheel", onWheel],
      [dom.canvas, "mousedown", onDown],
      [dom.canvas, "dblclick", resetView],
      [dom.root, "keydown", onKey],
      [globalThis, "mouseup", onUp],
    ],
  };
}
