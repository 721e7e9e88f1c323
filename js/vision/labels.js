// Labels that reach the page are untrusted (module paths, token names): they go through
// textContent / title / fillText only, and invisible or direction-changing characters are
// shown as marks, so a label reads as what it is.

const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function mark(ch) {
  return `⟨U+${ch.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}⟩`;
}

/** A label safe to read: bidi controls as ⟨U+202E⟩, \n and \t escaped, other controls marked. */
export function shownLabel(text) {
  let out = "";
  for (const ch of String(text ?? "").replace(BIDI, mark)) {
    const code = ch.codePointAt(0);
    const control = code < 0x20 || (code >= 0x7f && code <= 0x9f);
    if (!control) out += ch;
    else out += ch === "\n" ? "\\n" : ch === "\t" ? "\\t" : mark(ch);
  }
  return out;
}

/** A label cut to at most n characters (with an ellipsis). */
export function shortLabel(text, n = 40) {
  const shown = shownLabel(text);
  return shown.length <= n ? shown : `${shown.slice(0, n - 1)}…`;
}

/** A small DOM helper: a new element with a class, appended to parent, with text content. */
export function element(tag, className, parent, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}
