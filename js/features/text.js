// Untrusted strings of the feature views (labels, tokens, texts from the data), as text that
// reads as what it is: always set with textContent, bidi controls shown as marks.

import { bidiMark, displayLabel } from "../shared/layout.js";

const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;
const CONTROLS = /[^\P{Cc}\n\t]/gu; // control characters other than newline and tab

/** A label or a token on one line (js/shared/layout.js displayLabel: what every view does). */
export const lineText = displayLabel;

/** A text of several lines (a snippet of source): newlines and tabs kept, other control
 * characters U+FFFD, bidi controls as marks. */
export function blockText(text) {
  return String(text ?? "")
    .replace(CONTROLS, "\ufffd")
    .replace(BIDI_CONTROLS, bidiMark);
}
