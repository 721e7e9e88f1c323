// The rectangle of bqplot's BrushSelector on the FeatureMap figure beside a SelectionList, as
// fractions of the plot area. In JupyterLab 4.6 bqplot 0.13's brush draws its rectangle but
// sends neither `selected_x` / `selected_y` nor the mark's `selected` (its handlers read
// d3's current event from another copy of d3-selection); the rectangle on the page is right,
// so the view reads it after each drag and the kernel selects (FeatureMap._on_box).

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
 * After each drag that starts on the brush of the figure next to `el` (the first `.bqplot` in
 * the nearest `.widget-hbox` around it), call `onBox` with readBrush. Returns the remover.
 * @param {HTMLElement} el
 * @param {(box: number[]) => void} onBox
 */
export function watchBrush(el, onBox) {
  // Pointer events on the window, capturing: d3-brush stops the mouse events it handles.
  const view = el.ownerDocument.defaultView;
  let brush = null;
  const down = (event) => {
    const figure = el.closest(".widget-hbox")?.querySelector(".bqplot");
    const target = event.target instanceof Element ? event.target : null;
    brush = figure && target && figure.contains(target) ? target.closest(".brushintsel") : null;
  };
  const up = () => {
    if (!brush) return;
    const held = brush;
    brush = null;
    setTimeout(() => onBox(readBrush(held)), 0); // after d3-brush has had the mouseup
  };
  view?.addEventListener("pointerdown", down, true);
  view?.addEventListener("pointerup", up, true);
  return () => {
    view?.removeEventListener("pointerdown", down, true);
    view?.removeEventListener("pointerup", up, true);
  };
}
