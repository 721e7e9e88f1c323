// PredictionGridView's CSS, scoped by its root class.

export const GRID_CSS = `
.attnwidgets-prediction-grid { font-family: var(--jp-ui-font-family, sans-serif); font-size: 12px;
  color: var(--jp-ui-font-color1, #222); }
.attnwidgets-grid-summary { font-weight: 600; margin: 2px 0 6px; }
.attnwidgets-grid-controls { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 12px;
  margin: 4px 0 8px; }
.attnwidgets-grid-control { display: inline-flex; align-items: center; gap: 4px; }
.attnwidgets-grid-controls select { max-width: 170px; }
.attnwidgets-grid-main { display: flex; flex-wrap: wrap; gap: 12px 18px; align-items: flex-start; }
.attnwidgets-grid-thumbs { display: flex; flex-wrap: wrap; gap: 4px; align-content: flex-start;
  max-width: 720px; min-width: 200px; }
.attnwidgets-grid-item { margin: 0; padding: 2px; cursor: pointer; border-radius: 3px;
  outline: 2px solid transparent; }
.attnwidgets-grid-item:hover, .attnwidgets-grid-item:focus { outline-color: #9bb7e0; }
.attnwidgets-grid-item.is-selected { outline: 2px solid #2f62b5; }
.attnwidgets-grid-item.is-opened { background: #dfe8f7; }
.attnwidgets-grid-thumb { display: block; image-rendering: pixelated; }
.attnwidgets-grid-caption { font-size: 10px; line-height: 1.2; overflow: hidden; }
.attnwidgets-grid-pred, .attnwidgets-grid-true { white-space: pre; overflow: hidden;
  text-overflow: ellipsis; }
.attnwidgets-grid-item.is-wrong .attnwidgets-grid-true { color: rgb(200, 30, 30); }
.attnwidgets-grid-true { color: #2a7a2a; }
.attnwidgets-grid-side { min-width: 240px; max-width: 460px; }
.attnwidgets-grid-detail { min-height: 120px; margin-bottom: 10px; }
.attnwidgets-grid-detail-image { display: block; image-rendering: pixelated; margin-bottom: 4px; }
.attnwidgets-grid-detail-title { font-weight: 600; white-space: pre-wrap; overflow-wrap: anywhere; }
.attnwidgets-grid-verdict { color: #2a7a2a; margin-bottom: 4px; }
.attnwidgets-grid-verdict.is-wrong { color: rgb(200, 30, 30); }
.attnwidgets-grid-bar-row { display: flex; align-items: center; gap: 6px; margin: 1px 0; }
.attnwidgets-grid-bar-label { width: 96px; overflow: hidden; white-space: pre; text-overflow: ellipsis; }
.attnwidgets-grid-bar { width: 140px; height: 10px; background: #e6e6e6; position: relative; }
.attnwidgets-grid-bar-fill { position: absolute; left: 0; top: 0; bottom: 0; background: #9a9a9a; }
.attnwidgets-grid-bar-fill.is-true { background: #3b6fb6; }
.attnwidgets-grid-bar-value { font-family: var(--jp-code-font-family, monospace); }
.attnwidgets-grid-hint, .attnwidgets-grid-note { color: #666; }
.attnwidgets-grid-confusion { border-collapse: collapse; font-size: 11px; }
.attnwidgets-grid-confusion th { font-weight: normal; color: #555; padding: 1px 3px;
  white-space: pre; }
.attnwidgets-grid-confusion .attnwidgets-grid-row { text-align: right; cursor: pointer; }
.attnwidgets-grid-confusion .attnwidgets-grid-col { writing-mode: vertical-rl; transform: rotate(180deg);
  text-align: left; max-height: 70px; }
.attnwidgets-grid-cell { min-width: 22px; height: 20px; text-align: center; cursor: pointer;
  border: 1px solid #e3e3e3; font-family: var(--jp-code-font-family, monospace); }
.attnwidgets-grid-cell.is-active { outline: 2px solid #111; outline-offset: -2px; }
.attnwidgets-grid-status { min-height: 1.3em; color: #444; margin: 6px 0 2px; white-space: pre-wrap; }
.attnwidgets-grid-status.is-error { color: #a33; }
`;
