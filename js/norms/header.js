// The header shared by NormView and the training monitor: title, status line, colour key and
// the log-counts toggle.

import { node } from "../shared/dom.js";

/** Build the header into `root`; returns {title, status, log} (log is the checkbox). */
export function normHeader(root) {
  const title = node("div", "attnwidgets-title", root);
  const status = node("div", "attnwidgets-status", root);
  status.setAttribute("role", "status");
  const legend = node("div", "attnwidgets-legend", root);
  node("span", "attnwidgets-key-in", legend, "■ input ");
  node("span", "attnwidgets-key-out", legend, "■ output ");
  const toggle = node("label", "attnwidgets-log-toggle", legend);
  const log = node("input", "", toggle);
  log.type = "checkbox";
  toggle.appendChild(document.createTextNode(" log counts"));
  return { title, status, log };
}
