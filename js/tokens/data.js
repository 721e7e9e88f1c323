// The `data` trait of TokenizerView (src/attnwidgets/widgets/tokens/payload.py): every
// tokenizer's tokens of one text, read from one packed binary value. String tables (pieces,
// readable forms, bytes) are decoded lazily, token by token, when a hover or a chip needs one.

import { isEmpty, readPackedValue } from "../shared/arrays.js";

export const SPECIAL = 1;
export const TEMPLATE = 2;
export const UNKNOWN = 4;
export const BYTE_FALLBACK = 8;

const decoder = new TextDecoder();

/** Item i of a string table (UTF-8 blob + end offsets), as text or as bytes. */
function stringTable(blob, ends) {
  const cache = new Map();
  const bytesOf = (i) => {
    if (i < 0 || i >= ends.length) return new Uint8Array(0);
    const start = i === 0 ? 0 : ends[i - 1];
    return blob.subarray(start, ends[i]);
  };
  return {
    bytes: bytesOf,
    text(i) {
      let s = cache.get(i);
      if (s === undefined) {
        s = decoder.decode(bytesOf(i));
        cache.set(i, s);
      }
      return s;
    },
  };
}

function need(arrays, name) {
  const item = arrays.get(name);
  if (!item) throw new Error(`data: no array ${name}`);
  return item.data;
}

/**
 * {tokenizers: [{name, algorithm, rank_basis, note, counts, n, embeddings, starts, ends, ids,
 * groups, rank, flags, scores, piece(i), readable(i), bytes(i)}], boundaries, present[k] (per
 * tokenizer, one byte per boundary), agreed, textLength, agreement, linkNote}; null when empty.
 */
export function readTokens(value) {
  if (isEmpty(value)) return null;
  const { arrays, meta } = readPackedValue(value, "data");
  const summaries = meta.tokenizers ?? [];
  const tokenizers = summaries.map((summary, k) => {
    const pieces = stringTable(need(arrays, `pieces.${k}`), need(arrays, `pieces_ends.${k}`));
    const readable = stringTable(need(arrays, `readable.${k}`), need(arrays, `readable_ends.${k}`));
    const bytes = stringTable(need(arrays, `bytes.${k}`), need(arrays, `bytes_ends.${k}`));
    const starts = need(arrays, `starts.${k}`);
    return {
      ...summary,
      index: k,
      n: starts.length,
      starts,
      ends: need(arrays, `ends.${k}`),
      ids: need(arrays, `ids.${k}`),
      groups: need(arrays, `groups.${k}`),
      rank: need(arrays, `rank.${k}`),
      flags: need(arrays, `flags.${k}`),
      scores: arrays.get(`scores.${k}`)?.data ?? new Float32Array(starts.length).fill(Number.NaN),
      piece: pieces.text,
      readable: readable.text,
      bytes: bytes.bytes,
    };
  });
  let boundaries = new Int32Array(0);
  let present = [];
  let agreed = new Uint8Array(0);
  if (arrays.has("boundaries")) {
    boundaries = need(arrays, "boundaries");
    const all = need(arrays, "present");
    const b = boundaries.length;
    present = tokenizers.map((_, k) => all.subarray(k * b, (k + 1) * b));
    agreed = need(arrays, "agreed");
  }
  return {
    tokenizers,
    boundaries,
    present,
    agreed,
    textLength: meta.text_length ?? 0,
    agreement: meta.agreement ?? null,
    linkNote: meta.link_note ?? "",
  };
}
