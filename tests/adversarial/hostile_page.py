"""The hostile strings, the page that mounts any bundle with traps, and how a label must read.

``PAGE``: ``harness.mount(wire(widget), {width, bundle})`` mounts a bundle on the fake model
of tests/browser/fake_model.js (as tests/browser's harness, so ``kernel_bridge.KernelBridge``
drives it); ``harness.reply(msg, b64)`` delivers a custom message. ``TRAPS`` runs before any script:
``window.__pwned`` is what every payload tries to set, dialogs are recorded instead of shown,
and every string drawn on a canvas is recorded (``window.__canvasText``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

HOSTILE = [
    "<!--",
    "-->",
    "</script>",
    "<script>window.__pwned=1</script>",
    "<script>alert(1)</script>",
    '<img src=x onerror="window.__pwned=1">',
    "<svg onload=window.__pwned=1>",
    '"><iframe src="javascript:window.__pwned=1">',
    "javascript:window.__pwned=1",
    "<a href=javascript:alert(1)>x</a>",
    "&lt;b&gt;&amp;",
    "${window.__pwned=1}",
    "{{constructor.constructor('window.__pwned=1')()}}",
    "\u202eexe.txt",  # right-to-left override: reads "txt.exe" when drawn raw
    "a\u202d\u2066b\u2069c\u202c",
    "\u200f\u200e\u061c",
    "שלום",  # right-to-left text (not a control): stays as it is
    "مرحبا",
    "👩\u200d💻",  # zero-width joiner
    "a\u200bb",  # zero-width space
    "nul\x00byte",
    "line\nbreak\ttab\r",
    "lone \ud800 surrogate",
    "x" * 5000,
]

TRAPS = """
window.__pwned = undefined;
window.__dialogs = [];
for (const name of ["alert", "confirm", "prompt"]) {
  window[name] = (message) => { window.__dialogs.push([name, String(message)]); };
}
window.__canvasText = new Set();
const fillText = CanvasRenderingContext2D.prototype.fillText;
CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
  window.__canvasText.add(String(text));
  return fillText.call(this, text, ...rest);
};
"""

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>attnwidgets hostile host</title></head>
<body style="margin: 20px; font-family: sans-serif">
<script type="module">
import { createHarness } from "/fake_model.js";

window.harness = createHarness({ bundle: "attention_view.js", tick: "timeout" });
window.harnessReady = true;
</script>
</body></html>
"""

_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def display(text: str) -> str:
    """How a label must read (independent of js/shared/layout.js): lone surrogates U+FFFD, line
    breaks and tabs as escapes, other control characters U+FFFD, bidi controls as marks."""
    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    text = text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    text = "".join("\ufffd" if unicodedata.category(c) == "Cc" else c for c in text)
    return _BIDI.sub(lambda m: f"⟨U+{ord(m.group(0)):04X}⟩", text)


def truncated(text: str, chars: int) -> str:
    """``display(text)`` cut to ``chars`` code points with an ellipsis, as the labels are."""
    shown = display(text)
    return shown if len(shown) <= chars else shown[: chars - 1] + "…"


def nothing_fired(page: Any) -> None:
    """No payload ran: no ``__pwned``, no dialog, no injected element, no page error."""
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("window.__dialogs") == []
    assert page.dialogs == []
    injected = page.evaluate(
        "document.querySelectorAll('#host img, #host script, #host svg, #host iframe, "
        "#host a, #host object, #host embed').length"
    )
    assert injected == 0
    assert page.errors == []


def no_raw_controls(page: Any) -> None:
    """No bidi control reaches the page's text or its canvases (they would reorder labels)."""
    text = page.evaluate("document.querySelector('#host').innerText")
    drawn = page.evaluate("[...window.__canvasText]")
    titles = page.evaluate("[...document.querySelectorAll('#host [title]')].map((e) => e.title)")
    for where, strings in (("text", [text]), ("canvas", drawn), ("titles", titles)):
        for string in strings:
            assert _BIDI.search(string) is None, (where, string[:80])
