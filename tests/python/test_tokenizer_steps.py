"""Step by step from tokenizer.json: the last step equals what the tokenizer itself returns, for
every word of real paragraphs, in three algorithms (WordPiece, byte-level BPE, Unigram) and on
the edge cases of issue 19."""

from __future__ import annotations

import itertools
import json

import pytest
import tokenizer_cases as cases
from tokenizers import Tokenizer, models, pre_tokenizers

from attnwidgets.tokenizers import (
    MatchStep,
    MergeStep,
    ViterbiStep,
    model_steps,
    read_tokenizer,
    tokenize_with_spans,
    word_steps,
)

NAMES = ["minilm-wordpiece", "smollm2-bpe", "unigram", "unigram-byte-fallback", "llama-style-bpe"]


@pytest.fixture(params=NAMES)
def named(request: pytest.FixtureRequest):
    return request.param, cases.real_tokenizers()[request.param]


def own_result(tokenizer, text: str) -> tuple[list[int], list[str]]:
    """What the tokenizer itself returns for ``text`` (no template tokens)."""
    encoded = tokenizer(text, add_special_tokens=False)
    return list(encoded["input_ids"]), list(encoded.encodings[0].tokens)


def test_every_word_of_real_paragraphs_ends_where_the_tokenizer_does(named):
    name, tokenizer = named
    data = read_tokenizer(tokenizer)
    words = cases.pydoc_paragraphs(2500).split()
    for word in {*words, *(" " + w for w in words)}:
        steps = word_steps(data, word)
        ids, pieces = own_result(tokenizer, word)
        assert (list(steps.ids), list(steps.pieces)) == (ids, pieces), (name, word)


def test_every_pre_token_in_context_matches_the_tokenizer_on_the_whole_text(named):
    """The model's steps on each pre-token of the whole text equal the tokens the tokenizer
    gives that word inside the text (grouped by its word ids)."""
    name, tokenizer = named
    data = read_tokenizer(tokenizer)
    text = cases.pydoc_paragraphs(2500)
    backend = data.backend
    normalized = backend.normalizer.normalize_str(text) if backend.normalizer else text
    pre_tokens = [p for p, _ in backend.pre_tokenizer.pre_tokenize_str(normalized)]
    encoding = tokenizer(text, add_special_tokens=False).encodings[0]
    by_word: dict[int, list[str]] = {}
    for token, word in zip(encoding.tokens, encoding.word_ids, strict=True):
        by_word.setdefault(word, []).append(token)
    assert len(pre_tokens) == len(by_word) > 500
    for index, pre_token in enumerate(pre_tokens):
        assert list(model_steps(data, pre_token).pieces) == by_word[index], (name, pre_token)


@pytest.mark.parametrize("case", sorted(cases.EDGE_TEXTS))
def test_edge_case_words_end_where_the_tokenizer_does(named, case):
    name, tokenizer = named
    data = read_tokenizer(tokenizer)
    text = cases.EDGE_TEXTS[case]
    for word in [text, *text.split(), *text.split(" ")]:
        steps = word_steps(data, word)
        assert (list(steps.ids), list(steps.pieces)) == own_result(tokenizer, word), (name, word)


def test_bpe_merges_come_in_rank_order_from_the_merges_list():
    tokenizer = cases.smollm2()
    data = read_tokenizer(tokenizer)
    merges = json.loads(tokenizer.backend_tokenizer.to_str())["model"]["merges"]
    steps = word_steps(data, " tokenization")
    (pre,) = steps.pre_tokens
    assert pre.text == "Ġtokenization"
    assert pre.start_symbols == tuple("Ġtokenization")
    assert steps.pieces == tuple(tokenizer.tokenize(" tokenization"))
    symbols = list(pre.start_symbols)
    for step in pre.steps:
        assert isinstance(step, MergeStep)
        assert list(merges[step.rank]) == list(step.pair)  # the rank is the line in merges
        pairs = list(itertools.pairwise(symbols))
        ranks = [data.merge_ranks.get(p, (10**9,))[0] for p in pairs]
        assert step.rank == min(ranks) and pairs[step.position] == step.pair
        symbols[step.position : step.position + 2] = [step.merged]
        assert tuple(symbols) == step.symbols
    frames = steps.frames()
    assert frames[0] == (pre.start_symbols,) and frames[-1] == (steps.pieces,)
    assert len(frames) == len(pre.steps) + 1


