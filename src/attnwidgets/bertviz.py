"""bertviz-compatible entry points: ``head_view`` and ``model_view`` take what bertviz takes.

A bertviz user switches with one import::

    from attnwidgets import head_view        # was: from bertviz import head_view
    head_view(outputs.attentions, tokens)

Also accepted: a TransformerLens ``ActivationCache`` (or any mapping holding
``blocks.{i}.attn.hook_pattern``), an ``AttentionRecord``, a ``Run``, and numpy arrays
``[layers, heads, query, key]``: what ``AttentionView`` accepts, through the same normaliser
(``widgets.inputs.as_attention_record``). Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets

from .records import AttentionRecord
from .widgets.attention.explorer import attention_explorer
from .widgets.attention.view import AttentionView
from .widgets.inputs import as_attention_record

_PRETTY = {"Ġ": " ", "▁": " ", "Ċ": "\n"}  # GPT-2 BPE and SentencePiece markers


def prettify(tokens: Sequence[Any]) -> list[str]:
    """Make BPE / WordPiece / SentencePiece pieces readable, as bertviz does.

    Example:
        >>> prettify(["The", "Ġcat", "▁sat", "##s"])
        ['The', ' cat', ' sat', 's']
    """
    out = []
    for token in tokens:
        text = str(token)
        if text.startswith("##"):
            text = text[2:]
        for piece, replacement in _PRETTY.items():
            text = text.replace(piece, replacement)
        out.append(text)
    return out


def _explorer(
    attention: Any,
    tokens: Sequence[Any] | None,
    *,
    key_tokens: Sequence[Any] | None = None,
    pretty: bool,
    layer: int | None,
    head: int,
    include_layers: Sequence[int] | None,
    overview: bool,
    sentence_b_start: int | None = None,
) -> ipywidgets.VBox:
    record = as_attention_record(attention)
    if include_layers is not None:
        chosen = [int(i) for i in include_layers]
        record = AttentionRecord(
            [record[i] for i in chosen], [record.layer_names[i] for i in chosen], kind=record.kind
        )
        layer = chosen.index(layer) if layer in chosen else 0
    if tokens is None:
        tokens = getattr(attention, "tokens", None)
    queries = prettify(tokens) if pretty and tokens is not None else tokens
    keys = prettify(key_tokens) if pretty and key_tokens is not None else key_tokens
    view = AttentionView(
        record,
        queries,
        key_tokens=keys,
        layer=layer or 0,
        head=head,
        show_overview=overview,
        show_metrics=False,
        sentence_b_start=sentence_b_start,
    )
    return attention_explorer(view)


def _build(
    attention: Any,
    tokens: Sequence[Any] | None,
    sentence_b_start: int | None,
    prettify_tokens: bool,
    layer: int | None,
    head: int,
    include_layers: Sequence[int] | None,
    overview: bool,
    encoder_decoder: dict[str, Any],
) -> ipywidgets.Widget:
    options: dict[str, Any] = {
        "pretty": prettify_tokens,
        "layer": layer,
        "head": head,
        "include_layers": include_layers,
        "overview": overview,
    }
    if attention is not None:
        return _explorer(attention, tokens, **options, sentence_b_start=sentence_b_start)
    if sentence_b_start is not None:
        raise ValueError(
            "sentence_b_start splits the self-attention of a sentence pair: pass it with "
            "`attention`, not with encoder_attention / decoder_attention / cross_attention"
        )
    enc_tokens = encoder_decoder.get("encoder_tokens")
    dec_tokens = encoder_decoder.get("decoder_tokens")
    parts = [
        ("Encoder", encoder_decoder.get("encoder_attention"), enc_tokens, None),
        ("Decoder", encoder_decoder.get("decoder_attention"), dec_tokens, None),
        ("Cross", encoder_decoder.get("cross_attention"), dec_tokens, enc_tokens),
    ]
    shown = [(title, a, q, k) for title, a, q, k in parts if a is not None]
    if not shown:
        raise ValueError(
            "no attention given: pass `attention` (e.g. outputs.attentions), or "
            "encoder_attention / decoder_attention / cross_attention for encoder-decoder models"
        )
    tabs = ipywidgets.Tab(
        children=[_explorer(a, q, key_tokens=k, **options) for _, a, q, k in shown]
    )
    tabs.titles = tuple(title for title, *_ in shown)
    return tabs


def _show_or_return(widget: ipywidgets.Widget, html_action: str) -> ipywidgets.Widget | None:
    if html_action == "return":
        return widget
    if html_action != "view":
        raise ValueError(f"html_action must be 'view' or 'return', not {html_action!r}")
    from IPython.display import display

    display(widget)  # type: ignore[no-untyped-call]
    return None


def head_view(
    attention: Any = None,
    tokens: Sequence[Any] | None = None,
    sentence_b_start: int | None = None,
    prettify_tokens: bool = True,
    layer: int | None = None,
    heads: Sequence[int] | None = None,
    encoder_attention: Any = None,
    decoder_attention: Any = None,
    cross_attention: Any = None,
    encoder_tokens: Sequence[Any] | None = None,
    decoder_tokens: Sequence[Any] | None = None,
    include_layers: Sequence[int] | None = None,
    html_action: str = "view",
) -> ipywidgets.Widget | None:
    """bertviz's ``head_view``: one head's attention with layer and head sliders.

    ``attention`` is the tuple of ``[1, heads, query, key]`` tensors transformers returns (or
    a TransformerLens cache, a record, an array). Shown below the cell (``html_action="view"``)
    or returned as a widget (``html_action="return"``). ``sentence_b_start`` (the index of
    the first token of sentence B) adds bertviz's selector: All, Sentence A -> Sentence A,
    B -> B, A -> B, B -> A (queries of the first, keys of the second).

    Example:
        >>> import numpy as np
        >>> attn = tuple(np.full((1, 2, 3, 3), 1 / 3) for _ in range(4))
        >>> box = head_view(attn, ["a", "b", "c"], layer=2, heads=[1], html_action="return")
        >>> view = box.children[1]
        >>> view.layer, view.head, view.show_overview
        (2, 1, False)
    """
    head = int(heads[0]) if heads else 0
    widget = _build(
        attention,
        tokens,
        sentence_b_start,
        prettify_tokens,
        layer,
        head,
        include_layers,
        False,
        {
            "encoder_attention": encoder_attention,
            "decoder_attention": decoder_attention,
            "cross_attention": cross_attention,
            "encoder_tokens": encoder_tokens,
            "decoder_tokens": decoder_tokens,
        },
    )
    return _show_or_return(widget, html_action)


def model_view(
    attention: Any = None,
    tokens: Sequence[Any] | None = None,
    sentence_b_start: int | None = None,
    prettify_tokens: bool = True,
    display_mode: str = "dark",
    encoder_attention: Any = None,
    decoder_attention: Any = None,
    cross_attention: Any = None,
    encoder_tokens: Sequence[Any] | None = None,
    decoder_tokens: Sequence[Any] | None = None,
    include_layers: Sequence[int] | None = None,
    include_heads: Sequence[int] | None = None,
    html_action: str = "view",
) -> ipywidgets.Widget | None:
    """bertviz's ``model_view``: thumbnails of every layer x head; click one to open it.

    ``display_mode`` is accepted for compatibility (the widget follows the Jupyter theme);
    ``include_heads`` picks the first head shown.

    Example:
        >>> import numpy as np
        >>> box = model_view(np.ones((2, 3, 4, 4)) / 4, list("abcd"), html_action="return")
        >>> box.children[1].thumbnails["shape"]
        [2, 3, 4, 4]
    """
    del display_mode
    head = int(include_heads[0]) if include_heads else 0
    widget = _build(
        attention,
        tokens,
        sentence_b_start,
        prettify_tokens,
        None,
        head,
        include_layers,
        True,
        {
            "encoder_attention": encoder_attention,
            "decoder_attention": decoder_attention,
            "cross_attention": cross_attention,
            "encoder_tokens": encoder_tokens,
            "decoder_tokens": decoder_tokens,
        },
    )
    return _show_or_return(widget, html_action)
