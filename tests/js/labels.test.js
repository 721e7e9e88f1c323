import { describe, expect, it } from "vitest";
import { labelEvery } from "../../js/attention/overview_labels.js";
import {
  AXIS_TITLE,
  computeLayout,
  displayLabel,
  PAD,
  truncateLabel,
} from "../../js/shared/layout.js";
import { isBlank, markWhitespace } from "../../js/shared/whitespace.js";

describe("whitespace marks", () => {
  it("marks tokens that are only whitespace", () => {
    expect(markWhitespace(" ")).toBe("␣");
    expect(markWhitespace("\n")).toBe("⏎");
    expect(markWhitespace("\t")).toBe("⇥");
    expect(markWhitespace(" \n\t\r")).toBe("␣⏎⇥␍");
    expect(markWhitespace("\u00a0")).toBe("·");
  });

  it("leaves other tokens, and the empty one, alone", () => {
    expect(markWhitespace(" cat")).toBe(" cat");
    expect(markWhitespace("")).toBe("");
    expect(isBlank("")).toBe(false);
    expect(isBlank(null)).toBe(false);
  });

  it("reaches every label drawn through displayLabel / truncateLabel", () => {
    expect(displayLabel("  ")).toBe("␣␣");
    expect(truncateLabel("\n".repeat(30), 4)).toBe("⏎⏎⏎…");
    expect(displayLabel("a\nb")).toBe("a\\nb"); // text with a newline inside keeps the escape
  });
});

describe("axis titles and thumbnail labels", () => {
  it("keeps a strip for the axis titles left of and above the labels", () => {
    const L = computeLayout({ width: 600, queryTokens: ["a"], keyTokens: ["b"] });
    expect(L.marginLeft).toBeGreaterThanOrEqual(AXIS_TITLE + PAD);
    expect(L.marginTop).toBeGreaterThanOrEqual(AXIS_TITLE + PAD);
  });

  it("thins thumbnail labels that would overlap", () => {
    expect(labelEvery(40)).toBe(1);
    expect(labelEvery(16)).toBe(1);
    expect(labelEvery(5)).toBe(4);
    expect(labelEvery(0)).toBe(1);
  });
});
