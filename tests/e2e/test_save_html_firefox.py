"""aw.save_html pages in Firefox's engine (the system ``firefox-esr``, where installed;
scripts/setup.sh installs it): a MiniLM run's page opened from disk with every connection off
the machine refused draws its heatmap, follows the layer slider, draws the Norms tab and
follows its slider, and draws the Positions tab, with no kernel."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from firefox_bidi import FIREFOX, Firefox, firefox

import attnwidgets as aw

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(FIREFOX is None, reason="no firefox-esr here (apt-get install firefox-esr)"),
]

DRAW = 60  # seconds


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Firefox]:
    with firefox(tmp_path_factory.mktemp("firefox-profile")) as ff:
        yield ff


@pytest.fixture(scope="module")
def run_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    torch.set_num_threads(1)
    model, tokenizer = aw.demo.load_minilm()
    run = aw.wrap(model, tokenizer)("The cat sat on the mat because it was tired.")
    return aw.save_html(run, tmp_path_factory.mktemp("firefox") / "run.html", quiet=True)


def wait_for(probe: Any, what: str) -> Any:
    deadline = time.monotonic() + DRAW
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {DRAW} s waiting for {what} ({value!r})")
        time.sleep(0.25)


def digest(ff: Firefox, tools: Any, selector: str) -> dict[str, Any] | None:
    """The pixel digest of the first visible canvas matching ``selector``, if drawn on."""
    found = ff.evaluate(
        f"""(() => {{
          const c = [...document.querySelectorAll({selector!r})].find(e => e.offsetParent);
          return c ? ({tools.canvas_digest_js})(c) : null;
        }})()"""
    )
    return found if found and found["ink"] > 0 else None


def click_tab(ff: Firefox, name: str) -> None:
    box = ff.evaluate(
        f"""(() => {{
          const tab = [...document.querySelectorAll(".lm-TabBar-tab")]
            .find(t => t.textContent.trim() === {name!r});
          tab.scrollIntoView({{block: "center"}});
          const r = tab.getBoundingClientRect();
          return {{x: r.x + r.width / 2, y: r.y + r.height / 2}};
        }})()"""
    )
    ff.click(box["x"], box["y"])


def test_run_page_works_offline_in_firefox(browser: Firefox, run_page: Path, tools: Any) -> None:
    ff = browser
    ff.open(run_page.as_uri())
    heatmap = "canvas.attnwidgets-heatmap"
    before = wait_for(lambda: digest(ff, tools, heatmap), "the heatmap drawn")
    view_text = "document.querySelector('.attnwidgets-attention').innerText"
    assert "layer 0" in ff.evaluate(view_text)

    ff.evaluate("document.querySelector('.attnwidgets-layer-slider .noUi-handle').focus()")
    ff.press("ArrowRight")
    wait_for(
        lambda: (d := digest(ff, tools, heatmap)) and d["hash"] != before["hash"],
        "new heatmap pixels after the layer slider moved",
    )
    wait_for(lambda: "layer 1" in ff.evaluate(view_text), "the view to name layer 1")

    click_tab(ff, "Norms")
    hist = "canvas.attnwidgets-norm-hist"
    drawn = wait_for(lambda: digest(ff, tools, hist), "the norm histogram")
    ff.evaluate("document.querySelector('.attnwidgets-norm-slider .noUi-handle').focus()")
    ff.press("ArrowRight")
    wait_for(
        lambda: (d := digest(ff, tools, hist)) and d["hash"] != drawn["hash"],
        "a new histogram after the norm slider moved",
    )
    click_tab(ff, "Positions")
    wait_for(lambda: digest(ff, tools, "canvas.attnwidgets-position-canvas"), "the positions")

    resources = ff.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    remote = [url for url in resources if not url.startswith(("file:", "data:", "blob:"))]
    assert not remote, f"the page asked the network for {remote}"
