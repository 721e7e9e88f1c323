// The vision views' CSS, scoped by their root classes.

export const VISION_CSS = `
.attnwidgets-image-attention, .attnwidgets-patching { font-family: var(--jp-ui-font-family, sans-serif);
  font-size: 12px; color: var(--jp-ui-font-color1, #222); }
.attnwidgets-vision-controls { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 12px;
  margin: 4px 0 8px; }
.attnwidgets-vision-control { display: inline-flex; align-items: center; gap: 4px; }
.attnwidgets-vision-layer { width: 140px; }
.attnwidgets-vision-opacity { width: 90px; }
.attnwidgets-vision-discard { width: 56px; }
.attnwidgets-vision-layer-name { color: #666; max-width: 260px; overflow: hidden;
  white-space: pre; text-overflow: ellipsis; }
.attnwidgets-vision-main { display: flex; flex-wrap: wrap; gap: 12px 18px; align-items: flex-start; }
.attnwidgets-vision-canvas { display: block; cursor: crosshair; outline-offset: 2px; }
.attnwidgets-vision-side { min-width: 220px; max-width: 340px; }
.attnwidgets-vision-title { font-weight: 600; margin-bottom: 4px; white-space: pre-wrap;
  overflow-wrap: anywhere; }
.attnwidgets-vision-peak, .attnwidgets-vision-readout { color: #444; margin: 2px 0;
  font-family: var(--jp-code-font-family, monospace); }
.attnwidgets-vision-share { margin: 8px 0; }
.attnwidgets-vision-share-title { color: #555; margin-bottom: 2px; }
.attnwidgets-vision-share-row { display: flex; align-items: center; gap: 6px; margin: 1px 0; }
.attnwidgets-vision-share-label { width: 72px; overflow: hidden; white-space: pre;
  text-overflow: ellipsis; font-family: var(--jp-code-font-family, monospace); }
.attnwidgets-vision-share-bar { width: 120px; height: 10px; background: #e6e6e6; position: relative; }
.attnwidgets-vision-share-fill { position: absolute; left: 0; top: 0; bottom: 0; background: #3b6fb6; }
.attnwidgets-vision-share-value { font-family: var(--jp-code-font-family, monospace); }
.attnwidgets-vision-status { min-height: 1.3em; color: #a33; margin: 4px 0; white-space: pre-wrap; }
.attnwidgets-vision-headgrid { margin-top: 6px; }
.attnwidgets-vision-grid-title { color: #555; margin: 4px 0; }
.attnwidgets-vision-grid-row { display: flex; align-items: center; gap: 3px; margin: 3px 0; }
.attnwidgets-vision-grid-label { width: 30px; color: #666; font-family: var(--jp-code-font-family, monospace); }
.attnwidgets-vision-thumb { cursor: pointer; outline: 1px solid #ccc; }
.attnwidgets-vision-thumb.is-current { outline: 3px solid rgb(255, 40, 40); }
.attnwidgets-patching-panels { display: flex; flex-wrap: wrap; gap: 12px 18px; align-items: flex-start; }
.attnwidgets-patching-panel { display: flex; flex-direction: column; gap: 4px; }
.attnwidgets-patching-caption { color: #555; max-width: 460px; white-space: pre-wrap; }
.attnwidgets-patching-strip-box { max-height: 220px; overflow: auto; margin-top: 8px; }
.attnwidgets-patching-readout { font-family: var(--jp-code-font-family, monospace); color: #444;
  min-height: 1.3em; white-space: pre; }
`;