def test_wordpiece_greedy_longest_match_with_continuations():
    tokenizer = cases.minilm()
    steps = word_steps(tokenizer, "Tokenization")
    assert steps.normalized == "tokenization"
    (pre,) = steps.pre_tokens
    assert [s.piece for s in pre.steps] == ["token", "##ization"]
    first, second = pre.steps
    assert isinstance(first, MatchStep) and first.tried[0] == "tokenization"
    assert first.tried[-1] == "token" and first.remainder == "ization"
    assert second.tried[0] == "##ization" and second.remainder == ""
    assert first.symbols == ("token", "ization") and second.symbols == ("token", "##ization")
    vocab = tokenizer.get_vocab()
    assert all(t not in vocab for t in first.tried[:-1])  # every longer prefix was missing


def test_wordpiece_unknown_and_too_long_words():
    tokenizer = cases.minilm()
    long_word = "a" * 101
    steps = word_steps(tokenizer, long_word)
    assert steps.pieces == ("[UNK]",) == tuple(tokenizer.tokenize(long_word))
    assert "max_input_chars_per_word=100" in steps.pre_tokens[0].note
    assert word_steps(tokenizer, "a" * 100).pieces == tuple(tokenizer.tokenize("a" * 100))
    steps = word_steps(tokenizer, "x😀")  # nothing continues "x" with "##😀"
    assert steps.pieces == ("[UNK]",) == tuple(tokenizer.tokenize("x😀"))
    assert steps.pre_tokens[0].steps[-1].piece is None


def test_unigram_viterbi_alternatives_are_ranked_segmentations():
    tokenizer = cases.unigram()
    data = read_tokenizer(tokenizer)
    steps = word_steps(data, "assignment")
    (pre,) = steps.pre_tokens
    assert isinstance(pre.steps[-1], ViterbiStep)
    assert pre.steps[-1].symbols == pre.pieces
    best, *others = pre.alternatives
    assert best.pieces == pre.pieces and others
    assert best.score >= max(o.score for o in others)
    vocab, scores = data.model_vocab, data.scores
    for alternative in pre.alternatives:
        assert "".join(alternative.pieces) == pre.text
        total = sum(scores[vocab[p]] for p in alternative.pieces)
        assert alternative.score == pytest.approx(total)
    # each step is the best path so far: its total is the best candidate ending there
    for step in pre.steps:
        assert step.total == max(c[2] for c in step.candidates)


def test_bpe_ignore_merges_takes_whole_words_from_the_vocabulary():
    vocab = {"a": 0, "b": 1, "c": 2, "bc": 3, "ab": 4, "abc": 5}
    merges = [("b", "c"), ("a", "b")]
    for ignore in (False, True):
        tokenizer = Tokenizer(models.BPE(vocab, merges, ignore_merges=ignore))
        steps = word_steps(tokenizer, "abc")
        assert list(steps.pieces) == tokenizer.encode("abc").tokens
        assert steps.pieces == (("abc",) if ignore else ("a", "bc"))


@pytest.mark.parametrize("fuse", [False, True])
def test_bpe_unknown_characters_fused_or_not(fuse):
    vocab = {"<unk>": 0, "a": 1, "b": 2, "ab": 3}
    tokenizer = Tokenizer(models.BPE(vocab, [("a", "b")], unk_token="<unk>", fuse_unk=fuse))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    for word in ["abxyab", "xab", "abzz", "qq"]:
        assert list(word_steps(tokenizer, word).pieces) == tokenizer.encode(word).tokens


def test_added_tokens_are_split_off_first():
    tokenizer = cases.smollm2()
    word = "<|im_start|>user hello<|im_end|>"
    steps = word_steps(tokenizer, word)
    assert list(steps.ids) == tokenizer(word, add_special_tokens=False)["input_ids"]
    assert steps.pre_tokens[0].algorithm == "added"


def test_sampling_models_and_slow_tokenizers_are_refused_clearly():
    vocab = {"a": 0, "b": 1, "ab": 2}
    tokenizer = Tokenizer(models.BPE(vocab, [("a", "b")], dropout=0.5))
    with pytest.raises(ValueError, match="dropout"):
        word_steps(tokenizer, "ab")
    with pytest.raises(ValueError, match="slow"):
        word_steps(cases.minilm_slow(), "hello")


def test_steps_never_call_the_tokenizer():
    """The steps read the tokenizer's data only: the model's encode is never called."""
    backend = cases.minilm().backend_tokenizer
    spy = Tokenizer.from_str(backend.to_str())
    spy.no_padding()
    spy.no_truncation()
    data = read_tokenizer(spy)
    spy.model = models.WordPiece({"[UNK]": 0}, unk_token="[UNK]")  # a broken model from now on
    assert word_steps(data, "tokenization").pieces == ("token", "##ization")
    assert tokenize_with_spans(spy, "tokenization").pieces == ["[CLS]", "[UNK]", "[SEP]"]
