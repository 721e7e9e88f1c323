"""ImageAttentionView's state and replies, on tiny vision transformers built from config and a
real photo: what the browser is sent decodes to the captured attention; requests are answered
or refused naming the field; rollout and the heads grid follow aw.rollout / the [CLS] rows;
text runs and mismatched records get clear errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import traitlets
from transformers import GPT2Config, GPT2LMHeadModel
from vision_cases import CASES, photo

import attnwidgets as aw
from attnwidgets.records import AttentionRecord
from attnwidgets.vision_records import VisionInfo
from attnwidgets.widgets.vision import image_attention_data as data
from attnwidgets.widgets.vision.image_attention import ImageAttentionView
from attnwidgets.widgets.vision.requests import answer


def vision_run(name: str = "vit", size: tuple[int, int] = (32, 48)) -> aw.lens.Run:
    case = CASES[name]
    return aw.wrap(case.build(), case.processor(size), norms=False)(photo())


@pytest.fixture(scope="module")
def vit() -> aw.lens.Run:
    return vision_run()


def decode(weights: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The browser's decoding: value = byte² * scale of the row."""
    return weights.astype(np.float64) ** 2 * scale[..., None]


def unpack(payload: dict, buffer: object = None) -> dict[str, np.ndarray]:
    raw = bytes(payload["value"] if buffer is None else buffer)
    out = {}
    for name, item in payload["arrays"].items():
        dtype = np.uint8 if item["dtype"] == "uint8" else np.float32
        count = int(np.prod(item["shape"]))
        array = np.frombuffer(raw, dtype, count, item["offset"])
        out[name] = array.reshape(item["shape"])
    return out


def assert_close_to_rows(decoded: np.ndarray, rows: np.ndarray) -> None:
    """Square-root coding: each value within (2 * 255 + 1) / 255² of its row's max."""
    bound = rows.max(axis=-1, keepdims=True) * 511 / 65025 / 2 + 1e-7
    assert (np.abs(decoded - rows) <= bound).all()


def test_state_describes_the_image_and_every_layer(vit):
    view = ImageAttentionView(vit)
    rows, cols = vit.patch_grid
    assert view.tokens == vit.tokens and view.tokens[0] == "[CLS]"
    assert view.query == 0 and view.mode == "layers" and view.n_layers == 2
    assert view.image_layout["patch_grid"] == [rows, cols] and view.image_layout["image_shape"] == [
        32,
        48,
    ]
    assert view.image_layout["layers"][1] == {
        "grid": [rows, cols], "cell": [8, 8], "heads": 4, "size": 1 + rows * cols, "own": False,
    }  # fmt: skip
    image = view.image
    assert image["shape"] == [32, 48, 3] and image["dtype"] == "uint8"
    assert bytes(image["value"]) == vit.image.tobytes()
    layer = unpack(view.first_data)
    assert_close_to_rows(decode(layer["weights"], layer["scale"]), vit.attention[0])


def test_square_root_coding_keeps_the_mass_of_each_row():
    rows = np.random.default_rng(0).dirichlet(np.full(197, 0.05), size=(4, 197))  # long tails
    weights, scale, nan = data.quantize_rows(rows)
    errors = np.abs(decode(weights, scale).sum(axis=-1) - 1.0)
    top = rows.max(axis=-1, keepdims=True)
    linear = np.abs((np.rint(rows / top * 255) * top / 255).sum(axis=-1) - 1.0)
    assert not nan and errors.max() < 5e-3 and errors.mean() < 1e-3
    assert errors.mean() < linear.mean() / 2  # what one byte per weight on a linear scale loses


def test_layer_and_rows_requests_are_answered_with_one_buffer(vit):
    reply, buffers = answer({"type": "request_layer", "id": 7, "layer": 1}, vit.attention, 10**6)
    assert (reply["type"], reply["id"], reply["layer"], len(buffers)) == ("layer", 7, 1, 1)
    arrays = unpack(reply, buffers[0])
    assert_close_to_rows(decode(arrays["weights"], arrays["scale"]), vit.attention[1])
    request = {"type": "request_rows", "id": "r-3", "layer": 1, "query": 5}
    reply, buffers = answer(request, vit.attention, 0)
    assert (reply["type"], reply["id"], reply["query"]) == ("rows", "r-3", 5)
    arrays = unpack(reply, buffers[0])
    assert arrays["weights"].shape == (4, vit.attention[1].shape[-1])
    assert_close_to_rows(decode(arrays["weights"], arrays["scale"]), vit.attention[1][:, 5])


