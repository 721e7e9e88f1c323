"""The TokenizerView payload as the browser receives it, for the JavaScript tests
(tests/js/fixtures/tokens_payload.json): two small tokenizers built here (a byte-level BPE
with a BOS template, a WordPiece that drops spaces and has no emoji) on a text with an emoji,
accents, a tab and a newline. ``test_tokenizer_view.py`` checks the file is what the Python
side makes today; ``python tests/python/tokens_fixture.py`` writes it again.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().parents[1] / "js" / "fixtures" / "tokens_payload.json"
TEXT = "Héllo wörld 👍🏽!\tok\r\nnew line"


def byte_bpe() -> Any:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    from attnwidgets.tokenizers.readable import byte_to_unicode

    alphabet = [byte_to_unicode()[b] for b in range(256)]
    vocab = {c: i for i, c in enumerate(alphabet)}
    merges = [("l", "l"), ("ll", "o"), ("Ġ", "w"), ("Ã", "¶"), ("Ġw", "Ã¶"), ("r", "l")]
    for left, right in merges:
        vocab[left + right] = len(vocab)
    vocab["<s>"] = len(vocab)
    tok = Tokenizer(models.BPE(vocab, merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", vocab["<s>"])]
    )
    tok.add_special_tokens(["<s>"])
    return tok


def wordpiece() -> Any:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    words = ["[UNK]", "[CLS]", "[SEP]", "h", "##é", "##llo", "w", "##ö", "##rld", "!", "ok",
             "new", "line"]  # fmt: skip
    vocab = {w: i for i, w in enumerate(words)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 1), ("[SEP]", 2)]
    )
    tok.add_special_tokens(["[CLS]", "[SEP]", "[UNK]"])
    return tok


def fixture() -> dict[str, Any]:
    from attnwidgets.widgets.tokens.view import TokenizerView

    view = TokenizerView({"bpe": byte_bpe(), "wordpiece": wordpiece()}, TEXT, word=" wörld")
    data = dict(view.data)
    data["value"] = base64.b64encode(bytes(data["value"])).decode()
    return {"text": view.text, "data": data, "steps": view.steps}


if __name__ == "__main__":
    FIXTURE.write_text(json.dumps(fixture(), indent=1, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {FIXTURE}")
