// The image view's own controls (they work where ipywidgets does not, e.g. marimo): layer,
// heads, query, overlay (attention or rollout), rollout options, opacity, grid lines, heads grid.
// Each control writes its trait (setTrait: model.set + save_changes); `sync` shows the traits'
// values.

import { setTrait } from "../shared/model.js";
import { element, shortLabel } from "./labels.js";

function labelled(parent, text, control) {
  const label = element("label", "attnwidgets-vision-control", parent);
  element("span", null, label, text);
  label.appendChild(control);
  return label;
}

function option(select, value, text) {
  const item = element("option", null, select, text);
  item.value = value;
  return item;
}

/** The head select's value for the traits: "mean", "max" or "h<index>". */
export function headValue(heads, head) {
  return heads === "one" ? `h${head}` : heads;
}

export function buildControls(parent, model, tokens, specials) {
  const bar = element("div", "attnwidgets-vision-controls", parent);
  const layer = element("input", "attnwidgets-vision-layer");
  layer.type = "range";
  layer.min = "0";
  layer.max = String(Math.max(0, model.get("n_layers") - 1));
  layer.step = "1";
  labelled(bar, "layer", layer);
  const layerText = element("span", "attnwidgets-vision-layer-name", bar);
  const head = element("select", "attnwidgets-vision-head");
  labelled(bar, "heads", head);
  const query = element("select", "attnwidgets-vision-query");
  for (const index of specials) option(query, String(index), shortLabel(tokens[index], 24));
  const patchOption = option(query, "patch", "a patch (click the image)");
  labelled(bar, "query", query);
  const overlay = element("select", "attnwidgets-vision-overlay");
  option(overlay, "attention", "attention of one layer");
  option(overlay, "rollout", "rollout (all layers)");
  labelled(bar, "show", overlay);
  const rollout = element("span", "attnwidgets-vision-rollout-controls", bar);
  const fusion = element("select", "attnwidgets-vision-fusion");
  for (const how of ["mean", "max", "min"]) option(fusion, how, how);
  labelled(rollout, "fuse heads", fusion);
  const discard = element("input", "attnwidgets-vision-discard");
  Object.assign(discard, { type: "number", min: "0", max: "0.95", step: "0.05" });
  labelled(rollout, "discard", discard);
  const opacity = element("input", "attnwidgets-vision-opacity");
  Object.assign(opacity, { type: "range", min: "0", max: "100", step: "1" });
  labelled(bar, "opacity", opacity);
  const lines = element("input", "attnwidgets-vision-lines");
  lines.type = "checkbox";
  labelled(bar, "grid", lines);
  const gridToggle = element("button", "attnwidgets-vision-grid-toggle", bar, "heads grid");
  gridToggle.type = "button";

  layer.addEventListener("input", () => setTrait(model, "layer", Number(layer.value)));
  head.addEventListener("change", () => {
    const v = head.value;
    if (v.startsWith("h")) {
      model.set("heads", "one");
      model.set("head", Number(v.slice(1)));
      model.save_changes();
    } else setTrait(model, "heads", v);
  });
  query.addEventListener("change", () => {
    if (query.value !== "patch") setTrait(model, "query", Number(query.value));
  });
  overlay.addEventListener("change", () => setTrait(model, "overlay", overlay.value));
  fusion.addEventListener("change", () => setTrait(model, "rollout_fusion", fusion.value));
  discard.addEventListener("change", () => {
    const v = Number(discard.value);
    if (Number.isFinite(v)) setTrait(model, "discard_ratio", Math.min(0.95, Math.max(0, v)));
  });
  opacity.addEventListener("input", () => setTrait(model, "opacity", Number(opacity.value) / 100));
  lines.addEventListener("change", () => setTrait(model, "show_lines", lines.checked));
  gridToggle.addEventListener("click", () =>
    setTrait(model, "show_heads_grid", !model.get("show_heads_grid")),
  );

  let headsShown = -1;
  return {
    /** Show the traits' values; `names` are the layer names, `layerHeads` heads per layer. */
    sync(state, names, layerHeads) {
      layer.value = String(state.layer);
      layerText.textContent = shortLabel(names[state.layer] ?? "", 48);
      layerText.title = shortLabel(names[state.layer] ?? "", 300);
      const count = layerHeads[state.layer] ?? 1;
      if (count !== headsShown) {
        head.replaceChildren();
        option(head, "mean", `mean of ${count} heads`);
        option(head, "max", `max of ${count} heads`);
        for (let h = 0; h < count; h++) option(head, `h${h}`, `head ${h}`);
        headsShown = count;
      }
      head.value = headValue(state.heads, Math.min(state.head, count - 1));
      const position = state.position;
      patchOption.textContent = position
        ? `patch (${position[0]}, ${position[1]})`
        : "a patch (click the image)";
      query.value = position ? "patch" : String(state.query);
      overlay.value = state.overlay;
      rollout.style.display = state.overlay === "rollout" ? "" : "none";
      fusion.value = state.rollout_fusion;
      discard.value = String(state.discard_ratio);
      opacity.value = String(Math.round(state.opacity * 100));
      lines.checked = state.show_lines;
      gridToggle.setAttribute("aria-pressed", String(state.show_heads_grid));
      const pointless = state.overlay === "rollout";
      layer.disabled = pointless && layerHeads.length > 0 && !state.staged;
      head.disabled = pointless;
      query.disabled = pointless;
    },
  };
}
