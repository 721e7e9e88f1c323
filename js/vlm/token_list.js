// The text tokens of a VLM's sequence as a list: one row per token with a bar and its value
// (the share on the image, or the attention given to a picked region). Clicking a row picks
// that token. Token strings are untrusted: they reach the page through textContent only,
// bidi controls shown as marks (js/vision/labels.js).

import { element, shortLabel } from "../vision/labels.js";

export const TOKEN_CLASS = "attnwidgets-vlm-token";

/** A token made only of white space reads as marks: ␣ for a space, ⏎ for a line break, ⇥ for
 * a tab (other tokens as they are). */
export function visibleToken(text) {
  const value = String(text ?? "");
  if (!value || /\S/.test(value)) return value;
  return value.replace(/ /g, "␣").replace(/\n/g, "⏎").replace(/\t/g, "⇥");
}

/**
 * Build the list in `parent` for the sequence positions `rows` of `tokens`; positions at or
 * after `generatedFrom` (>= 0) are marked as generated. `onPick(position)` on a click.
 * Returns {update(values, selected, heading, max)}: values[i] belongs to rows[i].
 */
export function buildTokenList(parent, { tokens, rows, generatedFrom, onPick }) {
  const box = element("div", "attnwidgets-vlm-tokens", parent);
  const heading = element("div", "attnwidgets-vlm-tokens-title", box);
  const list = element("div", "attnwidgets-vlm-token-rows", box);
  list.setAttribute("role", "listbox");
  const items = rows.map((position) => {
    const row = element("div", TOKEN_CLASS, list);
    row.dataset.index = String(position);
    row.setAttribute("role", "option");
    row.tabIndex = -1;
    if (generatedFrom >= 0 && position >= generatedFrom) row.classList.add("is-generated");
    const label = element(
      "span",
      "attnwidgets-vlm-token-label",
      row,
      shortLabel(visibleToken(tokens[position]), 18),
    );
    label.title = shortLabel(visibleToken(tokens[position]), 200);
    const bar = element("span", "attnwidgets-vlm-token-bar", row);
    const fill = element("span", "attnwidgets-vlm-token-fill", bar);
    const value = element("span", "attnwidgets-vlm-token-value", row);
    row.addEventListener("click", () => onPick(position));
    return { row, fill, value, position };
  });
  let shown = -1;
  return {
    update(values, selected, title, max = 1) {
      heading.textContent = title;
      const top = max > 0 ? max : 1;
      items.forEach((item, i) => {
        const v = values ? values[i] : Number.NaN;
        item.fill.style.width = `${Number.isFinite(v) ? Math.round((Math.max(0, v) / top) * 100) : 0}%`;
        item.value.textContent = Number.isFinite(v) ? v.toFixed(3) : "";
        item.row.dataset.value = Number.isFinite(v) ? v.toFixed(4) : "";
        const on = item.position === selected;
        item.row.classList.toggle("is-selected", on);
        item.row.setAttribute("aria-selected", String(on));
      });
      if (selected !== shown) {
        shown = selected;
        const item = items.find((it) => it.position === selected);
        if (item && typeof item.row.scrollIntoView === "function")
          item.row.scrollIntoView({ block: "nearest" });
      }
    },
    rows: items.map((it) => it.row),
  };
}
