// Small builders for the VLM views' own controls (they work where ipywidgets does not, e.g.
// marimo) and their images. Each control writes its trait through the caller's handler.

import { readPackedValue } from "../shared/arrays.js";
import { element } from "../vision/labels.js";
import { imageCanvas } from "../vision/paint.js";

/** A <label> holding a caption and a control. */
export function labelled(parent, text, control) {
  const label = element("label", "attnwidgets-vision-control", parent);
  element("span", null, label, text);
  label.appendChild(control);
  return label;
}

/** An <input type=range> with class `cls`. */
export function rangeInput(cls, min, max, step = 1) {
  const input = element("input", cls);
  Object.assign(input, { type: "range", min: String(min), max: String(max), step: String(step) });
  return input;
}

/** Replace the options of a <select>: [[value, text], ...] (text set as textContent). */
export function setOptions(select, options) {
  select.replaceChildren();
  for (const [value, text] of options) {
    const option = element("option", null, select, text);
    option.value = String(value);
  }
}

/** The head select's options for `count` heads: mean, max, then each head. */
export function headOptions(count) {
  const out = [
    ["mean", `mean of ${count} heads`],
    ["max", `max of ${count} heads`],
  ];
  for (let h = 0; h < count; h++) out.push([`h${h}`, `head ${h}`]);
  return out;
}

/** The head select's value for the traits: "mean", "max" or "h<index>". */
export function headValue(heads, head) {
  return heads === "one" ? `h${head}` : heads;
}

/** The traits a head select value sets. */
export function headTraits(value) {
  return value.startsWith("h") ? { heads: "one", head: Number(value.slice(1)) } : { heads: value };
}

/** Packed images ({"image.<i>": uint8 [H, W, 3]}) -> Map index -> canvas of the image. */
export function imageCanvases(payload) {
  const { arrays } = readPackedValue(payload, "images");
  const out = new Map();
  for (const [name, { data, shape }] of arrays) {
    const index = Number(name.split(".")[1]);
    out.set(index, imageCanvas({ value: data, dtype: "uint8", shape }));
  }
  return out;
}
