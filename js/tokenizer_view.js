// TokenizerView (src/attnwidgets/widgets/tokens/view.py): how a text becomes tokens. The text
// with every token's span coloured (virtualised), a hover with id, piece, bytes and rank, one
// word step by step, several tokenizers side by side, and the vocabulary. Text, pieces and
// names are untrusted: they reach the page through textContent / title only.

/**
 * The model this view reads: the synced traits of TokenizerView
 * (src/attnwidgets/widgets/tokens/view.py).
 * @typedef {object} TokenizerModel
 * @property {string} text the text shown
 * @property {object} data packed value: every tokenizer's tokens (tokens/payload.py)
 * @property {string} word the word shown step by step
 * @property {object} steps {word, tokenizers: [...]} frames per tokenizer (tokens/step_payload.py)
 * @property {number} hover_token the first tokenizer's token under the pointer, -1 for none
 * @property {number} height of the text view, CSS px
 */

import { injectStyle, node } from "./shared/dom.js";
import { readTokens, TEMPLATE } from "./tokens/data.js";
import { countsText } from "./tokens/hover_text.js";
import { lowerBound, wordAt } from "./tokens/segments.js";
import { createStepsPanel } from "./tokens/steps_panel.js";
import { CSS, ROOT, STYLE_ID } from "./tokens/style.js";
import { createTextView } from "./tokens/text_view.js";
import { createVocabPanel } from "./tokens/vocab_panel.js";

const LEGEND = [
  ["attnwidgets-tok attnwidgets-tok-c0", "token"],
  ["attnwidgets-tok attnwidgets-tok-template", "added by the template"],
  ["attnwidgets-tok attnwidgets-tok-c1 attnwidgets-tok-special", "special"],
  ["attnwidgets-tok attnwidgets-tok-unknown", "unknown"],
  ["attnwidgets-tok attnwidgets-tok-c2 attnwidgets-tok-fallback", "byte fallback"],
  ["attnwidgets-tok attnwidgets-tok-c3 attnwidgets-tok-multi", "several byte pieces"],
];
const COMPARE_LEGEND = [
  ["attnwidgets-tok attnwidgets-tok-c0 attnwidgets-tok-agree", "boundary every tokenizer has"],
  ["attnwidgets-tok attnwidgets-tok-c0 attnwidgets-tok-differ", "boundary only some have"],
];

/** The first tokenizer's token covering position `at`, or -1. */
function tokenAt(tok, at) {
  const i = Math.max(0, lowerBound(tok.starts, at + 1) - 1);
  for (let t = i; t >= 0 && t > i - 8; t--) {
    if (tok.starts[t] <= at && tok.ends[t] > at) return t;
  }
  return -1;
}

/** The template tokens of `tok` (BOS, [CLS], [SEP]...) as chips after its counts. */
function templateChips(tok, line) {
  const chips = [];
  for (let t = 0; t < tok.n && chips.length < 12; t++) {
    if (tok.flags[t] & TEMPLATE) chips.push(t);
  }
  if (!chips.length) return;
  line.appendChild(line.ownerDocument.createTextNode(" · the template adds "));
  for (const t of chips) {
    const chip = node("span", "attnwidgets-tok attnwidgets-tok-template", line, tok.readable(t));
    chip.title = `token ${t} · id ${tok.ids[t]}`;
  }
}

