// Decoding of the uint8 attention encoding (docs/architecture.md, "Encoding of one layer").
// One layer is a [heads, queries, keys] block in C order; for head h:
//   value = offset[h] + byte * scale[h]
// When the meta has masked_byte (0), that byte means "masked" (-inf) and decodes to -Infinity;
// when it has nan_byte (255), that byte means NaN (a broken forward) and decodes to NaN.

import { fromMessage, isEmpty, readArray } from "../shared/arrays.js";

/** Number of values in one layer of shape [heads, queries, keys]. */
export function layerSize(shape) {
  if (!Array.isArray(shape) || shape.length !== 3) {
    throw new Error(`shape must be [heads, queries, keys], got ${JSON.stringify(shape)}`);
  }
  for (const n of shape) {
    if (!Number.isInteger(n) || n < 0) throw new Error(`bad shape ${JSON.stringify(shape)}`);
  }
  return shape[0] * shape[1] * shape[2];
}

/**
 * Check one layer's uint8 bytes (a Uint8Array) against its meta and bundle them.
 * Returns {layer, shape, offset, scale, bytes, maskedByte, nanByte}; bytes is not copied.
 */
export function makeLayer(bytes, { layer, shape, offset, scale, masked_byte, nan_byte }) {
  const size = layerSize(shape);
  if (bytes.length !== size) {
    throw new Error(
      `layer ${layer}: ${bytes.length} bytes for shape [${shape}] (${size} expected)`,
    );
  }
  const heads = shape[0];
  if (!Array.isArray(offset) || offset.length !== heads) {
    throw new Error(`layer ${layer}: offset needs ${heads} values`);
  }
  if (!Array.isArray(scale) || scale.length !== heads) {
    throw new Error(`layer ${layer}: scale needs ${heads} values`);
  }
  const maskedByte = Number.isInteger(masked_byte) ? masked_byte : null;
  const nanByte = Number.isInteger(nan_byte) ? nan_byte : null;
  return {
    layer,
    shape: [...shape],
    offset: offset.map(Number),
    scale: scale.map(Number),
    bytes,
    maskedByte,
    nanByte,
  };
}

/** A `layer` reply (content + its one buffer) as a layer entry. */
export function readLayer(msg, buffers, layer) {
  const { data, shape, meta } = readArray(fromMessage(msg, buffers), `layer ${layer}`);
  if (msg.dtype !== "uint8") throw new Error(`unsupported dtype ${msg.dtype}`);
  return makeLayer(data, { ...meta, shape, layer });
}

/**
 * Split the `chunk` trait ({value, dtype: "uint8", shape: [layers, heads, queries, keys],
 * layers, offset, scale, ...}) into layer entries, in the order of its `layers`.
 */
export function splitChunk(payload) {
  if (isEmpty(payload)) return [];
  if (payload.dtype !== "uint8") throw new Error(`unsupported dtype ${payload.dtype}`);
  const { data, shape, meta } = readArray(payload, "chunk");
  const layers = meta.layers ?? [];
  if (shape.length !== 4 || shape[0] !== layers.length) {
    throw new Error(`chunk has shape [${shape}] for ${layers.length} layers`);
  }
  const perLayer = shape.slice(1);
  const size = layerSize(perLayer);
  return layers.map((layer, i) =>
    makeLayer(data.subarray(i * size, (i + 1) * size), {
      layer,
      shape: perLayer,
      offset: meta.offset?.[i],
      scale: meta.scale?.[i],
      masked_byte: meta.masked_byte,
      nan_byte: meta.nan_byte,
    }),
  );
}

/** Decoded values of head h as a Float32Array of length queries * keys (row = query). */
export function decodeHead(entry, h) {
  const [, q, k] = entry.shape;
  const n = q * k;
  const src = entry.bytes.subarray(h * n, (h + 1) * n);
  const out = new Float32Array(n);
  const off = entry.offset[h];
  const sc = entry.scale[h];
  const masked = entry.maskedByte ?? -1;
  const nan = entry.nanByte ?? -1;
  for (let i = 0; i < n; i++) {
    const b = src[i];
    if (b === masked) out[i] = Number.NEGATIVE_INFINITY;
    else if (b === nan) out[i] = Number.NaN;
    else out[i] = off + b * sc;
  }
  return out;
}

/** All heads of a layer, one Float32Array per head. */
export function decodeLayer(entry) {
  return Array.from({ length: entry.shape[0] }, (_, h) => decodeHead(entry, h));
}

/**
 * Colour range of a layer: [min(0, lowest offset), highest offset + 255 * scale].
 * With the contract's encoding the top is the layer's largest value, found without a scan.
 */
export function valueRange(entry) {
  // With a masked byte, finite values start at byte 1: the range is the finite [min, max].
  // With a NaN byte (255), finite values stop at byte 254.
  const masked = Number.isInteger(entry.maskedByte);
  const top = Number.isInteger(entry.nanByte) ? 254 : 255;
  let lo = masked ? Number.POSITIVE_INFINITY : 0;
  let hi = Number.NEGATIVE_INFINITY;
  entry.offset.forEach((off, h) => {
    lo = Math.min(lo, masked ? off + entry.scale[h] : off);
    hi = Math.max(hi, off + top * entry.scale[h]);
  });
  if (!(hi > lo)) hi = lo + 1;
  return [lo, hi];
}
