// Sentence pairs (bertviz's sentence_b_start): the block of query rows / key columns shown.
// Sentence A is tokens [0, b), sentence B is [b, n); "A->B" = queries of A against keys of B.

export const SENTENCE_FILTERS = [
  ["all", "All"],
  ["A->A", "Sentence A → Sentence A"],
  ["B->B", "Sentence B → Sentence B"],
  ["A->B", "Sentence A → Sentence B"],
  ["B->A", "Sentence B → Sentence A"],
];

/** True when start splits n tokens into two non-empty sentences. */
export function hasSentences(start, nQ, nK) {
  const b = Number(start);
  return Number.isInteger(b) && b > 0 && b < Math.min(nQ, nK);
}

/** The region {q0, q1, k0, k1} a filter shows (every token for "all" or no split). */
export function sentenceBounds(filter, start, nQ, nK) {
  if (!filter || filter === "all" || !hasSentences(start, nQ, nK)) {
    return { q0: 0, q1: nQ, k0: 0, k1: nK };
  }
  const b = Number(start);
  const rows = filter[0] === "A" ? [0, b] : [b, nQ];
  const cols = filter[filter.length - 1] === "A" ? [0, b] : [b, nK];
  return { q0: rows[0], q1: rows[1], k0: cols[0], k1: cols[1] };
}

/** The filter's label for titles ("" for every token). */
export function sentenceLabel(filter, start, nQ, nK) {
  if (!filter || filter === "all" || !hasSentences(start, nQ, nK)) return "";
  return SENTENCE_FILTERS.find(([value]) => value === filter)?.[1] ?? "";
}

/** A view inside bounds, in the bounds' own coordinates (for zoom and pan maths). */
export function toLocal(view, bounds) {
  return {
    q0: view.q0 - bounds.q0,
    q1: view.q1 - bounds.q0,
    k0: view.k0 - bounds.k0,
    k1: view.k1 - bounds.k0,
  };
}

/** Back from the bounds' coordinates to the head's. */
export function fromLocal(view, bounds) {
  return {
    q0: view.q0 + bounds.q0,
    q1: view.q1 + bounds.q0,
    k0: view.k0 + bounds.k0,
    k1: view.k1 + bounds.k0,
  };
}
