// The stack select (encoder / decoder / cross, vision / text...) and the label note.
// Traits: `stacks` (names), `stack` (the one shown; the kernel swaps the data when it changes,
// and `data_version` then drops every cache), `label_note` (why positions are shown instead of
// token text, "" when the labels are tokens). The select is hidden when there is one stack.

import { node } from "../shared/dom.js";
import { onChange, setTrait } from "../shared/model.js";

export function createStacks(model, root, before) {
  const box = node("div", "attnwidgets-stack-bar");
  root.insertBefore(box, before);
  const label = node("label", "attnwidgets-stack-label", box, "stack ");
  const select = node("select", "attnwidgets-stack", label);
  select.title = "attention stack shown (rows x columns: its own token axes)";
  const note = node("div", "attnwidgets-label-note");
  root.insertBefore(note, before.nextSibling);

  const onPick = () => setTrait(model, "stack", select.value);
  select.addEventListener("change", onPick);

  function update() {
    const names = model.get("stacks") ?? [];
    const key = names.join("\u0000");
    if (select.dataset.names !== key) {
      select.dataset.names = key;
      select.replaceChildren(...names.map((name) => node("option", null, null, name)));
      for (const [i, option] of Array.from(select.options).entries()) option.value = names[i];
    }
    box.hidden = names.length <= 1;
    const shown = model.get("stack") ?? "";
    if (select.value !== shown) select.value = shown;
    const text = model.get("label_note") ?? "";
    note.textContent = text;
    note.hidden = !text;
    root.dataset.stack = shown;
  }

  return {
    update,
    watch: (fn) => onChange(model, ["stacks", "stack", "label_note"], fn),
    dispose() {
      select.removeEventListener("change", onPick);
    },
  };
}