function createView(model, el) {
  injectStyle(el, STYLE_ID, CSS);
  const root = node("div", ROOT, el);
  root.tabIndex = 0;
  const summary = node("div", "attnwidgets-tok-summary", root);
  const legend = node("div", "attnwidgets-tok-legend", root);
  const status = node("div", "attnwidgets-tok-note", root);
  const tooltip = node("div", "attnwidgets-tok-tooltip", root);
  tooltip.hidden = true;
  let tokens = null;
  let legendRows = -1;

  const setWord = (word) => {
    model.set("word", word);
    model.save_changes();
  };
  const setHoverToken = (t) => {
    model.set("hover_token", t);
    model.save_changes();
  };
  // The highlight is drawn first; the trait (a comm message, the linked view) follows after
  // the frame, once for the newest token when the pointer crossed several.
  let pendingHover = null;
  const publishHover = (t) => {
    if (!tokens || tokens.linkNote) return;
    const first = pendingHover === null;
    pendingHover = t;
    if (!first) return;
    const later = globalThis.requestAnimationFrame ?? ((fn) => setTimeout(fn, 0));
    later(() =>
      setTimeout(() => {
        const value = pendingHover;
        pendingHover = null;
        if (value !== null && model.get("hover_token") !== value) setHoverToken(value);
      }, 0),
    );
  };

  const view = createTextView(root, {
    tooltip,
    onHover(k, t) {
      root.dataset.hover = `${k}:${t}`;
      if (k === 0) publishHover(t);
      else publishHover(tokenAt(tokens.tokenizers[0], tokens.tokenizers[k].starts[t]));
    },
    onClick(k, t, at) {
      const word = wordAt(model.get("text") ?? "", at);
      if (word) setWord(word);
      vocab.showToken(k, tokens.tokenizers[k].ids[t]);
    },
  });
  const steps = createStepsPanel(root, { onWord: setWord });
  const vocab = createVocabPanel(root, {
    send: (content) => model.send(content),
    tokenizers: () => tokens?.tokenizers ?? [],
  });

  function drawSummary() {
    const lines = tokens.tokenizers.map((tok) => {
      const line = node("div", "attnwidgets-tok-count");
      node("span", "attnwidgets-tok-name", line, `${tok.name} (${tok.algorithm}): `);
      line.appendChild(line.ownerDocument.createTextNode(countsText(tok)));
      if (tokens.tokenizers.length > 1) templateChips(tok, line); // not drawn in the rows
      if (tok.note) node("div", "attnwidgets-tok-note", line, `${tok.name}: ${tok.note}`);
      return line;
    });
    if (tokens.tokenizers.length > 1) {
      const share = tokens.agreement === null ? "" : `${(100 * tokens.agreement).toFixed(1)}%`;
      const text = `${tokens.boundaries.length.toLocaleString("en-US")} token boundaries; every tokenizer has ${share} of them`;
      lines.push(node("div", "attnwidgets-tok-agreement", null, text));
    }
    if (tokens.linkNote) lines.push(node("div", "attnwidgets-tok-note", null, tokens.linkNote));
    summary.replaceChildren(...lines);
    const rows = tokens.tokenizers.length;
    if (rows !== legendRows) {
      legendRows = rows;
      const items = rows > 1 ? [...LEGEND, ...COMPARE_LEGEND] : LEGEND;
      legend.replaceChildren(
        ...items.map(([cls, text]) => {
          const item = node("span", "attnwidgets-tok-legend-item");
          node("span", cls, item, "ab");
          item.appendChild(item.ownerDocument.createTextNode(` ${text}`));
          return item;
        }),
      );
    }
  }

  function drawData() {
    const text = model.get("text") ?? "";
    try {
      tokens = readTokens(model.get("data"));
    } catch (err) {
      status.textContent = err.message;
      root.dataset.state = "error";
      return;
    }
    if (!tokens) {
      root.dataset.state = "empty";
      return;
    }
    if (tokens.textLength !== text.length) {
      root.dataset.state = "loading"; // the text and its tokens arrive as two updates
      return;
    }
    status.textContent = "";
    drawSummary();
    view.setData(text, tokens, Number(model.get("height")) || 320);
    vocab.setTokenizers(tokens.tokenizers);
    onHoverToken(false);
    root.dataset.state = "ready";
  }

  function onHoverToken(reveal = true) {
    const t = Number(model.get("hover_token"));
    const current = view.hovered;
    if (current && current.k === 0 && current.t === t) return;
    if (t >= 0 && tokens?.linkNote) return;
    view.setHover(0, t, reveal);
    root.dataset.hover = t >= 0 ? `0:${t}` : "";
  }

  const onSteps = () => steps.update(model.get("steps"), model.get("word") ?? "");
  const onMessage = (msg) => vocab.onMessage(msg);
  const onKey = (event) => {
    if (event.key !== "Escape") return;
    view.setHover(0, -1);
    root.dataset.hover = "";
    setHoverToken(-1);
  };
  const events = [
    ["change:data", drawData],
    ["change:text", drawData],
    ["change:height", drawData],
    ["change:hover_token", () => onHoverToken(true)],
    ["change:word", onSteps],
    ["change:steps", onSteps],
    ["msg:custom", onMessage],
  ];
  for (const [name, fn] of events) model.on(name, fn);
  root.addEventListener("keydown", onKey);
  const resize = globalThis.ResizeObserver ? new ResizeObserver(() => view.resized()) : null;
  resize?.observe(el);

  drawData();
  onSteps();

  return () => {
    for (const [name, fn] of events) model.off(name, fn);
    root.removeEventListener("keydown", onKey);
    resize?.disconnect();
    view.dispose();
    steps.dispose();
    vocab.dispose();
    root.remove();
  };
}

export default {
  render({ model, el }) {
    return createView(model, el);
  },
};
