// Tokens that are only whitespace get a visible mark wherever a label is drawn: "␣" for a
// space, "⏎" for a newline, "⇥" for a tab ("␍" for a carriage return, "·" for other spaces
// such as a no-break space). Tokens with other text keep their spaces.

const MARKS = { " ": "␣", "\n": "⏎", "\t": "⇥", "\r": "␍" };

/** True when text is not empty and holds nothing but whitespace. */
export function isBlank(text) {
  return /^\s+$/u.test(String(text ?? ""));
}

/** A whitespace-only token made visible ("  " -> "␣␣", "\n" -> "⏎"); other text unchanged. */
export function markWhitespace(text) {
  const s = String(text ?? "");
  if (!isBlank(s)) return s;
  return Array.from(s, (ch) => MARKS[ch] ?? "·").join("");
}
