// Pure layout maths for the heatmap: sizes in CSS pixels, hit testing, label thinning.

import { isBlank, markWhitespace } from "./whitespace.js";

export const DEFAULT_WIDTH = 600;
export const MAX_CELL = 40; // cells never grow past this, so 5 tokens do not fill the screen
export const MIN_SIDE = 60; // a 1 x 500 map still gets a visible strip
export const MAX_LABEL_CHARS = 16;
export const PAD = 6; // gap between labels and the heatmap
export const AXIS_TITLE = 14; // strip for the axis titles (query left, key above)
const CHAR_WIDTH = 0.62; // average glyph width of a sans font, in font sizes
const LABEL_SLACK = 4; // px
const LINE_HEIGHT = 1.25;

/** Width the view takes inside its container: min(600, available), 600 when unknown. */
export function viewWidth(available) {
  return available > 0 ? Math.min(DEFAULT_WIDTH, available) : DEFAULT_WIDTH;
}

// Bidirectional controls (embeddings, overrides, isolates, marks): drawn as they are, they
// reorder the text around them, so a token could read as another string.
const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/** A bidi control as a visible mark, e.g. ⟨U+202E⟩. */
export function bidiMark(char) {
  return `⟨U+${char.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}⟩`;
}

/**
 * A token as one line of text: newlines, tabs and other control characters made visible, and
 * bidi controls (U+202A-U+202E, U+2066-U+2069, U+200E/U+200F, U+061C) shown as marks.
 */
export function displayLabel(text) {
  if (isBlank(text)) return markWhitespace(text); // "␣", "⏎", "⇥": a blank token stays visible
  return String(text ?? "")
    .replace(/\n/g, "\\n")
    .replace(/\r/g, "\\r")
    .replace(/\t/g, "\\t")
    .replace(/\p{Cc}/gu, "\ufffd")
    .replace(BIDI_CONTROLS, bidiMark);
}

/** Shorten a label to maxChars characters (code points), ending in an ellipsis when cut. */
export function truncateLabel(text, maxChars = MAX_LABEL_CHARS) {
  const chars = Array.from(displayLabel(text));
  if (chars.length <= maxChars) return chars.join("");
  return `${chars.slice(0, Math.max(0, maxChars - 1)).join("")}…`;
}

/** Font size for labels of cells `cell` px tall: 9 to 12 px. */
export function labelFontPx(cell) {
  return Math.max(9, Math.min(12, Math.floor(cell * 0.85)));
}

/** Draw every n-th label so that neighbours (one line tall) do not overlap. */
export function labelStep(cell, fontPx) {
  if (!(cell > 0)) return 1;
  return Math.max(1, Math.ceil((fontPx * LINE_HEIGHT) / cell));
}

/** Estimated pixel width of the longest label (after truncation). */
export function labelWidthPx(labels, fontPx) {
  let longest = 0;
  for (const label of labels) {
    longest = Math.max(longest, Array.from(truncateLabel(label)).length);
  }
  // + LABEL_SLACK: digits and many glyphs are a little wider than the average (no "1…" for 11)
  return longest > 0 ? Math.ceil(longest * fontPx * CHAR_WIDTH) + LABEL_SLACK : 0;
}

function cellSizes(availW, nQ, nK) {
  const cell = Math.min(MAX_CELL, availW / Math.max(nK, 1), availW / Math.max(nQ, 1));
  // Keep a thin map readable: stretch the short side up to MIN_SIDE (never past MAX_CELL).
  const cellW = nK > 0 ? Math.max(cell, Math.min(MAX_CELL, availW / nK, MIN_SIDE / nK)) : cell;
  const cellH = nQ > 0 ? Math.max(cell, Math.min(MAX_CELL, MIN_SIDE / nQ)) : cell;
  return { cellW, cellH };
}

/**
 * Layout of the whole view for a given width and token lists.
 * Returns CSS-pixel sizes: margins for labels, cell size, heatmap size, label font and steps.
 */
export function computeLayout({ width, queryTokens, keyTokens }) {
  const nQ = queryTokens.length;
  const nK = keyTokens.length;
  let fontPx = 12;
  let result = null;
  // Two passes: margins depend on the font, the font on the cell size, the cells on the margins.
  for (let pass = 0; pass < 2; pass++) {
    const marginLeft = AXIS_TITLE + labelWidthPx(queryTokens, fontPx) + PAD;
    const marginTop = AXIS_TITLE + labelWidthPx(keyTokens, fontPx) + PAD;
    const availW = Math.max(MIN_SIDE, width - marginLeft - PAD);
    const { cellW, cellH } = cellSizes(availW, nQ, nK);
    result = {
      width,
      marginLeft,
      marginTop,
      cellW,
      cellH,
      heatW: cellW * nK,
      heatH: cellH * nQ,
      fontPx,
      queryStep: labelStep(cellH, fontPx),
      keyStep: labelStep(cellW, fontPx),
    };
    fontPx = labelFontPx(Math.min(cellW, cellH));
  }
  return result;
}

/** Backing-store size of a canvas shown at cssW x cssH on a screen with devicePixelRatio dpr. */
export function canvasPixels(cssW, cssH, dpr = 1) {
  const ratio = dpr > 0 ? dpr : 1;
  return { w: Math.max(1, Math.round(cssW * ratio)), h: Math.max(1, Math.round(cssH * ratio)) };
}

/** Cell under a point (CSS px, relative to the heatmap's top left), or null outside. */
export function cellAt(layout, x, y, nQ, nK) {
  if (!(x >= 0 && y >= 0 && x < layout.heatW && y < layout.heatH)) return null;
  const col = Math.min(nK - 1, Math.floor(x / layout.cellW));
  const row = Math.min(nQ - 1, Math.floor(y / layout.cellH));
  if (row < 0 || col < 0) return null;
  return { row, col };
}

/** Clamp an index into [0, n - 1]; non-numbers become 0. Returns -1 when n is 0. */
export function clampIndex(value, n) {
  if (!(n > 0)) return -1;
  const v = Number.isFinite(Number(value)) ? Math.trunc(Number(value)) : 0;
  return Math.min(n - 1, Math.max(0, v));
}
