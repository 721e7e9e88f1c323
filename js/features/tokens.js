// A strip of tokens, each on a background coloured by its value (textContent only: token
// strings are untrusted). The most active token gets an outline.

import { node } from "../shared/dom.js";
import { cssColour, fmt } from "./colours.js";
import { lineText } from "./text.js";

/** Draw `tokens` with `values` (a typed array slice) into `box`. */
export function drawTokens(box, tokens, values, scale) {
  box.replaceChildren();
  let peak = -1;
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i]) && (peak < 0 || values[i] > values[peak])) peak = i;
  }
  tokens.forEach((token, i) => {
    const span = node("span", "aw-nv-token", box, lineText(token));
    const value = values[i];
    span.style.background = cssColour(value, scale);
    span.title = `${lineText(token)}: ${fmt(value)}`;
    span.dataset.value = String(value);
    if (i === peak) span.classList.add("aw-nv-peak");
  });
}
