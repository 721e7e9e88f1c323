// Reading the binary values of src/attnwidgets/widgets/arrays.py: one value per payload,
// data and meta together ({value: DataView, dtype, shape, ...meta}), or named arrays packed
// in one buffer ({value, arrays: {name: {offset, dtype, shape}}, ...meta}).

/**
 * One array and its meta (arrays.array_value), or {} when nothing was sent yet.
 * @typedef {{value?: DataView, dtype?: "uint8" | "int32" | "float32", shape?: number[]}
 *   & Object<string, unknown>} ArrayValue
 */
/**
 * Named arrays packed in one buffer (arrays.packed_value), with meta.
 * @typedef {{value?: DataView, arrays?: Object<string, {offset: number, dtype: string,
 *   shape: number[]}>} & Object<string, unknown>} PackedValue
 */

const TYPES = { uint8: Uint8Array, int32: Int32Array, float32: Float32Array };

/** Number of elements of a shape ([] is a scalar). */
export function sizeOf(shape) {
  return shape.reduce((n, d) => n * d, 1);
}

/**
 * Bytes of a DataView / ArrayBuffer / typed array as a Uint8Array whose byteOffset is a
 * multiple of `align`: a view when it already is (no copy), else one aligned copy.
 */
function alignedBytes(data, align) {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return data.byteOffset % align === 0 ? bytes : bytes.slice();
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
  const bytes = alignedBytes(value, Type.BYTES_PER_ELEMENT);
  const count = sizeOf(shape);
  if (bytes.byteLength !== count * Type.BYTES_PER_ELEMENT) {
    throw new Error(`${name}: ${bytes.byteLength} bytes for ${dtype} [${shape}]`);
  }
  return { data: new Type(bytes.buffer, bytes.byteOffset, count), shape: [...shape], meta };
}

/** Named arrays: returns {arrays: Map name -> {data, shape}, meta}. */
export function readPackedValue(payload, name = "value") {
  if (isEmpty(payload)) throw new Error(`${name}: no data`);
  const { value, arrays, ...meta } = payload;
  const bytes = alignedBytes(value, 4);
  const out = new Map();
  for (const [key, item] of Object.entries(arrays ?? {})) {
    const Type = TYPES[item.dtype];
    if (!Type) throw new Error(`${name}.${key}: unsupported dtype ${item.dtype}`);
    const count = sizeOf(item.shape);
    const end = item.offset + count * Type.BYTES_PER_ELEMENT;
    if (item.offset % 4 !== 0 || end > bytes.byteLength) {
      throw new Error(`${name}.${key}: bytes ${item.offset}..${end} outside ${bytes.byteLength}`);
    }
    const data = new Type(bytes.buffer, bytes.byteOffset + item.offset, count);
    out.set(key, { data, shape: [...item.shape] });
  }
  return { arrays: out, meta };
}

/**
 * A custom message's value: the kernel sends the meta as the content and the data as its one
 * buffer (arrays.message_parts); this puts them back together for readArray.
 */
export function fromMessage(msg, buffers) {
  return { ...msg, value: buffers?.[0] };
}

/** Row `i` of a 2-D (or wider) array entry as a typed-array view (no copy). */
export function row(entry, i) {
  const width = entry.shape[entry.shape.length - 1];
  return entry.data.subarray(i * width, (i + 1) * width);
}
