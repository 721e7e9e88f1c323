// The tokenizer view's stylesheet (class names are what the tests select by).

export const ROOT = "attnwidgets-tokens";
export const STYLE_ID = "attnwidgets-tokens-style";

// Token backgrounds: neighbours always differ (index mod 6).
export const TOKEN_RGB = [
  [255, 224, 178],
  [200, 230, 201],
  [187, 222, 251],
  [248, 187, 208],
  [225, 190, 231],
  [255, 245, 157],
];
export const HOVER_RGB = [255, 138, 101];

const colours = TOKEN_RGB.map(
  ([r, g, b], i) => `.${ROOT} .attnwidgets-tok-c${i} { background: rgb(${r}, ${g}, ${b}); }`,
).join("\n");

export const CSS = `
.${ROOT} { position: relative; box-sizing: border-box; max-width: 100%; padding: 4px 0;
  font-family: var(--jp-ui-font-family, system-ui, sans-serif);
  font-size: var(--jp-ui-font-size1, 13px); color: var(--jp-ui-font-color1, #222); }
.${ROOT} [hidden] { display: none !important; }
.${ROOT} .attnwidgets-tok-summary > div { overflow-wrap: anywhere; }
.${ROOT} .attnwidgets-tok-name { font-weight: 600; }
.${ROOT} .attnwidgets-tok-note { color: var(--jp-warn-color0, #a15c00); }
.${ROOT} .attnwidgets-tok-legend { display: flex; flex-wrap: wrap; gap: 4px 12px; margin: 4px 0;
  font-size: 11px; color: var(--jp-ui-font-color2, #555); }
.${ROOT} .attnwidgets-tok-scroll { position: relative; overflow: auto; box-sizing: border-box;
  border: 1px solid var(--jp-border-color2, #ddd); background: var(--jp-layout-color0, #fff);
  font-family: var(--jp-code-font-family, ui-monospace, monospace); font-size: 13px;
  line-height: 20px; color: #111; }
.${ROOT} .attnwidgets-tok-probe { position: absolute; visibility: hidden; white-space: pre;
  font-family: var(--jp-code-font-family, ui-monospace, monospace); font-size: 13px; }
.${ROOT} .attnwidgets-tok-spacer { width: 1px; }
.${ROOT} .attnwidgets-tok-lines { position: absolute; left: 0; top: 0; min-width: 100%; }
.${ROOT} .attnwidgets-tok-line { box-sizing: border-box; }
.${ROOT} .attnwidgets-tok-row { display: flex; height: 20px; white-space: pre; }
.${ROOT} .attnwidgets-tok-rowname { flex: 0 0 112px; position: sticky; left: 0; z-index: 1;
  overflow: hidden; text-overflow: ellipsis; padding: 0 4px; font-size: 11px;
  font-family: var(--jp-ui-font-family, system-ui, sans-serif);
  color: var(--jp-ui-font-color2, #555); background: var(--jp-layout-color0, #fff); }
.${ROOT} .attnwidgets-tok-body { white-space: pre; padding: 0 4px; tab-size: 4; }
.${ROOT} .attnwidgets-tok { cursor: pointer; }
${colours}
.${ROOT} .attnwidgets-tok-special { outline: 1px solid rgb(106, 27, 154); font-weight: 600; }
.${ROOT} .attnwidgets-tok-template { display: inline-block; margin: 0 2px; padding: 0 3px;
  line-height: 16px; font-size: 11px; border: 1px dashed rgb(106, 27, 154); border-radius: 3px;
  color: rgb(106, 27, 154); background: rgb(243, 229, 245); }
.${ROOT} .attnwidgets-tok-unknown { background: rgb(255, 205, 210);
  text-decoration: underline wavy rgb(211, 47, 47); }
.${ROOT} .attnwidgets-tok-fallback { text-decoration: underline dotted rgb(230, 81, 0); }
.${ROOT} .attnwidgets-tok-multi { text-decoration: underline double rgb(110, 110, 110); }
.${ROOT} .attnwidgets-tok-eol { color: rgb(120, 120, 120); }
.${ROOT} .attnwidgets-tok-agree { box-shadow: inset 2px 0 0 rgb(46, 125, 50); }
.${ROOT} .attnwidgets-tok-differ { box-shadow: inset 2px 0 0 rgb(211, 47, 47); }
.${ROOT} .attnwidgets-tok-agree-after { box-shadow: inset -2px 0 0 rgb(46, 125, 50); }
.${ROOT} .attnwidgets-tok-differ-after { box-shadow: inset -2px 0 0 rgb(211, 47, 47); }
.${ROOT} .attnwidgets-tok-agree.attnwidgets-tok-agree-after { box-shadow: inset 2px 0 0
  rgb(46, 125, 50), inset -2px 0 0 rgb(46, 125, 50); }
.${ROOT} .attnwidgets-tok.attnwidgets-tok-hover { background: rgb(${HOVER_RGB.join(", ")});
  outline: 1px solid rgb(191, 54, 12); }
.${ROOT} .attnwidgets-tok.attnwidgets-tok-linked { outline: 2px solid rgb(25, 118, 210); }
.${ROOT} .attnwidgets-tok-tooltip { position: absolute; z-index: 10; pointer-events: none;
  padding: 3px 6px; border: 1px solid var(--jp-border-color1, #bbb); border-radius: 3px;
  background: var(--jp-layout-color1, #fff); box-shadow: 0 1px 4px rgba(0, 0, 0, 0.2);
  white-space: pre; max-width: 640px; overflow: hidden;
  font-family: var(--jp-code-font-family, ui-monospace, monospace); font-size: 11px; }
.${ROOT} .attnwidgets-tok-label { font-weight: 600; margin-right: 6px; }
.${ROOT} .attnwidgets-tok-hint { font-size: 11px; color: var(--jp-ui-font-color2, #555); }
.${ROOT} .attnwidgets-tok-steps, .${ROOT} .attnwidgets-tok-vocab { margin-top: 10px; }
.${ROOT} .attnwidgets-tok-steps-bar, .${ROOT} .attnwidgets-tok-vocab-bar,
.${ROOT} .attnwidgets-tok-steps-controls { display: flex; flex-wrap: wrap; align-items: center;
  gap: 6px; margin: 4px 0; }
.${ROOT} .attnwidgets-tok-word, .${ROOT} .attnwidgets-tok-query { width: 14em; font: inherit;
  padding: 1px 4px; }
.${ROOT} .attnwidgets-tok-steps-panel { margin: 6px 0 10px; }
.${ROOT} .attnwidgets-tok-steps-title { overflow-wrap: anywhere; }
.${ROOT} .attnwidgets-tok-steps-error { color: var(--jp-error-color1, #d32f2f); }
.${ROOT} .attnwidgets-tok-slider { width: 200px; }
.${ROOT} .attnwidgets-tok-caption { min-height: 1.3em; overflow-wrap: anywhere; white-space: pre-wrap; }
.${ROOT} .attnwidgets-tok-symbols { margin: 4px 0; }
.${ROOT} .attnwidgets-tok-pretoken { display: inline-block; margin-right: 14px; }
.${ROOT} .attnwidgets-tok-sym { display: inline-block; margin: 2px 1px; padding: 1px 4px;
  border: 1px solid rgb(187, 187, 187); border-radius: 3px; background: rgb(250, 250, 250);
  white-space: pre; font-family: var(--jp-code-font-family, ui-monospace, monospace); }
.${ROOT} .attnwidgets-tok-sym-focus { background: rgb(255, 224, 130); border-color: rgb(245, 124, 0); }
.${ROOT} .attnwidgets-tok-sym-rest { color: rgb(140, 140, 140); border-style: dashed; }
.${ROOT} .attnwidgets-tok-alternatives { font-size: 12px; color: var(--jp-ui-font-color2, #555);
  overflow-wrap: anywhere; }
.${ROOT} .attnwidgets-tok-results, .${ROOT} .attnwidgets-tok-neighbours { max-height: 220px;
  overflow: auto; font-family: var(--jp-code-font-family, ui-monospace, monospace); font-size: 12px; }
.${ROOT} .attnwidgets-tok-result { cursor: pointer; white-space: pre-wrap; overflow-wrap: anywhere; }
.${ROOT} .attnwidgets-tok-result:hover { background: rgb(238, 238, 238); }
.${ROOT} .attnwidgets-tok-neighbours-title { font-family: var(--jp-ui-font-family, sans-serif);
  margin-top: 6px; }
`;
