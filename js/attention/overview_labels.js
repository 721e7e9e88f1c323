// Layer and head labels around the overview's thumbnails: "H0".."Hn" above the columns,
// "L0".."Ln" left of the rows, thinned so that neighbours do not overlap. The thumbnail canvas
// sits labelW px right and labelH px down inside the grid box (see overviewLayout).

const MIN_PITCH = 16; // px between two drawn labels

/** Every n-th label so that labels `pitch` px apart are at least MIN_PITCH apart. */
export function labelEvery(pitch) {
  return pitch > 0 ? Math.max(1, Math.ceil(MIN_PITCH / pitch)) : 1;
}

/** Replace the labels in `box` (absolutely placed inside the grid) for thumbs and layout. */
export function drawOverviewLabels(box, thumbs, layout) {
  const doc = box.ownerDocument;
  const spans = [];
  const add = (text, title, style, className) => {
    const span = doc.createElement("span");
    span.className = `attnwidgets-thumb-label ${className}`;
    span.textContent = text;
    span.title = title;
    Object.assign(span.style, style);
    spans.push(span);
  };
  const everyHead = labelEvery(layout.pitch);
  for (let h = 0; h < thumbs.heads; h += everyHead) {
    const left = `${layout.labelW + h * layout.pitch}px`;
    add(
      `H${h}`,
      `head ${h}`,
      { left, top: "0px", width: `${layout.pitch * everyHead}px` },
      "attnwidgets-thumb-head",
    );
  }
  const everyLayer = labelEvery(layout.pitchY);
  for (let l = 0; l < thumbs.layers; l += everyLayer) {
    const top = `${layout.labelH + l * layout.pitchY}px`;
    add(
      `L${l}`,
      `layer ${l}`,
      { left: "0px", top, width: `${layout.labelW - 3}px` },
      "attnwidgets-thumb-layer",
    );
  }
  box.replaceChildren(...spans);
}
