import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readTokens, TEMPLATE, UNKNOWN } from "../../js/tokens/data.js";
import { countsText, hexBytes, hoverLines, rankText, visible } from "../../js/tokens/hover_text.js";
import {
  displayLines,
  lowerBound,
  segmentsOf,
  templateAnchors,
  tokensOfSegment,
  tokensOverlapping,
  wordAt,
} from "../../js/tokens/segments.js";
import { stepsTitle } from "../../js/tokens/steps_panel.js";
import { entryText } from "../../js/tokens/vocab_panel.js";

// Made by tests/python/tokens_fixture.py (and checked against it by the Python tests).
const fixture = JSON.parse(
  readFileSync(new URL("./fixtures/tokens_payload.json", import.meta.url), "utf8"),
);

function dataView(b64) {
  const bytes = Buffer.from(b64, "base64");
  const buffer = new ArrayBuffer(bytes.length + 5); // an offset, as ipywidgets hands them over
  new Uint8Array(buffer, 5).set(bytes);
  return new DataView(buffer, 5, bytes.length);
}

const text = fixture.text;
const data = readTokens({ ...fixture.data, value: dataView(fixture.data.value) });
const [bpe, wordpiece] = data.tokenizers;

describe("readTokens", () => {
  it("reads every tokenizer's offsets, ids, flags and string tables", () => {
    expect(data.textLength).toBe(text.length);
    expect(data.tokenizers.map((t) => t.name)).toEqual(["bpe", "wordpiece"]);
    expect(bpe.piece(0)).toBe("<s>");
    expect(bpe.flags[0] & TEMPLATE).toBeTruthy();
    // Ã + © are the two bytes of é: each reads as é, and covers it
    expect([bpe.piece(2), bpe.piece(3)]).toEqual(["Ã", "©"]);
    expect([bpe.readable(2), bpe.readable(3)]).toEqual(["é", "é"]);
    expect(Array.from(bpe.bytes(2))).toEqual([0xc3]);
    expect(text.slice(bpe.starts[2], bpe.ends[2])).toBe("é");
    // every text token's offsets index the JavaScript string (UTF-16) at what it reads as
    for (let t = 0; t < bpe.n; t++) {
      if (bpe.flags[t] & TEMPLATE || bpe.groups[t] !== t) continue;
      const run = [t];
      while (run.at(-1) + 1 < bpe.n && bpe.groups[run.at(-1) + 1] === t) run.push(run.at(-1) + 1);
      const covered = text.slice(bpe.starts[t], bpe.ends[run.at(-1)]);
      expect(covered).toBe(bpe.readable(t));
    }
    expect(wordpiece.flags[1] & UNKNOWN).toBeTruthy();
    expect(text.slice(wordpiece.starts[1], wordpiece.ends[1])).toBe("Héllo");
  });

  it("reads the alignment of the two", () => {
    const at = (p) => lowerBound(data.boundaries, p);
    const world = text.indexOf("wörld");
    expect(data.boundaries[at(world)]).toBe(world);
    expect(data.agreed[at(world)]).toBe(1); // both start a token at "w" (spaces trimmed)
    // BPE: wö | rl | d; WordPiece: w | ##ö | ##rld
    expect(data.agreed[at(world + 2)]).toBe(1);
    expect([data.present[0][at(world + 1)], data.present[1][at(world + 1)]]).toEqual([0, 1]);
    expect([data.present[0][at(world + 4)], data.present[1][at(world + 4)]]).toEqual([1, 0]);
    expect(data.agreed[at(world + 1)]).toBe(0);
  });

  it("is null for the empty value", () => {
    expect(readTokens({})).toBeNull();
  });
});

describe("segments", () => {
  const segs = segmentsOf(bpe, text.length);

  it("cut the text where tokens start and end, first token first", () => {
    expect(segs.cuts[0]).toBe(0);
    expect(segs.cuts.at(-1)).toBe(text.length);
    const s = lowerBound(segs.cuts, text.indexOf("é"));
    expect(segs.token[s]).toBe(2);
    expect(segs.count[s]).toBe(2);
    expect(tokensOfSegment(bpe, segs, s)).toEqual([2, 3]);
    const thumb = lowerBound(segs.cuts, text.indexOf("👍"));
    expect(segs.cuts[thumb + 1] - segs.cuts[thumb]).toBe(2); // one emoji: a surrogate pair
    expect(tokensOfSegment(bpe, segs, thumb).length).toBe(4); // four byte pieces
  });

  it("leave text no token covers to nobody", () => {
    const wp = segmentsOf(wordpiece, text.length);
    const space = lowerBound(wp.cuts, text.indexOf(" "));
    expect(wp.token[space]).toBe(-1);
  });

  it("place template tokens before what follows them", () => {
    expect(templateAnchors(bpe, text.length)).toEqual([{ t: 0, at: 0 }]);
    const anchors = templateAnchors(wordpiece, text.length);
    expect(anchors).toEqual([
      { t: 0, at: 0 },
      { t: wordpiece.n - 1, at: text.length },
    ]);
  });

  it("find the tokens overlapping a span", () => {
    const o = text.indexOf("wörld");
    expect(tokensOverlapping(wordpiece, o, o + 5).map((t) => wordpiece.piece(t))).toEqual([
      "w",
      "##ö",
      "##rld",
    ]);
  });
});

