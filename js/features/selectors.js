// The brush rectangle or lasso polygon drawn by bqplot's selectors on the FeatureMap figure
// beside a SelectionList, as fractions of the plot area, for the kernel to select with. In
// JupyterLab 4.6 bqplot 0.13's brush draws its rectangle but sends neither `selected_x` /
// `selected_y` nor the mark's `selected` (its handlers read d3's current event from another
// copy of d3-selection), and its lasso sends an empty `selected` for bqplot-gl's ScatterGL;
// the shapes on the page are right, so the view reads them after each drag and the kernel
// selects (FeatureMap._on_box / _on_lasso, widgets/features/regions.py).

/**
 * Fractions [x0, y0, x1, y1] of the plot area (0 = left / top) that `selection` covers
 * inside `overlay` (d3-brush's two rects), or [] when no rectangle is shown.
 * @param {{x: number, y: number, width: number, height: number, shown: boolean}} selection
 * @param {{width: number, height: number}} overlay
 * @returns {number[]}
 */
export function boxFractions(selection, overlay) {
  if (!selection.shown || !(selection.width > 0 && selection.height > 0)) return [];
  if (!(overlay.width > 0 && overlay.height > 0)) return [];
  const clamp = (v) => Math.min(1, Math.max(0, v));
  return [
    clamp(selection.x / overlay.width),
    clamp(selection.y / overlay.height),
    clamp((selection.x + selection.width) / overlay.width),
    clamp((selection.y + selection.height) / overlay.height),
  ];
}

/**
 * The vertices of an SVG path made of M / L / Z commands ("M1,2L3,4Z"), as fractions of a
 * width x height area, flat [x0, y0, x1, y1, ...]; [] for fewer than three vertices.
 * @param {string} d
 * @param {number} width
 * @param {number} height
 * @returns {number[]}
 */
export function pathFractions(d, width, height) {
  if (!(width > 0 && height > 0)) return [];
  const numbers = (d.match(/-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?/gi) ?? []).map(Number);
  if (numbers.length < 6 || numbers.length % 2) return [];
  return numbers.map((v, i) => v / (i % 2 ? height : width));
}

const number = (rect, name) => Number.parseFloat(rect.getAttribute(name) ?? "NaN");

/** The brush rectangle in `brush` (a bqplot `.brushintsel` group), as boxFractions. */
export function readBrush(brush) {
  const selection = brush.querySelector("rect.selection");
  const overlay = brush.querySelector("rect.overlay");
  if (!selection || !overlay) return [];
  const shown = selection.style.display !== "none" && selection.getAttribute("display") !== "none";
  return boxFractions(
    {
      x: number(selection, "x"),
      y: number(selection, "y"),
      width: number(selection, "width"),
      height: number(selection, "height"),
      shown,
    },
    { width: number(overlay, "width"), height: number(overlay, "height") },
  );
}

/**
 * The last lasso drawn in `lasso` (a bqplot `.lassoselector` group), as pathFractions of its
 * background rect; the earlier lassos are taken off the page (one lasso = one selection).
 */
export function readLasso(lasso) {
  const paths = Array.from(lasso.querySelectorAll("path"));
  const area = lasso.querySelector("rect");
  const last = paths.pop();
  for (const old of paths) old.remove();
  if (!last || !area) return [];
  return pathFractions(last.getAttribute("d") ?? "", number(area, "width"), number(area, "height"));
}

const figureNextTo = (el) => el.closest(".widget-hbox")?.querySelector(".bqplot");

/** Take every lasso off the figure next to `el` (the kernel cleared the selection). */
export function clearLassos(el) {
  for (const path of figureNextTo(el)?.querySelectorAll(".lassoselector path") ?? []) {
    path.remove();
  }
}

/**
 * Hide the brush rectangle of the figure next to `el` (the kernel cleared the selection; the
 * kernel's `selected_x = None` does not reach bqplot's brush in JupyterLab). d3-brush shows
 * it again on the next drag.
 */
export function clearBrush(el) {
  const parts = ".brushintsel rect.selection, .brushintsel rect.handle";
  for (const rect of figureNextTo(el)?.querySelectorAll(parts) ?? []) {
    rect.style.display = "none";
  }
}

/**
 * After each drag that starts on the brush or lasso of the figure next to `el` (the first
 * `.bqplot` in the nearest `.widget-hbox` around it), call `onBox(readBrush(..))` or
 * `onLasso(readLasso(..))`. Returns the remover.
 * @param {HTMLElement} el
 * @param {(box: number[]) => void} onBox
 * @param {(polygon: number[]) => void} onLasso
 */
export function watchSelectors(el, onBox, onLasso) {
  // Pointer events on the window, capturing: d3 stops the mouse events it handles.
  const view = el.ownerDocument.defaultView;
  let held = null;
  const down = (event) => {
    const figure = figureNextTo(el);
    const target = event.target instanceof Element ? event.target : null;
    held =
      figure && target && figure.contains(target)
        ? target.closest(".brushintsel, .lassoselector")
        : null;
  };
  const up = () => {
    if (!held) return;
    const group = held;
    held = null;
    setTimeout(() => {
      // after d3 has had the mouseup
      if (group.classList.contains("lassoselector")) onLasso(readLasso(group));
      else onBox(readBrush(group));
    }, 0);
  };
  view?.addEventListener("pointerdown", down, true);
  view?.addEventListener("pointerup", up, true);
  return () => {
    view?.removeEventListener("pointerdown", down, true);
    view?.removeEventListener("pointerup", up, true);
  };
}
