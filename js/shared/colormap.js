// A perceptually uniform sequential colormap: viridis (matplotlib, CC0), sampled at 9 stops
// and linearly interpolated into a 256-entry lookup table.

const VIRIDIS_STOPS = [
  [68, 1, 84],
  [72, 40, 120],
  [62, 73, 137],
  [49, 104, 142],
  [38, 130, 142],
  [31, 158, 137],
  [53, 183, 121],
  [110, 206, 88],
  [253, 231, 37],
];

/** Colour at t in [0, 1] as [r, g, b, 255]; t is clamped, NaN maps to 0. */
export function colorAt(t) {
  const x = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0;
  const pos = x * (VIRIDIS_STOPS.length - 1);
  const i = Math.min(VIRIDIS_STOPS.length - 2, Math.floor(pos));
  const f = pos - i;
  const a = VIRIDIS_STOPS[i];
  const b = VIRIDIS_STOPS[i + 1];
  return [0, 1, 2].map((c) => Math.round(a[c] + (b[c] - a[c]) * f)).concat(255);
}

let lut = null;

/** 256 RGBA colours, flat (Uint8ClampedArray of 1024); built once. */
export function colorTable() {
  if (lut === null) {
    lut = new Uint8ClampedArray(256 * 4);
    for (let i = 0; i < 256; i++) lut.set(colorAt(i / 255), i * 4);
  }
  return lut;
}

/** Index into the table for a value in [lo, hi] (clamped; NaN -> 0). */
export function colorIndex(value, lo, hi) {
  const t = (value - lo) / (hi - lo);
  if (!(t > 0)) return 0;
  if (t >= 1) return 255;
  return Math.round(t * 255);
}

/** Colour of masked cells (-Infinity): a neutral grey, outside the colormap. */
export const MASKED_RGB = [200, 200, 200];

/** Colour of NaN cells (a broken forward): magenta, outside the colormap and unlike grey. */
export const NAN_RGB = [255, 0, 255];

/** True when values (a typed array) hold a NaN. */
export function hasNaN(values) {
  for (let i = 0; i < values.length; i++) if (Number.isNaN(values[i])) return true;
  return false;
}

/**
 * Fill an RGBA pixel array (length 4 * values.length) with the colours of values;
 * -Infinity (masked) is drawn in MASKED_RGB, NaN in NAN_RGB.
 */
export function fillPixels(pixels, values, lo, hi) {
  const table = colorTable();
  for (let i = 0; i < values.length; i++) {
    const p = i * 4;
    const v = values[i];
    if (v === Number.NEGATIVE_INFINITY || Number.isNaN(v)) {
      const rgb = Number.isNaN(v) ? NAN_RGB : MASKED_RGB;
      pixels[p] = rgb[0];
      pixels[p + 1] = rgb[1];
      pixels[p + 2] = rgb[2];
      pixels[p + 3] = 255;
      continue;
    }
    const j = colorIndex(values[i], lo, hi) * 4;
    pixels[p] = table[j];
    pixels[p + 1] = table[j + 1];
    pixels[p + 2] = table[j + 2];
    pixels[p + 3] = 255;
  }
  return pixels;
}
