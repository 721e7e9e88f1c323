// The step view's arithmetic, explained cell by cell (pure functions, no DOM).
// arrays: Map name -> {data: Float32Array, shape} (shared/arrays.js readPackedValue) holding q, k, v [tokens, d],
// the steps [query, key] (scores, scaled, softcapped, biased, masked, probability) and output.
// info: the StepView's `info` trait (scale, softcap, window, causal, ...).

export const MAX_TERMS = 64; // terms listed in a hover; the rest are counted

/** A number as the hover shows it: 4 significant digits, exponent when tiny or huge. */
export function fmt(x) {
  if (x === Number.NEGATIVE_INFINITY) return "-∞";
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return x.toExponential(2);
  return String(Number(x.toPrecision(4)));
}

/** Element (r, c) of a 2-D entry. */
export function at(entry, r, c) {
  return entry.data[r * entry.shape[1] + c];
}

/** The panels a step draws: [{name, array, rows: "query"|"key", cols: "key"|"dim"}]. */
export function panelsOf(step) {
  if (step === "qk") {
    return [
      { name: "q", array: "q", rows: "query", cols: "dim", title: "Q (queries)" },
      { name: "k", array: "k", rows: "key", cols: "dim", title: "K (keys)" },
    ];
  }
  if (step === "output") {
    return [
      { name: "v", array: "v", rows: "key", cols: "dim", title: "V (values)" },
      { name: "z", array: "output", rows: "query", cols: "dim", title: "output z = P V" },
    ];
  }
  return [{ name: "main", array: step, rows: "query", cols: "key", title: step }];
}

/** Sum of products as "a×b + c×d + …", MAX_TERMS at most, and the exact sum (float64). */
export function productTerms(pairs) {
  let sum = 0;
  const shown = [];
  for (const [a, b] of pairs) {
    sum += a * b;
    if (shown.length < MAX_TERMS) shown.push(`${fmt(a)}×${fmt(b)}`);
  }
  const more = pairs.length - shown.length;
  const lines = [];
  for (let i = 0; i < shown.length; i += 4) lines.push(shown.slice(i, i + 4).join(" + "));
  if (more > 0) lines.push(`… + ${more} more terms`);
  return { lines, sum };
}

/** Why key `col` is hidden from query `row`, by the layer's own rules. */
export function maskReason(row, col, nQ, nK, info) {
  const offset = col - (row + nK - nQ); // key - query position (bottom-right aligned)
  if (info.causal && offset > 0) return `key ${col} comes after query ${row} (causal)`;
  const w = info.window;
  if (w && (offset < w[0] || offset > w[1])) {
    return `key ${col} is outside the window of ${info.window_size} (keys ${Math.max(
      0,
      row + w[0],
    )}–${row + w[1]})`;
  }
  return `key ${col} is hidden by the attention mask (padding)`;
}

const label = (tokens, i) => `${i} «${tokens?.[i] ?? i}»`;

/** The lines a hover over cell (row, col) of a panel shows. */
export function cellText(step, panel, row, col, arrays, info, tokens) {
  const { queryTokens, keyTokens } = tokens;
  const get = (name) => arrays.get(name);
  if (panel === "q" || panel === "k" || panel === "v") {
    const names = panel === "q" ? queryTokens : keyTokens;
    return [`${panel}[${label(names, row)}], dim ${col}`, `= ${fmt(at(get(panel), row, col))}`];
  }
  if (panel === "z") {
    const p = get("probability");
    const v = get("v");
    const pairs = [];
    let zeros = 0;
    for (let j = 0; j < p.shape[1]; j++) {
      const w = at(p, row, j);
      if (w === 0) zeros += 1;
      else pairs.push([w, at(v, j, col)]);
    }
    const { lines, sum } = productTerms(pairs);
    const keys = zeros === 1 ? "1 key" : `${zeros} keys`;
    const skipped = zeros
      ? [`(${keys} with probability 0 add${zeros === 1 ? "s" : ""} nothing)`]
      : [];
    return [
      `output of query ${label(queryTokens, row)}, dim ${col}`,
      `= Σ_key probability × v[key][${col}]`,
      ...lines.map((line) => `  ${line}`),
      ...skipped,
      `= ${fmt(sum)} (cell ${fmt(at(get("output"), row, col))})`,
    ];
  }
  const head = `query ${label(queryTokens, row)} · key ${label(keyTokens, col)}`;
  const value = at(get(step), row, col);
  const previous = (name) => at(get(name), row, col);
  if (step === "scores") {
    const q = get("q");
    const k = get("k");
    const d = q.shape[1];
    const pairs = [];
    for (let i = 0; i < d; i++) pairs.push([at(q, row, i), at(k, col, i)]);
    const { lines, sum } = productTerms(pairs);
    return [
      head,
      `q · k = Σ over ${d} dims of q[d] × k[d]`,
      ...lines.map((line) => `  ${line}`),
      `= ${fmt(sum)} (cell ${fmt(value)})`,
    ];
  }
  if (step === "scaled") {
    return [head, `${fmt(previous("scores"))} × ${fmt(info.scale)} = ${fmt(value)}`];
  }
  if (step === "softcapped") {
    const cap = info.softcap;
    return [head, `${fmt(cap)} · tanh(${fmt(previous("scaled"))} / ${fmt(cap)}) = ${fmt(value)}`];
  }
  const before = arrays.has("biased")
    ? "biased"
    : arrays.has("softcapped")
      ? "softcapped"
      : "scaled";
  if (step === "biased") {
    const source = arrays.has("softcapped") ? "softcapped" : "scaled";
    const x = previous(source);
    return [head, `${fmt(x)} + bias ${fmt(value - x)} = ${fmt(value)}`];
  }
  const masked = get("masked");
  const [nQ, nK] = masked.shape;
  if (step === "masked") {
    if (value === Number.NEGATIVE_INFINITY) {
      return [head, `-∞: ${maskReason(row, col, nQ, nK, info)}`];
    }
    return [head, `kept: ${fmt(previous(before))}`];
  }
  if (step === "probability") {
    if (at(masked, row, col) === Number.NEGATIVE_INFINITY) {
      return [head, `masked (-∞): exp(-∞) = 0, probability ${fmt(value)}`];
    }
    let top = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < nK; j++) top = Math.max(top, at(masked, row, j));
    let total = 0;
    for (let j = 0; j < nK; j++) total += Math.exp(at(masked, row, j) - top);
    const x = at(masked, row, col);
    const e = Math.exp(x - top);
    return [
      head,
      `exp(${fmt(x)} − ${fmt(top)}) / Σ_row exp(x − ${fmt(top)})`,
      `= ${fmt(e)} / ${fmt(total)} = ${fmt(e / total)} (cell ${fmt(value)})`,
    ];
  }
  return [head, `= ${fmt(value)}`];
}

/** Finite [lo, hi] of an array (masked -∞ left out); [0, 1] when nothing is finite. */
export function finiteSpan(data) {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const x of data) {
    if (Number.isFinite(x)) {
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
  }
  if (lo > hi) return [0, 1];
  return lo === hi ? [lo - 0.5, hi + 0.5] : [lo, hi];
}
