"""``attention="qk"``: bad input is a clear error, and the user's model is left as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import tiny_bert, tiny_llama_gqa

import attnwidgets as aw
from attnwidgets.qk_records import DenseTooLarge


def _state(model: torch.nn.Module) -> tuple[dict[str, torch.Tensor], str, bool, int]:
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    return weights, model.config._attn_implementation, model.training, hooks


def _same(model: torch.nn.Module, before: tuple[dict[str, torch.Tensor], str, bool, int]) -> bool:
    weights, implementation, training, hooks = _state(model)
    return (
        all(torch.equal(before[0][k], v) for k, v in weights.items())
        and (implementation, training, hooks) == before[1:]
    )


@pytest.fixture(scope="module")
def record() -> aw.QKRecord:
    model = tiny_llama_gqa()
    with aw.capture(model, attention="qk") as cap:
        model(input_ids=torch.arange(1, 41)[None])
    return cap.qk


def test_t5_position_bias_is_a_capture_error_naming_the_modules() -> None:
    from transformers import T5Config, T5Model

    model = T5Model(T5Config(num_layers=1, d_model=32, d_ff=32, num_heads=2, d_kv=16,
                             vocab_size=64)).eval()  # fmt: skip
    before = _state(model)
    ids = torch.arange(1, 9)[None]
    with aw.capture(model, attention="qk") as cap:
        model(input_ids=ids, decoder_input_ids=ids[:, :4])
    with pytest.raises(aw.CaptureError, match=r"encoder\.block\.0\.layer\.0\.SelfAttention.*"
                       r"position bias"):  # fmt: skip
        _ = cap.qk
    assert _same(model, before)


def test_a_hand_written_softmax_is_refused_naming_the_module() -> None:
    class Plain(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = torch.nn.Linear(8, 16)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            q, k = self.attn(x).view(1, 1, -1, 16).split(8, dim=-1)
            return torch.softmax(q @ k.transpose(-1, -2), dim=-1)

    model = Plain().eval()
    with aw.capture(model, attention="qk", layers=["attn"]) as cap:
        model(torch.randn(1, 5, 8))
    with pytest.raises(aw.CaptureError, match="attn"):
        _ = cap.qk


def test_tiles_outside_the_sequence_or_empty_are_refused(record: aw.QKRecord) -> None:
    with pytest.raises(ValueError, match=r"q range \[0, 41\) .* within 0\.\.40"):
        record.tile(0, 0, 0, 41, 0, 40, 8, 8)
    with pytest.raises(ValueError, match=r"k range \[5, 5\)"):
        record.tile(0, 0, 0, 40, 5, 5, 8, 8)
    with pytest.raises(ValueError, match="out_rows must be a whole number >= 1"):
        record.tile(0, 0, 0, 40, 0, 40, 0, 8)
    with pytest.raises(ValueError, match="reduce must be one of"):
        record.tile(0, 0, 0, 40, 0, 40, 8, 8, reduce="sum")
    with pytest.raises(IndexError, match=r"heads 0\.\.3"):
        record.row(0, 4, 0)
    with pytest.raises(IndexError, match=r"layers 0\.\.1"):
        record.row(2, 0, 0)


def test_run_attention_above_the_dense_limit_says_its_size_and_how_to_get_tiles() -> None:
    model = tiny_llama_gqa()
    run = aw.wrap(model, attention="qk")(input_ids=torch.arange(1, 61)[None])
    assert isinstance(run.attention, aw.QKRecord)
    assert run.attention[1].shape == (4, 60, 60)
    np.testing.assert_allclose(run.attention[1].sum(-1), 1.0, atol=1e-5)
    run.attention.dense_limit = 10_000
    with pytest.raises(DenseTooLarge, match=r"4 heads x 60 queries x 60 keys x 4 bytes .* "
                       r"record\.tile\(0, head, q0, q1, k0, k1"):  # fmt: skip
        _ = run.attention[0]
    assert run.attention.tile(0, 0, 0, 60, 0, 60, 4, 4).shape == (4, 4)  # tiles still work


def test_attention_takes_true_false_or_qk_and_no_scores_beside_qk() -> None:
    model = tiny_llama_gqa()
    with pytest.raises(ValueError, match="True, False or 'qk'"), aw.capture(model, attention="q"):
        pass
    scores = aw.capture(model, attention="qk", scores=True)
    with pytest.raises(ValueError, match="scores= records dense"), scores:
        pass
    lens = aw.wrap(model, attention="qk")
    with pytest.raises(ValueError, match="generate with a lens without attention='qk'"):
        lens.generate(input_ids=torch.arange(1, 5)[None])
    assert not lens.can_generate() and aw.wrap(model).can_generate()  # no generate button


def test_a_dense_kind_from_a_qk_capture_points_to_cap_qk() -> None:
    model = tiny_bert()
    before = _state(model)
    with aw.capture(model, attention="qk") as cap:
        model(input_ids=torch.arange(1, 9)[None])
    with pytest.raises(aw.CaptureError, match=r"cap\.qk"):
        _ = cap.attention
    assert cap.qk.shape == (2, 4, 8, 8)
    assert _same(model, before)


def test_two_forwards_in_one_qk_capture_are_refused() -> None:
    model = tiny_llama_gqa()
    with aw.capture(model, attention="qk") as cap:
        model(input_ids=torch.arange(1, 9)[None])
        model(input_ids=torch.arange(1, 9)[None])
    with pytest.raises(aw.CaptureError, match="saw 2"):
        _ = cap.qk
