"""TokenizerView: how a text becomes tokens (numpy + traitlets, no torch).

The text with every token's span coloured, a hover with id, piece, bytes and rank; one word
step by step (BPE merges, WordPiece matches, Unigram's best segmentation); two tokenizers or
more side by side, aligned by character; the vocabulary searched in the kernel, and a token's
nearest neighbours in the model's input embeddings. JS: ``js/tokenizer_view.js``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import anywidget
import numpy as np
import traitlets

from ...tokenizers import (
    Alignment,
    Neighbours,
    TokenSpans,
    VocabEntry,
    align_tokenizations,
    nearest_tokens,
    read_tokenizer,
    search_vocab,
    tokenize_with_spans,
)
from ..bundles import bundle, require_bundle
from ..inputs import Text, clean_text
from .payload import spans_value, summary
from .step_payload import word_payload
from .vocab_messages import answer, embedding_matrix

WORD = re.compile(r"[^\W_]+")
WORDS_SCANNED = 300


def _name_of(tokenizer: Any, index: int) -> str:
    raw = str(getattr(tokenizer, "name_or_path", "") or "")
    name = os.path.basename(raw.rstrip("/\\")) if raw else ""
    return name or f"tokenizer {index}"


def _as_list(tokenizer: Any, names: Sequence[str] | None) -> tuple[list[Any], list[str]]:
    if isinstance(tokenizer, Mapping):
        if names is not None:
            raise ValueError("TokenizerView: names= with a dict of tokenizers; the keys name them")
        names, items = [str(k) for k in tokenizer], list(tokenizer.values())
    elif isinstance(tokenizer, (list, tuple)):
        items = list(tokenizer)
    else:
        items = [tokenizer]
    if not items:
        raise ValueError("TokenizerView: give at least one tokenizer")
    for index, item in enumerate(items):
        try:
            read_tokenizer(item)
        except TypeError as error:
            raise TypeError(f"TokenizerView: tokenizer {index}: {error}") from None
    if names is None:
        names = [_name_of(item, i) for i, item in enumerate(items)]
    names = [str(n) for n in names]
    if len(names) != len(items):
        raise ValueError(f"TokenizerView: {len(names)} names for {len(items)} tokenizers")
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return items, unique


def _models(model: Any, count: int) -> list[Any]:
    models = list(model) if isinstance(model, (list, tuple)) else [model] + [None] * (count - 1)
    if len(models) != count:
        raise ValueError(f"TokenizerView: {len(models)} models for {count} tokenizers")
    for index, item in enumerate(models):
        if item is None:
            continue
        shape = getattr(embedding_matrix(item), "shape", None)
        if shape is None or len(shape) != 2:
            raise ValueError(
                f"TokenizerView: model {index} ({type(item).__name__}) has no [vocab, dim] "
                "input embeddings; pass a model with get_input_embeddings() or a matrix"
            )
    return models


class TokenizerView(anywidget.AnyWidget):
    """The tokens of ``text`` through ``tokenizer`` (one, a list, or a dict name -> tokenizer
    to compare them side by side).

    ``model``: the model (or its ``[vocab, dim]`` input-embedding matrix) for nearest
    neighbours in the vocabulary panel; a list gives one per tokenizer. ``word``: the word
    shown step by step (default: the first word the first tokenizer splits). Setting
    ``text`` or ``word`` from Python updates the view. ``hover_token``: the token of the first
    tokenizer under the pointer (-1: none); ``run.show()`` links it to the attention view.

    Example:
        >>> from tokenizers import Tokenizer, models, pre_tokenizers
        >>> tok = Tokenizer(models.WordPiece({"[UNK]": 0, "play": 1, "##ing": 2},
        ...                                  unk_token="[UNK]"))
        >>> tok.pre_tokenizer = pre_tokenizers.Whitespace()
        >>> view = TokenizerView(tok, "playing play")
        >>> view.word, view.steps["tokenizers"][0]["pieces"]
        ('playing', ['play', '##ing'])
        >>> view.data["tokenizers"][0]["counts"]["tokens"], view.search("ing")[0].piece
        (3, '##ing')
    """

    _esm = bundle("tokenizer_view.js")

    text = Text("").tag(sync=True)
    names = traitlets.List(Text())  # one per tokenizer (the browser reads them in ``data``)
    data = traitlets.Dict().tag(sync=True)  # spans_value: every tokenizer's tokens, one buffer
    word = Text("").tag(sync=True)  # the word shown step by step
    steps = traitlets.Dict().tag(sync=True)  # {"word", "tokenizers": [word_payload...]}
    hover_token = traitlets.Int(-1, min=-1).tag(sync=True)  # first tokenizer's token, -1: none
    height = traitlets.Int(320, min=80, max=4000).tag(sync=True)  # text view, CSS px

    def __init__(
        self,
        tokenizer: Any,
        text: str = "",
        *,
        names: Sequence[str] | None = None,
        model: Any = None,
        word: str | None = None,
        add_special_tokens: bool = True,
        height: int = 320,
        **kwargs: Any,
    ) -> None:
        require_bundle("tokenizer_view.js")
        if not isinstance(text, str):
            raise TypeError(f"TokenizerView: text must be a str, got {type(text).__name__}")
        self.tokenizers, found_names = _as_list(tokenizer, names)
        self._models = _models(model, len(self.tokenizers))
        self.add_special_tokens = add_special_tokens
        self.link_check: Any = None
        """Set by ``run.show()``: called with the new records, returns why hovering is not
        linked to the attention view ("" when it is); the sentence is shown in the view."""
        self.spans: list[TokenSpans] = []
        self.alignment: Alignment | None = None
        super().__init__(names=found_names, height=height, text=clean_text(text), **kwargs)
        if not self.spans:  # the empty text: no change, so the observer did not run
            self._tokenize(self.text)
        self.word = self._default_word() if word is None else word
        if not self.steps:
            self._step(None)
        self.on_msg(self._on_message)

    @traitlets.observe("text")
    def _text_changed(self, change: dict[str, Any]) -> None:
        self._tokenize(change["new"])

    @traitlets.observe("word")
    def _step(self, _change: dict[str, Any] | None) -> None:
        word = self.word
        self.steps = {
            "word": word,
            "tokenizers": [
                word_payload(tok, word, name)
                for tok, name in zip(self.tokenizers, self.names, strict=True)
            ]
            if word
            else [],
        }

    def _tokenize(self, text: str) -> None:
        spans = [
            tokenize_with_spans(tok, text, add_special_tokens=self.add_special_tokens)
            for tok in self.tokenizers
        ]
        alignment = align_tokenizations(spans, self.names) if len(spans) > 1 else None
        summaries = []
        for k, record in enumerate(spans):
            data = read_tokenizer(self.tokenizers[k])
            summaries.append(
                summary(
                    record,
                    self.names[k],
                    embeddings=self._models[k] is not None,
                    vocab_size=len(data.pieces),
                )
            )
        self.spans, self.alignment = spans, alignment
        if self.hover_token >= len(spans[0]):
            self.hover_token = -1
        note = self.link_check(spans) if self.link_check is not None else ""
        self.data = spans_value(spans, self.names, alignment, summaries) | {"link_note": note}

    def _default_word(self) -> str:
        """The first word the first tokenizer splits into two tokens or more (with the space
        before it: byte-level BPE reads it so), else the first word."""
        spans = self.spans[0]
        keep = ~spans.template
        starts, ends = spans.starts[keep], spans.ends[keep]
        first = ""
        for count, match in enumerate(WORD.finditer(self.text)):
            if count >= WORDS_SCANNED:
                break
            start, end = match.span()
            word = self.text[start - 1 : end] if self.text[start - 1 : start] == " " else match[0]
            first = first or word
            if int(np.count_nonzero((starts < end) & (ends > start))) >= 2:
                return word
        return first

    def set_text(self, text: str) -> None:
        """Show another text (tokenized again even when it is the same). The word shown
        step by step stays."""
        if clean_text(text) == self.text:
            self._tokenize(self.text)
        else:
            self.text = text

    def search(self, query: str | int, tokenizer: int = 0, limit: int = 50) -> list[VocabEntry]:
        """Vocabulary entries of tokenizer ``tokenizer`` containing ``query`` (or id ``query``)."""
        return search_vocab(self.tokenizers[tokenizer], query, limit)

    def nearest(self, token: int | str, k: int = 10, tokenizer: int = 0) -> Neighbours:
        """The ``k`` nearest tokens of ``token`` in tokenizer ``tokenizer``'s model embeddings."""
        model = self._models[tokenizer]
        if model is None:
            raise ValueError(
                f"nearest: no model for tokenizer {tokenizer}; TokenizerView(tok, text, model=m)"
            )
        return nearest_tokens(
            embedding_matrix(model), token, k, tokenizer=self.tokenizers[tokenizer]
        )

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        self.send(answer(self.tokenizers, self._models, content))

    def close(self) -> None:
        """Close the view and its hover link to an attention view (the Tokens tab's)."""
        link = getattr(self, "_link", None)
        if link is not None:
            link.close()
        super().close()


