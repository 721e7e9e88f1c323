// The vocabulary: search by substring or #id, and a token's nearest neighbours by cosine in
// the model's input embeddings. The kernel answers by message (vocab_messages.py); results are
// drawn as text. Replies are matched to the newest request of their kind: older ones are dropped.

import { button, node } from "../shared/dom.js";
import { MISSING_MS } from "../shared/requests.js";
import { visible } from "./hover_text.js";

/** One result as a line of text. */
export function entryText(entry) {
  const readable = entry.readable !== entry.piece ? ` reads «${visible(entry.readable)}»` : "";
  const tail =
    entry.similarity !== undefined
      ? ` · cosine ${entry.similarity.toFixed(3)}`
      : ` · rank ${entry.rank}${entry.special ? " · special" : ""}`;
  return `id ${entry.id} «${visible(entry.piece)}»${readable}${tail}`;
}

export function createVocabPanel(parent, { send, tokenizers }) {
  const section = node("div", "attnwidgets-tok-vocab", parent);
  const bar = node("div", "attnwidgets-tok-vocab-bar", section);
  node("span", "attnwidgets-tok-label", bar, "vocabulary:");
  const select = node("select", "attnwidgets-tok-vocab-tokenizer", bar);
  const input = node("input", "attnwidgets-tok-query", bar);
  input.type = "text";
  input.placeholder = "substring or #id";
  input.spellcheck = false;
  const go = button(bar, "attnwidgets-tok-search", "search");
  const status = node("div", "attnwidgets-tok-vocab-status", section);
  const results = node("div", "attnwidgets-tok-results", section);
  const neighbours = node("div", "attnwidgets-tok-neighbours", section);
  let counter = 0;
  const latest = { search: null, nearest: null };
  let names = [];
  const timers = new Set();

  function tokenizer() {
    return Number(select.value) || 0;
  }

  function request(kind, content) {
    const id = `vocab-${++counter}`;
    latest[kind] = id;
    send({ type: kind, id, ...content });
    section.dataset.state = "waiting";
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (latest[kind] !== id) return; // answered, or a newer request
      section.dataset.state = "missing";
      (kind === "search" ? status : neighbours).textContent =
        `no reply: ${kind === "search" ? "this search" : "these neighbours"} are not in this page (no kernel)`;
    }, MISSING_MS);
    timers.add(timer);
  }

  function search() {
    const query = input.value;
    if (!query.trim()) return;
    status.textContent = `searching «${visible(query)}»…`;
    request("search", { tokenizer: tokenizer(), query });
  }

  /** Neighbours of token `id` of tokenizer k (or, without a model, its entry and a note). */
  function showToken(k, id) {
    select.value = String(k);
    const info = tokenizers()[k];
    if (info?.embeddings) {
      neighbours.textContent = `nearest to id ${id}…`;
      request("nearest", { tokenizer: k, token: id, k: 10 });
    } else {
      input.value = `#${id}`;
      neighbours.textContent =
        "nearest neighbours need the model's input embeddings: TokenizerView(tok, text, model=model)";
      search();
    }
  }

  function row(parentBox, entry, k) {
    const line = node("div", "attnwidgets-tok-result", parentBox, entryText(entry));
    line.dataset.id = entry.id;
    line.addEventListener("click", () => showToken(k, entry.id));
    return line;
  }

  function onMessage(msg) {
    if (!msg || !["search", "nearest", "error"].includes(msg.type)) return false;
    const kind = msg.id === latest.search ? "search" : msg.id === latest.nearest ? "nearest" : null;
    if (kind === null) return true; // an older request: dropped
    latest[kind] = null;
    section.dataset.state = "ready";
    if (msg.type === "error") {
      (kind === "search" ? status : neighbours).textContent = msg.message;
      return true;
    }
    if (msg.type === "search") {
      status.textContent = msg.text;
      results.replaceChildren();
      for (const entry of msg.results) row(results, entry, msg.tokenizer);
    } else {
      neighbours.replaceChildren();
      node("div", "attnwidgets-tok-neighbours-title", neighbours, msg.text);
      for (const entry of msg.results) row(neighbours, entry, msg.tokenizer);
    }
    return true;
  }

  const onKey = (event) => {
    if (event.key === "Enter") search();
  };
  input.addEventListener("keydown", onKey);
  go.addEventListener("click", search);

  return {
    section,
    onMessage,
    showToken,
    search(query, k = 0) {
      input.value = query;
      select.value = String(k);
      search();
    },
    setTokenizers(list) {
      const now = list.map((t) => t.name);
      if (now.join("\u0000") === names.join("\u0000")) return;
      names = now;
      select.replaceChildren(
        ...list.map((t, k) => {
          const option = select.ownerDocument.createElement("option");
          option.value = String(k);
          option.textContent = t.name;
          return option;
        }),
      );
      select.hidden = list.length < 2;
    },
    dispose() {
      for (const timer of timers) clearTimeout(timer);
      input.removeEventListener("keydown", onKey);
      go.removeEventListener("click", search);
    },
  };
}