@pytest.mark.parametrize(
    ("request_", "mode", "message"),
    [
        ("layer 1", "layers", "a request must be an object, not str"),
        ({"type": "tile", "id": 1}, "layers", "type: 'tile' is not one of"),
        ({"type": "request_layer", "layer": True}, "layers", "layer: True is out of range; layers"),
        ({"type": "request_layer", "layer": 2}, "layers", "layer: 2 is out of range"),
        ({"type": "request_layer", "layer": 0}, "rows", "type: layer 0 (4 x 25 x 25 cells)"),
        ({"type": "request_rows", "layer": 0}, "rows", "query: None is out of range; layer 0 has"),
        ({"type": "request_rows", "layer": 0, "query": 25}, "rows", "query: 25 is out of range"),
        ({"type": "request_rows", "layer": 0, "query": "3"}, "rows", "query: '3' is out of range"),
    ],
)  # fmt: skip
def test_bad_requests_are_refused_naming_the_field(vit, request_, mode, message):
    reply, buffers = answer(request_, vit.attention, 10**6 if mode == "layers" else 100)
    assert reply["type"] == "error" and buffers == []
    assert reply["message"].startswith(message), reply["message"]


def test_ids_are_echoed_only_when_safe(vit):
    bad = {"type": "request_layer", "layer": 9}
    assert answer({**bad, "id": {"x": 1}}, vit.attention, 0)[0]["id"] is None
    assert answer({**bad, "id": "x" * 201}, vit.attention, 0)[0]["id"] is None
    long_value = answer({**bad, "layer": "y" * 500, "id": 3}, vit.attention, 0)[0]
    assert long_value["id"] == 3 and len(long_value["message"]) < 160


def test_messages_reach_the_handler_and_replies_carry_buffers(vit):
    view = ImageAttentionView(vit)
    sent = []
    view.send = lambda content, buffers=None: sent.append((content, buffers))  # type: ignore[method-assign]
    view._handle_custom_msg({"type": "request_rows", "id": 1, "layer": 0, "query": 2}, [])
    view._handle_custom_msg({"type": "request_rows", "id": 2, "layer": 0, "query": 99}, [])
    assert sent[0][0]["type"] == "rows" and len(sent[0][1]) == 1
    message = "query: 99 is out of range; layer 0 has queries 0..24"
    assert sent[1] == ({"type": "error", "id": 2, "message": message}, [])


def test_traits_set_from_python_are_checked(vit):
    view = ImageAttentionView(vit)
    with pytest.raises(traitlets.TraitError, match=r"layer: 2 is out of range; valid: 0\.\.1"):
        view.layer = 2
    with pytest.raises(traitlets.TraitError, match=r"head: 4 is out of range; valid: 0\.\.3"):
        view.head = 4
    with pytest.raises(traitlets.TraitError, match=r"query: 25 is out of range"):
        view.query = 25
    with pytest.raises(traitlets.TraitError):
        view.heads = "min"
    with pytest.raises(traitlets.TraitError, match="layer: 5 is out of range"):
        ImageAttentionView(vit, layer=5)


def test_rollout_follows_its_options_and_equals_aw_rollout(vit):
    view = ImageAttentionView(vit)
    assert view.rollout_map == {}
    view.overlay = "rollout"
    got = np.frombuffer(bytes(view.rollout_map["value"]), np.float32).reshape(vit.patch_grid)
    assert np.array_equal(got, aw.rollout(vit))
    assert view.rollout_map["layers"] == [0, 1] and view.rollout_map["query"] == "[CLS]"
    view.rollout_fusion, view.discard_ratio = "min", 0.5
    got = np.frombuffer(bytes(view.rollout_map["value"]), np.float32).reshape(vit.patch_grid)
    assert np.array_equal(got, aw.rollout(vit, "min", 0.5))
    assert view.rollout_map["head_fusion"] == "min" and view.rollout_map["discard_ratio"] == 0.5


def test_swin_rollout_uses_the_stage_of_the_layer_shown_and_the_mean_query():
    run = vision_run("swin", (32, 32))
    view = ImageAttentionView(run, layer=3, overlay="rollout")
    assert view.mode == "layers"  # the largest layer: 2 heads x 256^2 cells
    assert view.rollout_map["layers"] == [2, 3]
    assert view.rollout_map["query"] == data.MEAN_QUERY
    expected = aw.rollout(run, layers=[2, 3])
    got = np.frombuffer(bytes(view.rollout_map["value"]), np.float32).reshape(expected.shape)
    assert np.array_equal(got, expected) and expected.shape == (8, 8)
    assert [layer["grid"] for layer in view.image_layout["layers"]] == [[16, 16]] * 2 + [[8, 8]] * 2
    assert view.image_layout["layers"][2]["own"] and view.image_layout["layers"][2]["cell"] == [
        4,
        4,
    ]


