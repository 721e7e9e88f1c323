// The scripts an exported page inlines, copied from node_modules into
// src/attnwidgets/static/offline/ by `npm run build`, so that the wheel carries them and
// attnwidgets.save_html needs neither npm nor a network:
// - require.js (npm `requirejs`), the AMD loader the widget manager runs on;
// - @jupyter-widgets/html-manager/dist/embed-amd.js, the widget manager, with the woff2 fonts
//   it links (FontAwesome: the Play button's icons) turned into data: URLs, since a page opened
//   from disk may not fetch a font file next to it.
// NOTICE.txt names both packages, their versions and licences.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const modules = join(root, "node_modules");
const out = join(root, "src", "attnwidgets", "static", "offline");
const WOFF2 = /\b([A-Za-z_$][\w$]*)\.p\+"([0-9a-f]{8,}\.woff2)"/g;

function packageInfo(name) {
  const info = JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8"));
  return `${info.name} ${info.version} (${info.license})`;
}

function inlineFonts(source, folder) {
  return source.replace(WOFF2, (_match, _publicPath, file) => {
    const data = readFileSync(join(folder, file)).toString("base64");
    return `"data:font/woff2;base64,${data}"`;
  });
}

mkdirSync(out, { recursive: true });
writeFileSync(join(out, "require.js"), readFileSync(join(modules, "requirejs", "require.js")));
const managerDir = join(modules, "@jupyter-widgets", "html-manager", "dist");
const manager = inlineFonts(readFileSync(join(managerDir, "embed-amd.js"), "utf8"), managerDir);
writeFileSync(join(out, "embed-amd.js"), manager);
writeFileSync(
  join(out, "NOTICE.txt"),
  [
    "Scripts that pages exported by attnwidgets.save_html carry inline:",
    `require.js: ${packageInfo("requirejs")}`,
    `embed-amd.js: ${packageInfo("@jupyter-widgets/html-manager")}, FontAwesome fonts inlined`,
    "",
  ].join("\n"),
);
