// The VLM views' CSS (on top of the vision views' VISION_CSS), scoped by their root classes.

export const VLM_CSS = `
.attnwidgets-cross-modal, .attnwidgets-features, .attnwidgets-prompts {
  font-family: var(--jp-ui-font-family, sans-serif); font-size: 12px;
  color: var(--jp-ui-font-color1, #222); }
.attnwidgets-vlm-canvas { display: block; cursor: crosshair; touch-action: none; }
.attnwidgets-vlm-tokens { min-width: 240px; max-width: 360px; }
.attnwidgets-vlm-tokens-title { color: #555; margin: 6px 0 2px; }
.attnwidgets-vlm-token-rows { max-height: 300px; overflow: auto; border: 1px solid #ddd; }
.attnwidgets-vlm-token { display: flex; align-items: center; gap: 6px; padding: 1px 4px;
  cursor: pointer; }
.attnwidgets-vlm-token:hover { background: #f0f4fa; }
.attnwidgets-vlm-token.is-selected { background: #dde8f7; outline: 1px solid #3b6fb6; }
.attnwidgets-vlm-token.is-generated .attnwidgets-vlm-token-label { color: #8a3b00; }
.attnwidgets-vlm-token-label { width: 110px; overflow: hidden; white-space: pre;
  text-overflow: ellipsis; font-family: var(--jp-code-font-family, monospace); }
.attnwidgets-vlm-token-bar { width: 110px; height: 9px; background: #e6e6e6; position: relative; }
.attnwidgets-vlm-token-fill { position: absolute; left: 0; top: 0; bottom: 0; background: #3b6fb6; }
.attnwidgets-vlm-token-value { font-family: var(--jp-code-font-family, monospace); color: #444; }
.attnwidgets-vlm-grid-title { color: #555; margin: 8px 0 4px; max-width: 640px; }
.attnwidgets-vlm-grid-wrap { display: flex; gap: 4px; align-items: flex-start; }
.attnwidgets-vlm-grid-label { color: #666; font-family: var(--jp-code-font-family, monospace);
  display: flex; align-items: center; }
.attnwidgets-vlm-share-grid { cursor: pointer; outline: 1px solid #ccc; }
.attnwidgets-vlm-grid-readout, .attnwidgets-vlm-readout { min-height: 1.3em; color: #444;
  font-family: var(--jp-code-font-family, monospace); white-space: pre; }
.attnwidgets-vlm-colorbar { display: block; margin-top: 4px; }
.attnwidgets-vlm-legend { color: #444; margin: 2px 0; }
.attnwidgets-vlm-pattern { width: 260px; font-family: var(--jp-code-font-family, monospace); }
.attnwidgets-vlm-prompt { display: flex; align-items: center; gap: 6px; padding: 2px 4px;
  cursor: pointer; }
.attnwidgets-vlm-prompt.is-selected { background: #dde8f7; outline: 1px solid #3b6fb6; }
.attnwidgets-vlm-prompt-label { width: 160px; overflow: hidden; white-space: pre;
  text-overflow: ellipsis; }
.attnwidgets-vlm-thumbs { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; }
.attnwidgets-vlm-thumb { cursor: pointer; outline: 1px solid #ccc; }
.attnwidgets-vlm-thumb.is-current { outline: 3px solid rgb(255, 40, 40); }
.attnwidgets-vlm-thumb-box { display: flex; flex-direction: column; gap: 2px; max-width: 120px; }
.attnwidgets-vlm-thumb-label { overflow: hidden; white-space: pre; text-overflow: ellipsis; color: #555; }
`;
