"""Hostile strings through the feature views (issue 17) in Chromium: the legend, labels and
text snippets beside a FeatureMap (SelectionList) and the tokens, labels and typed text of a
NeuronView. Nothing runs, and each string reads as the literal string (bidi controls as marks);
snippets keep their lines."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hostile_page import HOSTILE, display, no_raw_controls, nothing_fired
from kernel_bridge import KernelBridge
from page_server import wire

from attnwidgets.widgets.features import NeuronView, SelectionList

# a lone surrogate cannot cross as a label (NeuronView's tokens are cleaned: tested below)
LABELS = [text for text in HOSTILE if "\ud800" not in text]
BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def block(text: str) -> str:
    """How a snippet must read (independent of js/features/text.js): lines and tabs kept,
    other control characters U+FFFD, bidi controls as marks."""
    text = "".join(
        "\ufffd" if unicodedata.category(c) == "Cc" and c not in "\n\t" else c for c in text
    )
    return BIDI.sub(lambda m: f"⟨U+{ord(m.group(0)):04X}⟩", text)


def test_selection_list_legend_labels_and_snippets(page: Any) -> None:
    legend = [{"name": t, "color": "#4e79a7", "count": i} for i, t in enumerate(LABELS)]
    items = [
        {"input_id": i, "label": t, "color": "#4e79a7", "text": f"x = 1\n\t{t}"}
        for i, t in enumerate(LABELS)
    ]
    view = SelectionList(title=LABELS[3], legend=legend, items=items, selected_count=len(items))
    page.evaluate(
        "([w, o]) => harness.mount(w, o)", [wire(view), {"bundle": "feature_map_view.js"}]
    )
    names = page.locator(".aw-fm-name").all_text_contents()
    assert names == [display(t) for t in LABELS]
    badges = page.locator(".aw-fm-badge").all_text_contents()
    assert badges == [display(t) for t in LABELS]
    snippets = page.locator("pre.aw-fm-text").all_text_contents()
    assert snippets == [block(item["text"]) for item in items]
    assert page.locator(".aw-fm-title").text_content() == display(LABELS[3])
    no_raw_controls(page)
    nothing_fired(page)


@dataclass
class Trace:
    tokens: list[str]
    values: np.ndarray
    input_id: int | None = None
    label: str = ""
    score: float | None = None
    image: np.ndarray | None = None
    grid: tuple[int, int] | None = None


@dataclass
class HostileSource:
    """What a NeuronView reads (``features.neurons.NeuronSource``'s methods), with hostile
    tokens and labels instead of a model's."""

    path: str = "<svg onload=window.__pwned=1>.layer\u202e1"
    width: int = 4
    typed: list[str] = field(default_factory=list)

    def top(self, unit: int | None, direction: Any, k: int = 8) -> list[Trace]:
        values = np.linspace(-1, 1, len(HOSTILE), dtype=np.float32) * (1 + (unit or 0))
        return [Trace(list(HOSTILE), values, input_id=i, label=HOSTILE[5 + i]) for i in range(2)]

    def trace(self, given: Any, unit: int | None, direction: Any) -> Trace:
        self.typed.append(given)
        tokens = [given, *HOSTILE[:4]]
        return Trace(tokens, np.arange(len(tokens), dtype=np.float32))


def test_neuron_view_tokens_labels_and_typed_text(page: Any) -> None:
    source = HostileSource()
    view = NeuronView(source, 1, text="<script>alert(1)</script>\u202e", k=2)
    bridge = KernelBridge(page, view, 900, bundle="neuron_view.js")
    clean = [t.encode("utf-16", "surrogatepass").decode("utf-16", "replace") for t in HOSTILE]
    rows = page.locator(".aw-nv-top .aw-nv-row")
    assert rows.count() == 2
    for row in range(2):
        tokens = rows.nth(row).locator(".aw-nv-token").all_text_contents()
        assert tokens == [display(t) for t in clean]
    metas = page.locator(".aw-nv-meta").all_text_contents()
    assert metas == [f"1. #0 {display(HOSTILE[5])}", f"2. #1 {display(HOSTILE[6])}"]
    typed = page.locator(".aw-nv-typed .aw-nv-token").all_text_contents()
    assert typed == [display(t) for t in [view.text, *HOSTILE[:4]]]
    assert page.locator(".aw-nv-title").text_content() == display(f"{source.path}: unit 1")

    # a hostile text typed in the page reaches the kernel as it is, and comes back as text
    box = page.locator("input.aw-nv-text-input")
    box.fill('"><img src=x onerror=window.__pwned=1>')
    box.press("Enter")
    bridge.pump()
    assert source.typed[-1] == '"><img src=x onerror=window.__pwned=1>'
    typed = page.locator(".aw-nv-typed .aw-nv-token").all_text_contents()
    assert typed[0] == '"><img src=x onerror=window.__pwned=1>'
    no_raw_controls(page)
    nothing_fired(page)
