"""The built TokenizerView bundle in Chromium, each view a REAL TokenizerView in this process
(tokens_harness): spans drawn where the offsets say and in their colours, the hover, the step
slider and play button against the tokenizer's own output, side-by-side boundary marks, the
vocabulary panel, a 100,000-character text scrolled to its end, hostile text kept as text."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import open_page
from tokens_harness import Bridge, pixel, ready, span_box, tokens_server

import attnwidgets as aw
from attnwidgets.tokenizers import tokenize_with_spans

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
import tokenizer_cases as cases

BUNDLE = "tokenizer_view.js"
TOKEN_RGB = [
    (255, 224, 178),
    (200, 230, 201),
    (187, 222, 251),
    (248, 187, 208),
    (225, 190, 231),
    (255, 245, 157),
]  # fmt: skip (js/tokens/style.js)
HOVER_RGB = (255, 138, 101)
AGREE_RGB, DIFFER_RGB = (46, 125, 50), (211, 47, 47)

# Every drawn piece of the text: [tokenizer row, token or -1, absolute UTF-16 start, text, class].
PIECES = """(host) => {
  const out = [];
  for (const body of document.querySelectorAll(`${host} .attnwidgets-tok-body`)) {
    let at = Number(body.dataset.start);
    for (const child of body.childNodes) {
      const el = child.nodeType === 1 ? child : null;
      const cls = el?.className ?? "";
      if (cls.includes("attnwidgets-tok-template") || cls.includes("attnwidgets-tok-eol")) {
        out.push([Number(body.dataset.k), Number(el.dataset.t), -1, child.textContent, cls]);
        continue;
      }
      const t = el ? Number(el.dataset.t) : -1;
      out.push([Number(body.dataset.k), t, at, child.textContent, cls]);
      at += child.textContent.length;
    }
  }
  return out;
}"""


@pytest.fixture(scope="module")
def server(bundle: Any) -> Iterator[str]:
    with tokens_server() as url:
        yield url


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    tab = open_page(browser, server)
    yield tab
    assert not tab.errors, tab.errors
    tab.close()


def utf16(text: str) -> list[int]:
    """Cumulative UTF-16 widths: utf16(text)[k] = units before character k."""
    out = [0]
    for ch in text:
        out.append(out[-1] + (2 if ord(ch) > 0xFFFF else 1))
    return out


def offsets16(spans: Any) -> list[tuple[int, int]]:
    cum = utf16(spans.text)
    return [(cum[s], cum[e]) for s, e in zip(spans.starts, spans.ends, strict=True)]


EDGE_TEXT = "\n".join(cases.EDGE_TEXTS.values())


@pytest.mark.parametrize("name", ["smollm2", "minilm", "unigram"])
def test_spans_are_drawn_where_the_offsets_say_in_their_colours(page: Any, name: str) -> None:
    tokenizer = getattr(cases, name)()
    view = aw.TokenizerView(tokenizer, EDGE_TEXT, height=1200)
    Bridge(page, view, BUNDLE, "tok")
    ready(page, "tok")
    spans = view.spans[0]
    bounds = offsets16(spans)
    text16 = EDGE_TEXT.encode("utf-16-le")
    pieces = page.evaluate(PIECES, "#tok")
    covered = np.zeros(len(text16) // 2, bool)
    for _, t, start, shown, cls in pieces:
        if start < 0:
            continue
        end = start + len(shown.encode("utf-16-le")) // 2
        assert text16[2 * start : 2 * end].decode("utf-16-le") == shown
        if t >= 0:
            assert bounds[t][0] <= start and end <= bounds[t][1], (t, shown, bounds[t])
            assert f"attnwidgets-tok-c{t % 6}" in cls
            covered[start:end] = True
    in_text = [b for b, template in zip(bounds, spans.template, strict=True) if not template]
    want = np.zeros_like(covered)
    for a, b in in_text:
        want[a:b] = True
    units = np.frombuffer(text16, "<u2")
    newline = (units == 10) | (units == 13)
    missing = np.flatnonzero(want & ~covered & ~newline)
    assert not len(missing), missing  # every character a token covers is in a token span
    assert not (covered & ~want).any()
    # a newline a token holds is drawn as ↵ (← for a carriage return) with that token
    eol = [t for _, t, start, shown, cls in pieces if "attnwidgets-tok-eol" in cls]
    held = []
    for p in np.flatnonzero(want & newline):
        t = next(t for t, (a, b) in enumerate(bounds) if a <= p < b and not spans.template[t])
        if not (units[p] == 10 and p > 0 and units[p - 1] == 13 and held and held[-1] == t):
            held.append(t)  # \r\n held by one token is one marker
    assert eol == held
    chips = [p[3] for p in pieces if "attnwidgets-tok-template" in p[4]]
    assert chips == [spans.readable[i] for i in np.flatnonzero(spans.template)]
    # pixels: the top-left corner of plain token spans is their background colour
    plain = [p for p in pieces if p[1] >= 0 <= p[2] and p[4].count(" ") == 1 and p[3].strip()][:6]
    for _, t, _, _, _ in plain:
        box = span_box(page, f"#tok .attnwidgets-tok-body [data-t='{t}']")
        assert pixel(page, box["x"] + 1, box["y"] + 1) == TOKEN_RGB[t % 6], (t, box)


def test_hover_shows_the_token_and_sets_hover_token(page: Any) -> None:
    text = "Tokenizers split 👍🏽 into byte pieces."
    view = aw.TokenizerView(cases.smollm2(), text)
    bridge = Bridge(page, view, BUNDLE, "tok")
    ready(page, "tok")
    spans = view.spans[0]
    emoji = next(i for i, r in enumerate(spans.readable) if "👍" in r)
    # the emoji itself: the characters several byte pieces cover
    page.hover(f"#tok .attnwidgets-tok-body [data-t='{emoji}'].attnwidgets-tok-multi")
    tooltip = page.locator("#tok .attnwidgets-tok-tooltip")
    assert tooltip.is_visible()
    said = tooltip.inner_text()
    assert f"token {emoji} of {len(spans)} · id {spans.ids[emoji]}" in said
    assert f"piece «{spans.pieces[emoji]}»" in said and "reads « 👍»" in said
    assert " ".join(f"{b:02x}" for b in spans.token_bytes[emoji]) in said
    assert "tokens cover these characters" in said and "rank: merge" in said
    root = page.locator("#tok .attnwidgets-tokens")
    assert root.get_attribute("data-hover") == f"0:{emoji}"
    page.wait_for_function(f"window.models.tok.get('hover_token') === {emoji}")  # after a frame
    bridge.pump()
    assert view.hover_token == emoji
    other = next(i for i, p in enumerate(spans.pieces) if p == "Ġsplit")
    box = span_box(page, f"#tok .attnwidgets-tok-body [data-t='{other}']")
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.move(0, 0)  # leaving keeps the last token highlighted (for the linked view)
    assert pixel(page, box["x"] + 1, box["y"] + 1) == HOVER_RGB
    page.wait_for_function(f"window.models.tok.get('hover_token') === {other}")
    bridge.pump()
    assert view.hover_token == other


def frame_symbols(page: Any, panel: int) -> list[list[str]]:
    return page.evaluate(
        """(i) => [...document.querySelectorAll('#tok .attnwidgets-tok-steps-panel')][i]
          .querySelectorAll('.attnwidgets-tok-pretoken').values().map((g) =>
            [...g.querySelectorAll('.attnwidgets-tok-sym')].map((s) => s.title.slice(5)))
          .toArray()""",
        panel,
    )


def test_step_slider_walks_the_frames_to_the_tokenizers_output(page: Any) -> None:
    view = aw.compare_tokenizers(
        {"MiniLM": cases.minilm(), "SmolLM2": cases.smollm2(), "Unigram": cases.unigram()},
        "Text becomes tokens.",
    )
    bridge = Bridge(page, view, BUNDLE, "tok")
    ready(page, "tok")
    word = page.locator("#tok input.attnwidgets-tok-word")
    word.fill(" tokenization")
    word.press("Enter")
    bridge.pump()
    page.wait_for_function(
        "document.querySelector('#tok .attnwidgets-tok-steps').dataset.state === 'ready'"
    )
    assert view.word == " tokenization"
    panels = page.locator("#tok .attnwidgets-tok-steps-panel")
    assert panels.count() == 3
    for i, payload in enumerate(view.steps["tokenizers"]):
        frames = payload["frames"]
        slider = panels.nth(i).locator("input.attnwidgets-tok-slider")
        caption = panels.nth(i).locator(".attnwidgets-tok-caption")
        seen = [frame_symbols(page, i)]
        captions = [caption.inner_text()]
        for _ in range(len(frames) - 1):
            slider.press("ArrowRight")
            seen.append(frame_symbols(page, i))
            captions.append(caption.inner_text())
        assert seen == [f["symbols"] for f in frames]
        assert captions == [f["caption"] for f in frames]
        drawn = list(zip(map(str, seen), captions, strict=True))
        assert all(a != b for a, b in itertools.pairwise(drawn))  # each step changes the drawing
        own = tokenize_with_spans(view.tokenizers[i], " tokenization", add_special_tokens=False)
        assert [s for pre in seen[-1] for s in pre] == own.pieces
    # WordPiece: the matched piece is marked and the rest drawn as still to read
    panels.nth(0).locator("input.attnwidgets-tok-slider").press("Home")
    panels.nth(0).locator("input.attnwidgets-tok-slider").press("ArrowRight")
    assert panels.nth(0).locator(".attnwidgets-tok-sym-focus").inner_text() == "token"
    assert panels.nth(0).locator(".attnwidgets-tok-sym-rest").inner_text() == "ization"
    # the play button runs to the last step by itself
    panels.nth(0).locator("button.attnwidgets-tok-play").click()
    last = str(len(view.steps["tokenizers"][0]["frames"]) - 1)
    page.wait_for_function(
        f"document.querySelector('#tok .attnwidgets-tok-steps-panel').dataset.step === '{last}'",
        timeout=10_000,
    )


def test_clicking_a_word_steps_it_and_looks_it_up(page: Any) -> None:
    text = "Models read unbelievably small pieces"
    view = aw.TokenizerView(cases.minilm(), text)
    bridge = Bridge(page, view, BUNDLE, "tok")
    ready(page, "tok")
    spans = view.spans[0]
    t = spans.pieces.index("##bel")
    page.click(f"#tok .attnwidgets-tok-body [data-t='{t}']")
    bridge.pump()
    assert view.word == " unbelievably"
    page.wait_for_function(
        "document.querySelector('#tok .attnwidgets-tok-steps').dataset.state === 'ready'"
    )
    title = page.locator("#tok .attnwidgets-tok-steps-title").first.inner_text()
    assert "unbelievably" in title
    result = page.locator("#tok .attnwidgets-tok-result").first
    assert result.inner_text().startswith(f"id {spans.ids[t]} «##bel»")
    note = page.locator("#tok .attnwidgets-tok-neighbours").inner_text()
    assert "need the model" in note


def test_side_by_side_marks_boundaries_that_agree_and_differ(page: Any) -> None:
    text = "Tokenization differs: unbelievably, the tokenizers disagree."
    view = aw.compare_tokenizers({"MiniLM": cases.minilm(), "SmolLM2": cases.smollm2()}, text)
    Bridge(page, view, BUNDLE, "tok")
    ready(page, "tok")
    cum = utf16(text)
    alignment = view.alignment
    pieces = page.evaluate(PIECES, "#tok")
    for k in range(2):
        marked = {}
        for row, _, start, shown, cls in pieces:
            classes = cls.split() if row == k and start >= 0 else []
            for mark in ("agree", "differ"):
                if f"attnwidgets-tok-{mark}" in classes:
                    marked[start] = mark
                if f"attnwidgets-tok-{mark}-after" in classes:  # the end of a token
                    marked[start + len(shown)] = mark
        want = {
            cum[b]: ("agree" if agreed else "differ")
            for b, present, agreed in zip(
                alignment.boundaries, alignment.present[k], alignment.agreed, strict=True
            )
            if present
        }
        assert marked == want
        assert "differ" in marked.values() and "agree" in marked.values()
    summary = page.locator("#tok .attnwidgets-tok-summary").inner_text()
    for k, name in enumerate(["MiniLM", "SmolLM2"]):
        assert f"{name} ({view.spans[k].algorithm}): {len(view.spans[k])} tokens" in summary
    assert f"every tokenizer has {100 * alignment.agreement:.1f}%" in summary
    for cls, rgb in (("agree", AGREE_RGB), ("differ", DIFFER_RGB)):
        box = span_box(page, f"#tok .attnwidgets-tok-{cls}")
        assert pixel(page, box["x"] + 0.5, box["y"] + box["height"] / 2) == rgb


def test_vocabulary_search_and_nearest_neighbours(page: Any) -> None:
    tokenizer = cases.minilm()
    rng = np.random.default_rng(0)
    table = rng.standard_normal((len(tokenizer), 16)).astype(np.float32)
    view = aw.TokenizerView(tokenizer, "search the vocabulary", model=table)
    bridge = Bridge(page, view, BUNDLE, "tok")
    ready(page, "tok")
    query = page.locator("#tok input.attnwidgets-tok-query")
    query.fill("ization")
    query.press("Enter")
    bridge.pump()
    rows = page.locator("#tok .attnwidgets-tok-results .attnwidgets-tok-result")
    found = view.search("ization")
    assert rows.count() == len(found)
    assert [int(v) for v in rows.evaluate_all("(r) => r.map((e) => e.dataset.id)")] == [
        e.id for e in found
    ]
    assert rows.first.inner_text().startswith(f"id {found[0].id} «{found[0].piece}»")
    rows.first.click()
    bridge.pump()
    near = page.locator("#tok .attnwidgets-tok-neighbours .attnwidgets-tok-result")
    expected = view.nearest(found[0].id, 10)
    assert [int(v) for v in near.evaluate_all("(r) => r.map((e) => e.dataset.id)")] == (
        expected.ids.tolist()
    )
    assert f"cosine {expected.similarities[0]:.3f}" in near.first.inner_text()
    query.fill("#2000")
    query.press("Enter")
    bridge.pump()
    assert rows.count() == 1 and rows.first.inner_text().startswith("id 2000 ")


def test_a_hundred_thousand_characters_scroll_to_the_end(page: Any) -> None:
    text = cases.pydoc_text(100_000)
    view = aw.TokenizerView(cases.smollm2(), text)
    Bridge(page, view, BUNDLE, "tok")
    ready(page, "tok")
    lines = page.locator("#tok .attnwidgets-tok-line")
    assert 0 < lines.count() < 60  # only the lines in sight (and a few around) are drawn
    page.evaluate(
        "() => { const s = document.querySelector('#tok .attnwidgets-tok-scroll');"
        " s.scrollTop = s.scrollHeight; }"
    )
    page.wait_for_function(
        "!document.querySelector('#tok .attnwidgets-tok-scroll').dataset.lines.startsWith('0-')"
    )
    assert lines.count() < 60
    pieces = page.evaluate(PIECES, "#tok")
    drawn = "".join(p[3] for p in pieces if p[2] >= 0)
    tail = text.rstrip("\n").rsplit("\n", 1)[-1]
    assert drawn.endswith(tail[-60:])
    last = max(p[2] + len(p[3]) for p in pieces if p[2] >= 0)
    assert last == len(text.encode("utf-16-le")) // 2


def test_hostile_text_is_drawn_as_text(page: Any) -> None:
    text = (
        '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> '
        "<!-- a comment --> &amp; \u202eevil</b><svg onload=alert(1)>"
    )
    view = aw.compare_tokenizers({"<b>a</b>": cases.smollm2(), "<i>b": cases.minilm()}, text)
    bridge = Bridge(page, view, BUNDLE, "tok")
    ready(page, "tok")
    assert page.evaluate("window.__pwned") is None
    root = "#tok .attnwidgets-tokens"
    assert page.locator(f"{root} img, {root} script, {root} svg, {root} b, {root} i").count() == 0
    pieces = page.evaluate(PIECES, "#tok")
    assert "".join(p[3] for p in pieces if p[0] == 0 and p[2] >= 0) == text
    assert "<b>a</b> (bpe)" in page.locator(f"{root} .attnwidgets-tok-summary").inner_text()
    query = page.locator("#tok input.attnwidgets-tok-query")
    query.fill("<")
    query.press("Enter")
    bridge.pump()
    assert page.locator(f"{root} .attnwidgets-tok-result").count() > 0
    assert page.locator(f"{root} img, {root} script, {root} svg").count() == 0


def test_a_slow_tokenizer_says_how_its_spans_were_found(page: Any) -> None:
    view = aw.TokenizerView(cases.minilm_slow(), "Tokenizers split words.", word="words")
    Bridge(page, view, BUNDLE, "tok")
    ready(page, "tok")
    note = page.locator("#tok .attnwidgets-tok-summary .attnwidgets-tok-note").inner_text()
    assert view.data["tokenizers"][0]["note"] in note and "decoding" in note
    error = page.locator("#tok .attnwidgets-tok-steps-error").inner_text()
    assert "slow (Python) tokenizer" in error
    pieces = page.evaluate(PIECES, "#tok")
    spans = view.spans[0]
    aligned = [
        spans.text[a:b]
        for a, b, t in zip(spans.starts, spans.ends, spans.template, strict=True)
        if not t
    ]
    assert [p[3] for p in pieces if p[1] >= 0 and p[2] >= 0] == aligned
    assert aligned == ["Token", "izer", "s", "split", "words", "."]  # spans found by decoding
