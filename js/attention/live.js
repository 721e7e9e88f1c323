// The live text box (docs/architecture.md, "Live"): edit the text and press Enter, and the
// kernel runs the model again; "generate" asks for new tokens, shown step by step as they come.
// Requests: {type: "run_text", id, text} and {type: "generate", id, text, max_new_tokens}.
// The kernel answers through traits: the data, `text`, `live_state`, `live_message`, and
// `live_answered` = the id of the last request it finished (so the box knows it is done).

import { node } from "../shared/dom.js";
import { onChange } from "../shared/model.js";

// The kernel says it started (live_state "running" / "generating") at once; without that
// within this time it is busy with another cell or absent (an exported page).
export const LIVE_TIMEOUT_MS = 15000;
const MAX_ROWS = 6;

export function createLive(model, root, before) {
  const box = node("div", "attnwidgets-live");
  root.insertBefore(box, before);
  // Multi-line: Enter runs the model, Shift+Enter starts a new line; grows up to MAX_ROWS.
  const input = node("textarea", "attnwidgets-text", box);
  input.rows = 1;
  input.spellcheck = false;
  input.placeholder = "type text, press Enter to run the model (Shift+Enter: new line)";
  input.setAttribute(
    "aria-label",
    "text: edit and press Enter to run the model again (Shift+Enter: new line)",
  );
  const fitRows = () => {
    input.rows = Math.max(1, Math.min(MAX_ROWS, input.value.split("\n").length));
  };
  const generate = node("button", "attnwidgets-generate", box, "generate");
  generate.type = "button";
  generate.title = "generate new tokens after the text (greedy), shown as they come";
  const count = node("input", "attnwidgets-new-tokens", box);
  count.type = "number";
  count.min = "1";
  count.max = "1000";
  count.title = "new tokens to generate";
  count.setAttribute("aria-label", "new tokens to generate");
  const status = node("span", "attnwidgets-live-status", box);
  status.setAttribute("role", "status");

  let pending = null; // {id, what, timer}: sent, not answered yet
  let shownText = null;

  function submit(type) {
    const id = Math.max(Number(model.get("live_answered")) || 0, pending?.id ?? 0) + 1;
    const content = { type, id, text: input.value };
    if (type === "generate") content.max_new_tokens = Math.trunc(Number(count.value));
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      if (!pending) return;
      pending.what = "no reply from the kernel yet (busy with another cell, or not running)";
      update();
    }, LIVE_TIMEOUT_MS);
    pending = { id, what: type === "generate" ? "generating…" : "running the model…", timer };
    model.send(content);
    update();
  }
  function onKey(event) {
    event.stopPropagation(); // arrow keys move the caret here, not the layer or head
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit("run_text");
    }
  }
  const onGenerate = () => submit("generate");
  input.addEventListener("keydown", onKey);
  input.addEventListener("input", fitRows);
  count.addEventListener("keydown", (event) => event.stopPropagation());
  generate.addEventListener("click", onGenerate);

  function update() {
    const live = Boolean(model.get("live"));
    box.hidden = !live;
    if (!live) return;
    const text = model.get("text") ?? "";
    if (text !== shownText) {
      shownText = text; // a new run: its text (what the user typed stays on errors)
      input.value = text;
      fitRows();
    }
    const canGenerate = Boolean(model.get("can_generate"));
    generate.hidden = !canGenerate;
    count.hidden = !canGenerate;
    if (count.ownerDocument.activeElement !== count) {
      count.value = String(model.get("max_new_tokens") ?? 20);
    }
    if (pending && Number(model.get("live_answered")) >= pending.id) {
      clearTimeout(pending.timer);
      pending = null;
    }
    const state = model.get("live_state") || "idle";
    const busy = state === "running" || state === "generating";
    if (pending && busy) clearTimeout(pending.timer); // the kernel has started on it
    // While the kernel streams a generation, its own progress message is the better one.
    const local = pending && !busy;
    box.dataset.state = local ? "running" : state;
    status.textContent = local ? pending.what : (model.get("live_message") ?? "");
    generate.disabled = busy || Boolean(pending);
  }

  return {
    update,
    watch: (fn) =>
      onChange(
        model,
        ["live", "text", "can_generate", "max_new_tokens", "live_state", "live_message"],
        fn,
      ),
    dispose() {
      if (pending) clearTimeout(pending.timer);
      input.removeEventListener("keydown", onKey);
      input.removeEventListener("input", fitRows);
      generate.removeEventListener("click", onGenerate);
    },
  };
}
