"""The built widget bundles follow anywidget's rules that make a widget work in every front
end, including VS Code and Colab which cannot be tested here: one self-contained ES module with
a default export, no ``require`` (AMD/CommonJS) and no other module imports, no network
(``fetch``, XHR, sockets, URLs), and nothing outside the widget's element (no ``document.body``
or ``document.head``, no global lookups by id or selector, no storage, no parent frames).

The checks read the minified files the wheel ships (``npm run build`` writes them); the
offline scripts in ``static/offline/`` are for exported pages, not widgets, and are skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "src" / "attnwidgets" / "static"
BUNDLES = sorted(STATIC.glob("*_view.js"))

FORBIDDEN = {
    "require(": re.compile(r"(?<![\w$.])require\s*\("),
    "define(": re.compile(r"(?<![\w$.])define\s*\("),
    "import(": re.compile(r"(?<![\w$.])import\s*\("),
    "import ... from": re.compile(r"(?<![\w$.])import\s*[\w{*][^;]*?from\s*[\"']"),
    "importScripts": re.compile(r"importScripts"),
    # a call of the global fetch, not a method definition such as `fetch(layer, q) {`
    "fetch(": re.compile(
        r"(?<![\w$.])fetch\s*\((?![^()]*\)\s*\{)|(?:window|globalThis|self)\.fetch\b"
    ),
    "XMLHttpRequest": re.compile(r"XMLHttpRequest"),
    "WebSocket": re.compile(r"WebSocket"),
    "EventSource": re.compile(r"EventSource"),
    "sendBeacon": re.compile(r"sendBeacon"),
    "a URL": re.compile(r"(?:https?:)?//(?:[a-z0-9-]+\.)+[a-z]{2,}\b", re.IGNORECASE),
    "document.body": re.compile(r"document\.body"),
    "document.head": re.compile(r"document\.head"),
    "document.documentElement": re.compile(r"document\.documentElement"),
    "a global lookup": re.compile(
        r"document\.(?:getElementById|getElementsBy\w+|querySelector(?:All)?)\s*\("
    ),
    "storage or cookies": re.compile(r"localStorage|sessionStorage|indexedDB|document\.cookie"),
    "another frame": re.compile(r"window\.(?:parent|top|opener)\b|\.postMessage\s*\("),
}
DEFAULT_EXPORT = re.compile(r"export\s*\{[^}]*\bas default\s*\}|export default\b")


def test_every_widget_bundle_is_built() -> None:
    names = {path.name for path in BUNDLES}
    assert len(names) >= 8 and "attention_view.js" in names, (
        f"bundles missing in {STATIC}: run npm run build"
    )


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda path: path.name)
def test_bundle_follows_anywidget_rules(bundle: Path) -> None:
    code = bundle.read_text(encoding="utf-8")
    assert len(DEFAULT_EXPORT.findall(code)) == 1, "one ES module default export"
    broken = {
        rule: [code[max(0, m.start() - 40) : m.end() + 40] for m in pattern.finditer(code)][:3]
        for rule, pattern in FORBIDDEN.items()
        if pattern.search(code)
    }
    assert not broken, f"{bundle.name} breaks anywidget's rules: {broken}"


@pytest.mark.parametrize(
    ("rule", "sample"),
    [
        ("require(", 'var a=require("d3");'),
        ("import ... from", 'import{x as y}from"lodash";'),
        ("fetch(", 'await fetch("/api");'),
        ("a URL", 'src:"https://cdn.jsdelivr.net/npm/x"'),
        ("document.body", "document.body.appendChild(n)"),
        ("document.head", "document.head.append(s)"),
        ("a global lookup", 'document.getElementById("x")'),
        ("another frame", "window.parent.x=1"),
    ],
)
def test_each_rule_catches_what_it_names(rule: str, sample: str) -> None:
    assert FORBIDDEN[rule].search(sample), (rule, sample)


def test_methods_named_like_globals_are_allowed() -> None:
    allowed = (
        "this.fetch(layer,q);prefetch(1);class S{x(){}fetch(t,n){return 1}};"
        "store.require(x);el.querySelector('.a');a=b/2//3"
    )
    hits = [rule for rule, pattern in FORBIDDEN.items() if pattern.search(allowed)]
    assert not hits, hits
