// The text with every token's span coloured, virtualised: the text is cut into display lines
// once, and only the lines in (or near) the scrolled window are in the DOM, so a 100,000-
// character text costs the same per frame as a short one. With several tokenizers each line
// has one row per tokenizer, character-aligned (monospace), and boundaries are marked: green
// where every tokenizer cuts, red where only some do. Text goes in through textContent only.

import { frameScheduler, node } from "../shared/dom.js";
import { BYTE_FALLBACK, SPECIAL, UNKNOWN } from "./data.js";
import { hoverLines } from "./hover_text.js";
import {
  displayLines,
  lowerBound,
  segmentsOf,
  templateAnchors,
  tokensOfSegment,
  tokensOverlapping,
} from "./segments.js";

export const LINE_H = 20; // CSS px per row
const GAP = 6; // between lines of several rows
const OVERSCAN = 6; // lines drawn above and below the window
const GUTTER = 120; // the tokenizer's name, with several
const COLOURS = 6;

/** Class names of a token's span. */
function tokenClass(flags, t, count) {
  let cls = `attnwidgets-tok attnwidgets-tok-c${t % COLOURS}`;
  if (flags & SPECIAL) cls += " attnwidgets-tok-special";
  if (flags & UNKNOWN) cls += " attnwidgets-tok-unknown";
  if (flags & BYTE_FALLBACK) cls += " attnwidgets-tok-fallback";
  if (count > 1) cls += " attnwidgets-tok-multi";
  return cls;
}

