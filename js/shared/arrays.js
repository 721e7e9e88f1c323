// Reading the binary values of src/attnwidgets/widgets/arrays.py: one value per payload,
// data and meta together ({value: DataView, dtype, shape, ...meta}), or named arrays packed
// in one buffer ({value, arrays: {name: {offset, dtype, shape}}, ...meta}).

const TYPES = { uint8: Uint8Array, int32: Int32Array, float32: Float32Array };

/** Number of elements of a shape ([] is a scalar). */
export function sizeOf(shape) {
  return shape.reduce((n, d) => n * d, 1);
}

/** Bytes of a DataView / ArrayBuffer / typed array, copied once into an aligned buffer. */
function alignedBytes(data) {
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  }
  throw new TypeError(`expected binary data, got ${typeof data}`);
}

/** True for the empty value {} (nothing sent yet) or a missing one. */
export function isEmpty(payload) {
  return payload == null || payload.value == null;
}

/**
 * One array: returns {data: TypedArray, shape, meta} (meta: every other field of the value).
 * Throws naming the field when the bytes do not match dtype and shape.
 */
export function readArray(payload, name = "value") {
  if (isEmpty(payload)) throw new Error(`${name}: no data`);
  const { value, dtype, shape, ...meta } = payload;
  const Type = TYPES[dtype];
  if (!Type) throw new Error(`${name}: unsupported dtype ${dtype}`);
  if (!Array.isArray(shape) || shape.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new Error(`${name}: bad shape ${JSON.stringify(shape)}`);
  }
  const bytes = alignedBytes(value);
  const count = sizeOf(shape);
  if (bytes.byteLength !== count * Type.BYTES_PER_ELEMENT) {
    throw new Error(`${name}: ${bytes.byteLength} bytes for ${dtype} [${shape}]`);
  }
  return { data: new Type(bytes.buffer, 0, count), shape: [...shape], meta };
}

/** Named arrays: returns {arrays: Map name -> {data, shape}, meta}. */
export function readPackedValue(payload, name = "value") {
  if (isEmpty(payload)) throw new Error(`${name}: no data`);
  const { value, arrays, ...meta } = payload;
  const bytes = alignedBytes(value);
  const out = new Map();
  for (const [key, item] of Object.entries(arrays ?? {})) {
    const Type = TYPES[item.dtype];
    if (!Type) throw new Error(`${name}.${key}: unsupported dtype ${item.dtype}`);
    const count = sizeOf(item.shape);
    const end = item.offset + count * Type.BYTES_PER_ELEMENT;
    if (item.offset % 4 !== 0 || end > bytes.byteLength) {
      throw new Error(`${name}.${key}: bytes ${item.offset}..${end} outside ${bytes.byteLength}`);
    }
    out.set(key, { data: new Type(bytes.buffer, item.offset, count), shape: [...item.shape] });
  }
  return { arrays: out, meta };
}
