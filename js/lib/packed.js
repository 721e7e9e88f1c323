// Named arrays packed back to back in one buffer (src/attnwidgets/widgets/norm_arrays.py):
// meta = {arrays: {name: {offset, dtype: "float32" | "int32", shape: [...]}}}.

import { toBytes } from "./decode.js";

const TYPES = { float32: Float32Array, int32: Int32Array };

/** Number of elements of a shape ([] is a scalar). */
export function sizeOf(shape) {
  return shape.reduce((n, d) => n * d, 1);
}

/**
 * Decode every array: returns a Map name -> {data: TypedArray, shape}. The bytes are copied
 * once into an aligned buffer (a DataView from the kernel may start at any byte offset).
 */
export function readPacked(data, meta) {
  const bytes = toBytes(data).slice();
  const out = new Map();
  for (const [name, item] of Object.entries(meta?.arrays ?? {})) {
    const Type = TYPES[item.dtype];
    if (!Type) throw new Error(`${name}: unsupported dtype ${item.dtype}`);
    const count = sizeOf(item.shape);
    const end = item.offset + count * Type.BYTES_PER_ELEMENT;
    if (item.offset % 4 !== 0 || end > bytes.byteLength) {
      throw new Error(
        `${name}: bytes ${item.offset}..${end} outside a ${bytes.byteLength}-byte buffer`,
      );
    }
    out.set(name, { data: new Type(bytes.buffer, item.offset, count), shape: [...item.shape] });
  }
  return out;
}

/** Row `i` of a 2-D array entry as a typed-array view (no copy). */
export function row(entry, i) {
  const width = entry.shape[entry.shape.length - 1];
  return entry.data.subarray(i * width, (i + 1) * width);
}
