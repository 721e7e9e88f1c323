import { describe, expect, it } from "vitest";
import { edgePaths, windowOf, windowSize, windowTitle } from "../../js/attention/window_edge.js";
import {
  cellText,
  fmt,
  MAX_TERMS,
  maskReason,
  panelsOf,
  productTerms,
} from "../../js/steps/cells.js";

const entry = (rows, cols, values) => ({ data: Float32Array.from(values), shape: [rows, cols] });

// One head, 2 tokens, d_head 2: q = k = [[1, 0], [0.5, 2]], causal, scale 0.5.
function twoTokens() {
  const q = entry(2, 2, [1, 0, 0.5, 2]);
  const scores = entry(2, 2, [1, 0.5, 0.5, 4.25]);
  const scaled = entry(2, 2, [0.5, 0.25, 0.25, 2.125]);
  const masked = entry(2, 2, [0.5, Number.NEGATIVE_INFINITY, 0.25, 2.125]);
  const e = Math.exp(0.25 - 2.125);
  const probability = entry(2, 2, [1, 0, e / (1 + e), 1 / (1 + e)]);
  const v = entry(2, 2, [1, 2, 3, 4]);
  const output = entry(2, 2, [1, 2, (e + 3) / (1 + e), (2 * e + 4) / (1 + e)]);
  return new Map(Object.entries({ q, k: q, v, scores, scaled, masked, probability, output }));
}
const tokens = { queryTokens: ["a", "b"], keyTokens: ["a", "b"] };
const info = { scale: 0.5, causal: true, window: null };

describe("cellText", () => {
  it("spells out the dot product of a score", () => {
    const lines = cellText("scores", "main", 1, 1, twoTokens(), info, tokens);
    expect(lines).toEqual([
      "query 1 «b» · key 1 «b»",
      "q · k = Σ over 2 dims of q[d] × k[d]",
      "  0.5×0.5 + 2×2",
      "= 4.25 (cell 4.25)",
    ]);
  });
  it("explains scaling, masking and softmax with the row's numbers", () => {
    const arrays = twoTokens();
    expect(cellText("scaled", "main", 1, 0, arrays, info, tokens)[1]).toBe("0.5 × 0.5 = 0.25");
    expect(cellText("masked", "main", 0, 1, arrays, info, tokens)[1]).toBe(
      "-∞: key 1 comes after query 0 (causal)",
    );
    const soft = cellText("probability", "main", 1, 0, arrays, info, tokens);
    expect(soft[1]).toBe("exp(0.25 − 2.125) / Σ_row exp(x − 2.125)");
    expect(soft[2]).toMatch(/^= 0\.1534 \/ 1\.153 = 0\.133 \(cell 0\.133\)$/);
  });
  it("lists probability × value for an output cell, skipping zero weights", () => {
    const lines = cellText("output", "z", 0, 1, twoTokens(), info, tokens);
    expect(lines).toEqual([
      "output of query 0 «a», dim 1",
      "= Σ_key probability × v[key][1]",
      "  1×2",
      "(1 key with probability 0 adds nothing)",
      "= 2 (cell 2)",
    ]);
  });
  it("names window and padding as reasons", () => {
    const band = { causal: true, window: [-3, 0], window_size: 4 };
    expect(maskReason(9, 2, 12, 12, band)).toBe("key 2 is outside the window of 4 (keys 6–9)");
    expect(maskReason(1, 0, 4, 4, { causal: true, window: null })).toMatch(/padding/);
  });
});

describe("helpers", () => {
  it("caps the terms listed", () => {
    const pairs = Array.from({ length: MAX_TERMS + 5 }, () => [1, 2]);
    const { lines, sum } = productTerms(pairs);
    expect(sum).toBe(2 * (MAX_TERMS + 5));
    expect(lines.at(-1)).toBe("… + 5 more terms");
  });
  it("formats numbers", () => {
    expect([fmt(Number.NEGATIVE_INFINITY), fmt(1234.5678), fmt(1e-6)]).toEqual([
      "-∞",
      "1235",
      "1.00e-6",
    ]);
  });
  it("draws Q and K, one matrix, or V and the output", () => {
    expect(panelsOf("qk").map((p) => p.name)).toEqual(["q", "k"]);
    expect(panelsOf("masked").map((p) => p.array)).toEqual(["masked"]);
    expect(panelsOf("output").map((p) => p.array)).toEqual(["v", "output"]);
  });
});

describe("window edge", () => {
  it("titles and sizes windows", () => {
    expect(windowTitle([[-511, 0], []], 0)).toBe(" · window 512");
    expect(windowTitle([[-511, 0], []], 1)).toBe("");
    expect(windowOf(undefined, 0)).toBe(null);
    expect(windowSize([-64, 64])).toBe(128);
  });
  it("runs along cell borders: a staircase", () => {
    const [left] = edgePaths([-1, 0], { q0: 0, q1: 3, k0: 0, k1: 3 });
    expect(left).toEqual([
      [-1, 0],
      [-1, 1],
      [0, 1],
      [0, 2],
      [1, 2],
      [1, 3],
    ]);
    const both = edgePaths([-1, 1], { q0: 1, q1: 2, k0: 1, k1: 3 });
    expect(both).toEqual([
      [
        [-1, 0],
        [-1, 1],
      ],
      [
        [2, 0],
        [2, 1],
      ],
    ]);
  });
});
