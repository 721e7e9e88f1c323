// One diverging scale for a whole view: red for positive values, blue for negative,
// transparent at 0, full at |value| = scale. NaN is drawn grey.

const POSITIVE = [214, 39, 40];
const NEGATIVE = [31, 119, 180];

/** [r, g, b, alpha] of `value` on the scale `scale` (> 0). */
export function valueColour(value, scale) {
  if (!Number.isFinite(value)) return [150, 150, 150, 0.5];
  const alpha = Math.min(1, Math.abs(value) / (scale > 0 ? scale : 1));
  return [...(value >= 0 ? POSITIVE : NEGATIVE), alpha];
}

/** The same colour as a CSS string. */
export function cssColour(value, scale) {
  const [r, g, b, a] = valueColour(value, scale);
  return `rgba(${r}, ${g}, ${b}, ${a.toFixed(3)})`;
}

/** Short text of a value: 3 significant digits. */
export function fmt(value) {
  return Number.isFinite(value) ? Number(value).toPrecision(3) : "NaN";
}