def compare_tokenizers(
    tokenizers: Sequence[Any] | Mapping[str, Any], text: str, **options: Any
) -> TokenizerView:
    """Two tokenizers or more side by side on ``text``, aligned by character: boundaries that
    every tokenizer has are marked green, the others red; token counts per tokenizer.

    ``tokenizers``: a list, or a dict name -> tokenizer; ``options`` go to
    :class:`TokenizerView` (``names=``, ``model=``, ``word=``).

    Example:
        >>> from tokenizers import Tokenizer, models, pre_tokenizers
        >>> def wordpiece(words):
        ...     vocab = {w: i for i, w in enumerate(["[UNK]", *words])}
        ...     tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
        ...     tok.pre_tokenizer = pre_tokenizers.Whitespace()
        ...     return tok
        >>> view = compare_tokenizers({"whole": wordpiece(["sunny"]),
        ...                            "parts": wordpiece(["sun", "##ny"])}, "sunny")
        >>> view.names, view.alignment.agreed.tolist(), view.alignment.token_counts
        (['whole', 'parts'], [False], (1, 2))
    """
    items = tokenizers if isinstance(tokenizers, Mapping) else list(tokenizers)
    if len(items) < 2:
        raise ValueError("compare_tokenizers: give two tokenizers or more")
    return TokenizerView(items, text, **options)
