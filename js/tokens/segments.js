// Pure geometry of the text view: which token covers each piece of the text, where template
// tokens go, and how the text is cut into display lines. Positions are UTF-16 indices (the
// payload's offsets), so they index the JavaScript string directly.

import { TEMPLATE } from "./data.js";

/** First index i with sorted[i] >= value (sorted.length if none). */
export function lowerBound(sorted, value, lo = 0, hi = sorted.length) {
  let a = lo;
  let b = hi;
  while (a < b) {
    const mid = (a + b) >> 1;
    if (sorted[mid] < value) a = mid + 1;
    else b = mid;
  }
  return a;
}

/** True for a token drawn in the text: not added by the template, and not empty. */
export function inText(tok, t) {
  return !(tok.flags[t] & TEMPLATE) && tok.ends[t] > tok.starts[t];
}

/**
 * The text cut at every token start and end (and at `extra` positions): `cuts` (sorted, from
 * 0 to textLength), and per segment [cuts[s], cuts[s+1]) the first token covering it
 * (`token`, -1 for none: text a tokenizer dropped) and how many tokens cover it (`count`: a
 * character split into byte pieces is covered by each of them).
 */
export function segmentsOf(tok, textLength, extra = []) {
  const points = [0, textLength];
  for (let t = 0; t < tok.n; t++) {
    if (!inText(tok, t)) continue;
    points.push(Math.max(0, Math.min(textLength, tok.starts[t])));
    points.push(Math.max(0, Math.min(textLength, tok.ends[t])));
  }
  for (const p of extra) if (p > 0 && p < textLength) points.push(p);
  const sorted = Int32Array.from(points).sort();
  let m = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[m++] = sorted[i];
  }
  const cuts = sorted.slice(0, m);
  const segments = Math.max(0, m - 1);
  const token = new Int32Array(segments).fill(-1);
  const count = new Int32Array(segments);
  for (let t = tok.n - 1; t >= 0; t--) {
    // the last token first: the first one covering a segment is the one left there
    if (!inText(tok, t)) continue;
    const i1 = lowerBound(cuts, tok.ends[t]);
    for (let i = lowerBound(cuts, tok.starts[t]); i < i1; i++) {
      token[i] = t;
      count[i] += 1;
    }
  }
  return { cuts, token, count };
}

/** Template tokens (BOS, [CLS], [SEP]...) and where each is drawn: before the next token of
 * the text, or at the end: [{t, at}] in token order. */
export function templateAnchors(tok, textLength) {
  const out = [];
  let next = textLength;
  const at = new Int32Array(tok.n);
  for (let t = tok.n - 1; t >= 0; t--) {
    if (inText(tok, t)) next = tok.starts[t];
    at[t] = next;
  }
  for (let t = 0; t < tok.n; t++) if (tok.flags[t] & TEMPLATE) out.push({ t, at: at[t] });
  return out;
}

/** Every token covering segment s, first first. */
export function tokensOfSegment(tok, seg, s) {
  const first = seg.token[s];
  if (first < 0) return [];
  const a = seg.cuts[s];
  const b = seg.cuts[s + 1];
  const out = [];
  for (let t = first; t < tok.n && out.length < seg.count[s]; t++) {
    if (inText(tok, t) && tok.starts[t] <= a && tok.ends[t] >= b) out.push(t);
    if (tok.starts[t] >= b && !(tok.flags[t] & TEMPLATE)) break;
  }
  return out;
}

/** Tokens of `tok` whose span overlaps [a, b) (in order). */
export function tokensOverlapping(tok, a, b) {
  const out = [];
  for (let t = 0; t < tok.n; t++) {
    if (inText(tok, t) && tok.starts[t] < b && tok.ends[t] > a) out.push(t);
  }
  return out;
}

const LOW_SURROGATE = (c) => c >= 0xdc00 && c <= 0xdfff;
const JOINS = /^(?:\p{M}|\u200d|[\ufe00-\ufe0f])$/u;

/** Move a cut forward off the middle of a character: a surrogate pair, a combining mark, a
 * zero-width joiner sequence or a variation selector stay with what comes before them. */
function safeCut(text, cut, end) {
  let c = cut;
  while (c < end) {
    const code = text.charCodeAt(c);
    const previous = text.charCodeAt(c - 1);
    if (LOW_SURROGATE(code) || previous === 0x200d || JOINS.test(text[c])) c += 1;
    else break;
  }
  return c;
}

/**
 * The text as display lines of at most `maxCols` UTF-16 units: cut at newlines ("\n", "\r\n",
 * "\r"), long lines at the last space or tab (else anywhere but inside a character).
 * Returns {starts, ends, breaks}: line i draws [starts[i], ends[i]); [ends[i], breaks[i]) is
 * the newline it ends with (empty when wrapped or at the end).
 */
export function displayLines(text, maxCols) {
  const cols = Math.max(8, Math.floor(maxCols));
  const starts = [];
  const ends = [];
  const breaks = [];
  const n = text.length;
  let start = 0;
  while (start <= n) {
    let eol = start;
    while (eol < n && text[eol] !== "\n" && text[eol] !== "\r") eol += 1;
    let next = eol;
    if (eol < n) next = text[eol] === "\r" && text[eol + 1] === "\n" ? eol + 2 : eol + 1;
    let a = start;
    while (eol - a > cols) {
      let cut = a + cols;
      let space = cut;
      while (space > a + (cols >> 1) && !/[ \t]/.test(text[space - 1])) space -= 1;
      cut = space > a + (cols >> 1) ? space : safeCut(text, cut, eol);
      starts.push(a);
      ends.push(cut);
      breaks.push(cut);
      a = cut;
    }
    starts.push(a);
    ends.push(eol);
    breaks.push(next);
    if (eol >= n) break;
    start = next;
  }
  return {
    starts: Int32Array.from(starts),
    ends: Int32Array.from(ends),
    breaks: Int32Array.from(breaks),
  };
}

/** The word around position `pos`: the run of non-space characters holding it, with the one
 * space before it (byte-level BPE reads " word" as one pre-token). "" on a space. */
export function wordAt(text, pos) {
  const space = /\s/;
  if (pos < 0 || pos >= text.length || space.test(text[pos])) return "";
  let a = pos;
  let b = pos;
  while (a > 0 && !space.test(text[a - 1])) a -= 1;
  while (b < text.length && !space.test(text[b])) b += 1;
  if (a > 0 && text[a - 1] === " ") a -= 1;
  return text.slice(a, b);
}
