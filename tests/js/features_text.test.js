import { describe, expect, it } from "vitest";
import { blockText, lineText } from "../../js/features/text.js";

describe("feature view text", () => {
  it("keeps a snippet's lines and tabs, marks bidi controls, replaces other controls", () => {
    expect(blockText("def f():\n\treturn 1")).toBe("def f():\n\treturn 1");
    expect(blockText("a\u202eb\u2066c")).toBe("a⟨U+202E⟩b⟨U+2066⟩c");
    expect(blockText("x\u0000y\u000cz\r")).toBe("x\ufffdy\ufffdz\ufffd");
    expect(blockText(undefined)).toBe("");
  });
  it("shows labels and tokens on one line, whitespace tokens visible", () => {
    expect(lineText("a\nb\u202e")).toBe("a\\nb⟨U+202E⟩");
    expect(lineText("\n")).toBe("⏎");
    expect(lineText(" in")).toBe(" in");
  });
});