def test_swin_query_maps_to_the_cell_of_each_stage():
    info = VisionInfo.build("swin", None, (4, 4), (2, 2), layer_grids=[(4, 4), (2, 2)],
                            layer_cells=[(2, 2), (4, 4)])  # fmt: skip
    assert [data.layer_query(info, 1, q) for q in range(16)] == [
        0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3,
    ]  # fmt: skip


def test_heads_grid_holds_every_heads_cls_map(vit):
    view = ImageAttentionView(vit)
    arrays = unpack(view.heads_grid)
    assert view.heads_grid["query"] == "[CLS]"
    for layer in range(2):
        maps = decode(arrays[f"maps.{layer}"].reshape(4, -1), arrays[f"scale.{layer}"])
        for head in range(4):
            expected = vit.vision.query_map(vit.attention[layer], 0, head)
            assert_close_to_rows(maps[head][None], expected.reshape(1, -1))


def test_heads_grid_without_cls_is_the_mean_over_patch_queries():
    run = vision_run("siglip", (32, 32))
    view = ImageAttentionView(run)
    assert view.heads_grid["query"] == data.MEAN_QUERY and view.query == run.tokens.index("(2, 2)")
    arrays = unpack(view.heads_grid)
    mean = run.attention[1].mean(axis=1)  # every token of SigLIP is a patch
    maps = decode(arrays["maps.1"].reshape(4, -1), arrays["scale.1"])
    assert_close_to_rows(maps, mean)


def test_big_layers_switch_to_rows_mode():
    grid = (32, 64)  # 2048 patches + [CLS]: 2049^2 cells > 4 Mi
    info = VisionInfo.build("vit", np.zeros((128, 256, 3), np.uint8), grid, (4, 4), ["[CLS]"])
    n = 1 + grid[0] * grid[1]
    weights = np.full((1, n, n), 1.0 / n, np.float32)
    weights[0, 0, 5] += 0.5
    view = ImageAttentionView(AttentionRecord([weights]), info=info)
    assert view.mode == "rows" and view.fetch_layers  # 4.2 M cells: still sent whole on request
    assert view.first_data["query"] == 0 and view.first_data["arrays"]["weights"]["shape"] == [1, n]
    rows = unpack(view.first_data)
    assert_close_to_rows(decode(rows["weights"], rows["scale"]), weights[:, 0])


def test_a_text_run_is_refused_with_what_to_use_instead():
    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=32))
    run = aw.wrap(model)(input_ids=torch.tensor([[1, 2, 3]]))
    with pytest.raises(TypeError, match=r"shows attention over an image.*AttentionView\(run\)"):
        ImageAttentionView(run)
    with pytest.raises(TypeError, match="no image layout"):
        ImageAttentionView(run.attention)


def test_a_record_that_does_not_fit_the_image_is_refused(vit):
    other = AttentionRecord([np.full((2, 7, 7), 1 / 7, np.float32)])
    with pytest.raises(ValueError, match=r"layer 0 attention is \[2, 7, 7\].*25 positions"):
        ImageAttentionView(other, info=vit.vision)
    scores = AttentionRecord(list(vit.attention), kind="scores")
    with pytest.raises(
        ValueError, match="draws attention probabilities; this record holds 'scores'"
    ):
        ImageAttentionView(scores, info=vit.vision)


def test_lone_surrogates_in_labels_still_serialise():
    info = VisionInfo.build("vit", None, (1, 2), (4, 4), ["[C\ud800LS]"])
    record = AttentionRecord([np.full((1, 3, 3), 1 / 3, np.float32)], ["a.\udfff"])
    view = ImageAttentionView(record, info=info)
    assert view.tokens[0] == "[C\ufffdLS]" and view.layer_names == ["a.\ufffd"]
    assert view.image_layout["image_shape"] == [4, 8] and view.image["grey"] is True


def test_the_widget_modules_import_no_torch():
    code = (
        "import sys, attnwidgets.widgets.vision.image_attention, "
        "attnwidgets.widgets.vision.patching, attnwidgets.widgets.vision.prediction_grid; "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_text_typed_into_an_image_runs_explorer_gets_a_clear_error(vit):
    """The Attention tab of an image run has the lens's live box: text to a vision model is
    refused in words, and the view keeps the image run."""
    tab = vit.widget()
    explorer = tab.children[0]
    view = next(w for w in explorer.children if type(w).__name__ == "AttentionView")
    view._handle_custom_msg({"type": "run_text", "id": 1, "text": "a cat on a mat"}, [])
    assert view.live_state == "error"
    assert "is a vision model" in view.live_message and "not an image file" in view.live_message
    assert view.query_tokens == vit.tokens