export function createTextView(parent, { onHover, onClick, tooltip }) {
  const scroll = node("div", "attnwidgets-tok-scroll", parent);
  const spacer = node("div", "attnwidgets-tok-spacer", scroll);
  const content = node("div", "attnwidgets-tok-lines", scroll);
  const probe = node("span", "attnwidgets-tok-probe", parent, "0".repeat(20));
  let state = null;
  let drawn = "";
  let hovered = null; // {k, t}: the token highlighted
  let marked = []; // spans with a highlight class
  let byToken = new Map(); // "k:t" -> spans drawn
  let height = 320;
  const frame = frameScheduler(() => render(false));

  function charWidth() {
    const w = probe.getBoundingClientRect().width / 20;
    return w > 0 ? w : 7.8;
  }

  function columns(rows) {
    const width = scroll.clientWidth || parent.clientWidth || 0;
    const usable = width - (rows > 1 ? GUTTER : 0) - 24;
    return usable > 80 ? Math.floor(usable / charWidth()) : 100;
  }

  /** New text and tokens: cut lines and segments (O(text + tokens)), draw the window. */
  function setData(text, data, viewHeight) {
    height = viewHeight;
    const tokenizers = data.tokenizers;
    const rows = tokenizers.length;
    const extra = rows > 1 ? data.boundaries : [];
    const segs = tokenizers.map((tok) => segmentsOf(tok, text.length, extra));
    const anchors = rows === 1 ? templateAnchors(tokenizers[0], text.length) : [];
    const cols = columns(rows);
    state = {
      text,
      data,
      tokenizers,
      rows,
      segs,
      anchors,
      anchorAt: Int32Array.from(anchors, (a) => a.at),
      cols,
      lines: displayLines(text, cols),
      stride: rows * LINE_H + (rows > 1 ? GAP : 0),
    };
    fitHeight();
    render(true);
  }

  /** The spacer holds every line; the window is no taller than them (a short text). */
  function fitHeight() {
    const total = state.lines.starts.length * state.stride;
    spacer.style.height = `${total}px`;
    scroll.style.height = `${Math.min(height, total + 4)}px`;
  }

  /** Wrap again when the width changed (a tab shown, a resized window). */
  function resized() {
    if (!state) return;
    const cols = columns(state.rows);
    if (cols === state.cols) return;
    state.cols = cols;
    state.lines = displayLines(state.text, cols);
    fitHeight();
    render(true);
  }

  function windowLines() {
    const n = state.lines.starts.length;
    const first = Math.max(0, Math.floor(scroll.scrollTop / state.stride) - OVERSCAN);
    const last = Math.min(n, Math.ceil((scroll.scrollTop + height) / state.stride) + OVERSCAN);
    return [first, last];
  }

  function render(force) {
    if (!state) return;
    const [first, last] = windowLines();
    const key = `${first}:${last}`;
    if (!force && key === drawn) return;
    drawn = key;
    byToken = new Map();
    marked = [];
    const fragment = content.ownerDocument.createDocumentFragment();
    for (let line = first; line < last; line++) {
      const box = node("div", "attnwidgets-tok-line", fragment);
      box.dataset.line = line;
      box.style.height = `${state.stride}px`;
      for (let k = 0; k < state.rows; k++) box.appendChild(row(line, k));
    }
    content.style.transform = `translateY(${first * state.stride}px)`;
    content.replaceChildren(fragment);
    scroll.dataset.lines = `${first}-${last}`;
    highlight();
  }

  function remember(k, t, span) {
    const key = `${k}:${t}`;
    const list = byToken.get(key);
    if (list) list.push(span);
    else byToken.set(key, [span]);
  }

  function chip(k, t, into) {
    const tok = state.tokenizers[k];
    const span = node("span", "attnwidgets-tok attnwidgets-tok-template", into, tok.readable(t));
    span.dataset.t = t;
    remember(k, t, span);
  }

  /** One row: line `line` of the text as tokenizer k cuts it. */
  function row(line, k) {
    const { text, lines, segs, tokenizers } = state;
    const tok = tokenizers[k];
    const seg = segs[k];
    const doc = content.ownerDocument;
    const rowBox = doc.createElement("div");
    rowBox.className = "attnwidgets-tok-row";
    if (state.rows > 1) node("span", "attnwidgets-tok-rowname", rowBox, tok.name).title = tok.name;
    const body = node("div", "attnwidgets-tok-body", rowBox);
    body.dir = "auto";
    body.dataset.k = k;
    const a = lines.starts[line];
    body.dataset.start = a;
    const b = lines.ends[line];
    const last = b >= text.length;
    let anchor = state.rows === 1 ? lowerBound(state.anchorAt, a) : state.anchors.length;
    let s = Math.max(0, lowerBound(seg.cuts, a + 1) - 1);
    for (; s < seg.token.length && seg.cuts[s] < b; s++) {
      const x = Math.max(seg.cuts[s], a);
      const y = Math.min(seg.cuts[s + 1], b);
      while (anchor < state.anchors.length && state.anchorAt[anchor] <= x) {
        chip(k, state.anchors[anchor].t, body); // template tokens before the text they precede
        anchor += 1;
      }
      if (y <= x) continue;
      const t = seg.token[s];
      if (t < 0) {
        body.appendChild(doc.createTextNode(text.slice(x, y)));
        continue;
      }
      const span = doc.createElement("span");
      span.className = tokenClass(tok.flags[t], t, seg.count[s]);
      span.textContent = text.slice(x, y);
      span.dataset.t = t;
      span.dataset.s = s;
      if (state.rows > 1 && x === seg.cuts[s]) markBoundary(span, k, x, "");
      if (state.rows > 1 && y === seg.cuts[s + 1] && !(seg.token[s + 1] >= 0)) {
        markBoundary(span, k, y, "-after"); // a token's end before text it drops (a space)
      }
      body.appendChild(span);
      remember(k, t, span);
    }
    if (last) {
      for (; anchor < state.anchors.length; anchor++) chip(k, state.anchors[anchor].t, body);
    }
    const br = lines.breaks[line];
    // the newline itself (\n, \r\n or \r): drawn as ↵ / ← with the token that holds it
    let marker = null;
    for (let p = b; p < br; p++) {
      const at = Math.max(0, lowerBound(seg.cuts, p + 1) - 1);
      const t = at < seg.token.length ? seg.token[at] : -1;
      const glyph = text[p] === "\r" ? "←" : "↵"; // a carriage return: back to the start
      if (t < 0) {
        marker = null;
      } else if (marker && Number(marker.dataset.t) === t) {
        marker.textContent += glyph;
      } else {
        marker = node("span", `${tokenClass(tok.flags[t], t, 1)} attnwidgets-tok-eol`, body);
        marker.textContent = glyph;
        marker.dataset.t = t;
        marker.dataset.s = at;
        remember(k, t, marker);
      }
    }
    return rowBox;
  }

  function markBoundary(span, k, position, side) {
    const { boundaries, present, agreed } = state.data;
    const i = lowerBound(boundaries, position);
    if (i >= boundaries.length || boundaries[i] !== position || !present[k][i]) return;
    span.classList.add(`attnwidgets-tok-${agreed[i] ? "agree" : "differ"}${side}`);
  }

  /** Apply the highlight classes of `hovered` to the spans drawn. */
  function highlight() {
    for (const span of marked) {
      span.classList.remove("attnwidgets-tok-hover", "attnwidgets-tok-linked");
    }
    marked = [];
    if (!state || !hovered) return;
    const { k, t } = hovered;
    const tok = state.tokenizers[k];
    if (!tok || t >= tok.n) return;
    for (const span of byToken.get(`${k}:${t}`) ?? []) {
      span.classList.add("attnwidgets-tok-hover");
      marked.push(span);
    }
    if (state.rows < 2 || tok.ends[t] <= tok.starts[t]) return;
    for (let j = 0; j < state.rows; j++) {
      if (j === k) continue;
      for (const other of tokensOverlapping(state.tokenizers[j], tok.starts[t], tok.ends[t])) {
        for (const span of byToken.get(`${j}:${other}`) ?? []) {
          span.classList.add("attnwidgets-tok-linked");
          marked.push(span);
        }
      }
    }
  }

  function targetOf(event) {
    const span = event.target?.closest?.("[data-t]");
    if (!span || !content.contains(span)) return null;
    const k = Number(span.parentNode?.dataset?.k ?? 0);
    return { k, t: Number(span.dataset.t), s: span.dataset.s ? Number(span.dataset.s) : -1 };
  }

  function showTooltip(event, target) {
    const tok = state.tokenizers[target.k];
    const covering =
      target.s >= 0 ? tokensOfSegment(tok, state.segs[target.k], target.s) : [target.t];
    tooltip.textContent = hoverLines(tok, target.t, state.text, covering).join("\n");
    tooltip.hidden = false;
    const box = parent.getBoundingClientRect();
    const left = event.clientX - box.left + 14;
    const maxLeft = Math.max(0, box.width - tooltip.offsetWidth - 4);
    tooltip.style.left = `${Math.min(left, maxLeft)}px`;
    tooltip.style.top = `${event.clientY - box.top + 18}px`;
  }

  function onMove(event) {
    if (!state) return;
    const target = targetOf(event);
    if (!target) {
      tooltip.hidden = true;
      return;
    }
    showTooltip(event, target);
    if (hovered?.k === target.k && hovered?.t === target.t) return;
    hovered = { k: target.k, t: target.t };
    highlight();
    onHover?.(target.k, target.t);
  }

  const onLeave = () => {
    tooltip.hidden = true;
  };
  const onClickEvent = (event) => {
    const target = targetOf(event);
    if (target && state) onClick?.(target.k, target.t, state.tokenizers[target.k].starts[target.t]);
  };
  const onScroll = () => frame.schedule();
  content.addEventListener("pointermove", onMove);
  content.addEventListener("pointerleave", onLeave);
  content.addEventListener("click", onClickEvent);
  scroll.addEventListener("scroll", onScroll);

  return {
    scroll,
    setData,
    resized,
    /** Highlight token t of tokenizer k (from elsewhere: hover_token); scroll to it when it
     * is out of sight. t < 0 clears. */
    setHover(k, t, reveal = true) {
      hovered = t >= 0 ? { k, t } : null;
      if (hovered && reveal && state) revealToken(k, t);
      highlight();
    },
    get hovered() {
      return hovered;
    },
    dispose() {
      frame.cancel();
      content.removeEventListener("pointermove", onMove);
      content.removeEventListener("pointerleave", onLeave);
      content.removeEventListener("click", onClickEvent);
      scroll.removeEventListener("scroll", onScroll);
    },
  };

  function revealToken(k, t) {
    const tok = state.tokenizers[k];
    if (!tok || t >= tok.n) return;
    const line = Math.max(0, lowerBound(state.lines.starts, tok.starts[t] + 1) - 1);
    const top = line * state.stride;
    if (top < scroll.scrollTop || top + state.stride > scroll.scrollTop + height) {
      scroll.scrollTop = Math.max(0, top - height / 3);
      render(false);
    }
  }
}
