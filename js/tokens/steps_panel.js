// One word through each tokenizer, step by step: a slider and a play button walk the frames
// the kernel computed from the tokenizer's own data (BPE merges with their ranks, WordPiece's
// longest matches, Unigram's best reading so far and its rivals). Everything here is inside
// the widget (no ipywidgets), so it works wherever anywidget does (JupyterLab, marimo...).

import { button, node } from "../shared/dom.js";
import { MISSING_MS } from "../shared/requests.js";
import { visible } from "./hover_text.js";

const PLAY_MS = 700;

function quote(items) {
  return items.map((s) => `«${visible(s)}»`).join(" ");
}

/** The title line of one tokenizer's steps. */
export function stepsTitle(payload) {
  const parts = [`${payload.name} (${payload.algorithm ?? "?"})`, `«${visible(payload.word)}»`];
  if (payload.normalized !== undefined && payload.normalized !== payload.word) {
    parts.push(`normalised «${visible(payload.normalized)}»`);
  }
  if (payload.pre_tokens?.length) {
    parts.push(`pre-tokens ${quote(payload.pre_tokens.map((p) => p.text))}`);
  }
  return parts.join(" → ");
}

function createPanel(parent, payload) {
  const box = node("div", "attnwidgets-tok-steps-panel", parent);
  node("div", "attnwidgets-tok-steps-title", box, stepsTitle(payload));
  if (payload.error) {
    node("div", "attnwidgets-tok-steps-error", box, payload.error);
    return { box, dispose() {} };
  }
  const frames = payload.frames;
  const readable = new Map(payload.readable ?? []);
  const controls = node("div", "attnwidgets-tok-steps-controls", box);
  const prev = button(controls, "attnwidgets-tok-prev", "◀", "previous step");
  const play = button(controls, "attnwidgets-tok-play", "▶ play", "play the steps");
  const next = button(controls, "attnwidgets-tok-next", "▶", "next step");
  const slider = node("input", "attnwidgets-tok-slider", controls);
  slider.type = "range";
  slider.min = "0";
  slider.max = String(frames.length - 1);
  slider.step = "1";
  slider.value = "0";
  const counter = node("span", "attnwidgets-tok-counter", controls);
  const caption = node("div", "attnwidgets-tok-caption", box);
  const symbols = node("div", "attnwidgets-tok-symbols", box);
  const alternatives = node("div", "attnwidgets-tok-alternatives", box);
  for (const pre of payload.pre_tokens ?? []) {
    if (pre.alternatives?.length > 1) {
      const lines = pre.alternatives.map((a) => `${quote(a.pieces)} ${a.score.toFixed(2)}`);
      alternatives.textContent = `best segmentations of «${visible(pre.text)}» (total log p): ${lines.join(" · ")}`;
    }
  }
  let position = 0;
  let timer = null;

  function draw(i) {
    position = Math.max(0, Math.min(frames.length - 1, i));
    const frame = frames[position];
    slider.value = String(position);
    counter.textContent = `step ${position} of ${frames.length - 1}`;
    caption.textContent = frame.caption;
    const groups = frame.symbols.map((pre, k) => {
      const group = box.ownerDocument.createElement("span");
      group.className = "attnwidgets-tok-pretoken";
      pre.forEach((sym, j) => {
        const cell = node("span", "attnwidgets-tok-sym", group, readable.get(sym) ?? sym);
        cell.title = `raw: ${sym}`;
        const focused = frame.focus && frame.focus[0] === k;
        if (focused && frame.focus[1] === j) cell.classList.add("attnwidgets-tok-sym-focus");
        if (focused && frame.rest && j === pre.length - 1) {
          cell.classList.add("attnwidgets-tok-sym-rest");
        }
      });
      return group;
    });
    symbols.replaceChildren(...groups);
    box.dataset.step = String(position);
    box.dataset.frames = String(frames.length);
  }

  function stop() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    play.textContent = "▶ play";
  }
  function start() {
    if (position >= frames.length - 1) draw(0);
    play.textContent = "pause";
    timer = setInterval(() => {
      draw(position + 1);
      if (position >= frames.length - 1) stop();
    }, PLAY_MS);
  }
  function goTo(i) {
    stop();
    draw(i);
  }
  const listeners = [
    [prev, "click", () => goTo(position - 1)],
    [next, "click", () => goTo(position + 1)],
    [play, "click", () => (timer === null ? start() : stop())],
    [slider, "input", () => goTo(Number(slider.value))],
  ];
  for (const [target, name, fn] of listeners) target.addEventListener(name, fn);
  draw(0);
  return {
    box,
    draw,
    dispose() {
      stop();
      for (const [target, name, fn] of listeners) target.removeEventListener(name, fn);
    },
  };
}

export function createStepsPanel(parent, { onWord }) {
  const section = node("div", "attnwidgets-tok-steps", parent);
  const bar = node("div", "attnwidgets-tok-steps-bar", section);
  node("span", "attnwidgets-tok-label", bar, "step by step:");
  const input = node("input", "attnwidgets-tok-word", bar);
  input.type = "text";
  input.placeholder = "a word";
  input.spellcheck = false;
  node(
    "span",
    "attnwidgets-tok-hint",
    bar,
    "click a word in the text, or type one and press Enter",
  );
  const status = node("div", "attnwidgets-tok-steps-status", section);
  const panelsBox = node("div", "attnwidgets-tok-steps-panels", section);
  let panels = [];
  let shown = null;
  let waiting = 0; // the timer that says a word's steps never came (a page with no kernel)

  const onKey = (event) => {
    if (event.key === "Enter") onWord(input.value);
  };
  input.addEventListener("keydown", onKey);

  return {
    section,
    get panels() {
      return panels;
    },
    /** Show `steps` (the trait) for `word` (the trait): waits while the kernel computes. */
    update(steps, word) {
      if (input.ownerDocument.activeElement !== input) input.value = word;
      clearTimeout(waiting);
      if (!steps || steps.word !== word) {
        status.textContent = word ? `stepping «${visible(word)}»…` : "";
        section.dataset.state = "loading";
        waiting = setTimeout(() => {
          section.dataset.state = "missing";
          status.textContent = `the steps of «${visible(word)}» are not in this page (no kernel)`;
        }, MISSING_MS);
        return;
      }
      section.dataset.state = "ready";
      status.textContent = word ? "" : "no word chosen";
      if (steps === shown) return;
      shown = steps;
      for (const panel of panels) panel.dispose();
      panelsBox.replaceChildren();
      panels = (steps.tokenizers ?? []).map((payload) => createPanel(panelsBox, payload));
    },
    dispose() {
      clearTimeout(waiting);
      input.removeEventListener("keydown", onKey);
      for (const panel of panels) panel.dispose();
    },
  };
}
