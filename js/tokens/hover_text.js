// What the hover says about a token, as plain text (set with textContent): id, raw piece,
// readable form, the text it covers, its bytes, its rank and its flags.

import { BYTE_FALLBACK, SPECIAL, TEMPLATE, UNKNOWN } from "./data.js";

/** Bytes as hex pairs: "e3 81 ae (3 bytes)". */
export function hexBytes(bytes, max = 24) {
  const shown = Array.from(bytes.subarray(0, max), (b) => b.toString(16).padStart(2, "0"));
  const more = bytes.length > max ? " …" : "";
  return `${shown.join(" ")}${more} (${bytes.length} byte${bytes.length === 1 ? "" : "s"})`;
}

/** Tabs, newlines and other control characters, and bidi controls, made visible in a quoted
 * piece (as the attention view's labels show them: \\t, \\n, ⟨U+202E⟩). */
export function visible(text) {
  return text
    .replace(/[\u202a-\u202e\u2066-\u2069\u200e\u200f]/gu, (c) => {
      return `⟨U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}⟩`;
    })
    .replace(/\t/g, "\\t")
    .replace(/\r/g, "\\r")
    .replace(/\n/g, "\\n")
    .replace(/\p{Cc}/gu, (c) => {
      return `⟨U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}⟩`;
    });
}

/** The rank line: what the tokenizer's data says about how common the piece is. */
export function rankText(tok, t) {
  const rank = tok.rank[t];
  if (tok.rank_basis === "merge") {
    return rank < 0
      ? "rank: no merge makes it (a byte or a character of the alphabet)"
      : `rank: merge ${rank.toLocaleString("en-US")} (the ${ordinal(rank + 1)} merge learned)`;
  }
  if (tok.rank_basis === "score") {
    const score = tok.scores[t];
    const logp = Number.isFinite(score) ? `, log p ${score.toFixed(2)}` : "";
    return `rank: ${rank.toLocaleString("en-US")} pieces score higher${logp}`;
  }
  return `rank: id ${rank.toLocaleString("en-US")} (id order, a proxy for frequency)`;
}

function ordinal(n) {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" }[n % 10] ?? "th");
  return `${n.toLocaleString("en-US")}${suffix}`;
}

/** Flags of a token as words. */
export function flagWords(flags) {
  const out = [];
  if (flags & TEMPLATE) out.push("added by the template");
  if (flags & SPECIAL) out.push("special token (written in the text)");
  if (flags & UNKNOWN) out.push("unknown: the vocabulary has no piece for this text");
  if (flags & BYTE_FALLBACK) out.push("byte fallback: one raw byte");
  return out;
}

/**
 * Lines describing token t of `tok` in `text`; `covering`: every token covering the same
 * characters (byte pieces of one character) when there are several.
 */
export function hoverLines(tok, t, text, covering = [t]) {
  const lines = [`${tok.name} · token ${t} of ${tok.n} · id ${tok.ids[t]}`];
  const piece = tok.piece(t);
  const readable = tok.readable(t);
  lines.push(`piece «${visible(piece)}»`);
  if (readable !== piece) lines.push(`reads «${visible(readable)}»`);
  const a = tok.starts[t];
  const b = tok.ends[t];
  if (!(tok.flags[t] & TEMPLATE)) {
    lines.push(`text «${visible(text.slice(a, b))}» (characters ${a}–${b})`);
  }
  lines.push(`bytes ${hexBytes(tok.bytes(t))}`);
  lines.push(rankText(tok, t));
  for (const word of flagWords(tok.flags[t])) lines.push(word);
  if (tok.groups[t] !== t || (t + 1 < tok.n && tok.groups[t + 1] === t)) {
    lines.push("one of the byte pieces that together read as this text");
  }
  if (covering.length > 1) {
    const pieces = covering.map((c) => `«${visible(tok.piece(c))}»`).join(" ");
    lines.push(`${covering.length} tokens cover these characters: ${pieces}`);
  }
  return lines;
}

/** Counts of one tokenizer's result as one line. */
export function countsText(tok) {
  const c = tok.counts ?? {};
  const template = c.template ? ` (${c.template} added by the template)` : "";
  const parts = [
    `${(c.tokens ?? tok.n).toLocaleString("en-US")} tokens${template}`,
    `${(c.characters ?? 0).toLocaleString("en-US")} characters`,
    `${(c.words ?? 0).toLocaleString("en-US")} words`,
    `${(c.bytes_per_token ?? 0).toFixed(2)} bytes/token`,
    `${c.unknown ?? 0} unknown`,
    `${c.byte_fallback ?? 0} byte fallback`,
  ];
  if (c.special) parts.push(`${c.special} special`);
  return parts.join(" · ");
}