describe("displayLines", () => {
  it("cut at newlines (CRLF is one) and keep the newline apart", () => {
    const lines = displayLines("ab\r\ncd\nef", 80);
    expect(Array.from(lines.starts)).toEqual([0, 4, 7]);
    expect(Array.from(lines.ends)).toEqual([2, 6, 9]);
    expect(Array.from(lines.breaks)).toEqual([4, 7, 9]);
  });

  it("wrap long lines at a space, else never inside a character", () => {
    const words = "alpha beta gamma delta epsilon";
    const lines = displayLines(words, 12);
    const parts = Array.from(lines.starts, (a, i) => words.slice(a, lines.ends[i]));
    expect(parts.join("")).toBe(words);
    expect(parts.every((p) => p.length <= 12)).toBe(true);
    expect(parts[0]).toBe("alpha beta ");
    const family = "👨‍👩‍👧".repeat(6); // ZWJ sequences, 8 units each
    const cut = displayLines(family, 10);
    for (const end of cut.ends.slice(0, -1)) {
      expect(family.charCodeAt(end)).not.toBe(0x200d);
      expect(family.charCodeAt(end - 1)).not.toBe(0x200d);
      expect(family.charCodeAt(end) >= 0xdc00 && family.charCodeAt(end) <= 0xdfff).toBe(false);
    }
  });

  it("keep an empty last line after a final newline, and 100,000 characters fast", () => {
    expect(Array.from(displayLines("a\n", 80).starts)).toEqual([0, 2]);
    const long = "word ".repeat(20000);
    const lines = displayLines(long, 100);
    expect(lines.starts.length).toBeGreaterThan(900);
    expect(lines.ends.at(-1)).toBe(long.length);
  });
});

describe("wordAt", () => {
  it("takes the run of non-space characters, with the space before it", () => {
    expect(wordAt(text, text.indexOf("ö"))).toBe(" wörld");
    expect(wordAt(text, 0)).toBe("Héllo");
    expect(wordAt(text, text.indexOf(" "))).toBe("");
  });
});

describe("hover text", () => {
  it("says id, piece, readable form, text, bytes and rank", () => {
    const lines = hoverLines(bpe, 2, text, [2, 3]);
    expect(lines[0]).toBe(`bpe · token 2 of ${bpe.n} · id ${bpe.ids[2]}`);
    expect(lines).toContain("piece «Ã»");
    expect(lines).toContain("reads «é»");
    expect(lines).toContain("bytes c3 (1 byte)");
    expect(lines.join("\n")).toContain("2 tokens cover these characters: «Ã» «©»");
    expect(rankText(bpe, 5)).toBe("rank: merge 4 (the 5th merge learned)");
    expect(rankText(bpe, 1)).toContain("no merge makes it");
    expect(rankText(wordpiece, 2)).toContain("id order");
    expect(hoverLines(wordpiece, 1, text)).toContain(
      "unknown: the vocabulary has no piece for this text",
    );
  });

  it("makes whitespace, controls and bidi overrides visible", () => {
    expect(visible("a\tb\r\n\u202e\u0007")).toBe("a\\tb\\r\\n⟨U+202E⟩⟨U+0007⟩");
    expect(hexBytes(new Uint8Array([0xf0, 0x9f]))).toBe("f0 9f (2 bytes)");
  });

  it("counts and results read as one line", () => {
    expect(countsText(wordpiece)).toMatch(/^11 tokens \(2 added by the template\) · 28 characters/);
    expect(entryText({ id: 7, piece: "Ġw", readable: " w", rank: 2, special: false })).toBe(
      "id 7 «Ġw» reads « w» · rank 2",
    );
  });
});

describe("steps payload", () => {
  it("ends every tokenizer's frames on the tokenizer's own pieces", () => {
    for (const payload of fixture.steps.tokenizers) {
      expect(payload.frames.at(-1).symbols.flat()).toEqual(payload.tokenizer_pieces);
      expect(stepsTitle(payload)).toContain(payload.name);
    }
    const bpeSteps = fixture.steps.tokenizers[0];
    expect(bpeSteps.frames[1].caption).toMatch(
      /^merge «Ġ» \+ «w» → «Ġw» · rank 2 \(merge 3 of 6 learned\)/,
    );
  });
});
