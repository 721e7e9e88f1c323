"""``attention="qk"`` at 2,048 tokens: every tile, row and head metric of a Q/K record equal to
dense softmax attention from transformers' own eager kernel (``output_attentions=True``), for
causal grouped-query (sdpa: the flash kernel's log-sum-exp; eager: recomputed), sliding-window
(Mistral), soft-capped sliding-window (Gemma 2), sink-logit (gpt-oss) and padded-batch models
built from config.

The reference pools the dense matrix with ``np.maximum.reduceat`` / ``np.add.reduceat``, not
with the record's code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import attnwidgets as aw
from attnwidgets.metrics import head_metrics
from attnwidgets.records import AttentionRecord

TOKENS = 2048
ATOL = 1e-5
SMALL = dict(
    num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, hidden_size=64,
    intermediate_size=64, vocab_size=128, max_position_embeddings=TOKENS,
    bos_token_id=0, eos_token_id=0, pad_token_id=0,
)  # fmt: skip


def _sharpen(model: torch.nn.Module, factor: float = 6.0) -> torch.nn.Module:
    """Larger q/k weights: peaked rows (a uniform row would hide pooling mistakes)."""
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.q_proj.weight.mul_(factor)
            layer.self_attn.k_proj.weight.mul_(factor)
    return model.eval()


def llama(implementation: str) -> torch.nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return _sharpen(LlamaForCausalLM(LlamaConfig(**SMALL, attn_implementation=implementation)))


def mistral(implementation: str) -> torch.nn.Module:
    from transformers import MistralConfig, MistralForCausalLM

    config = MistralConfig(**SMALL, sliding_window=300, attn_implementation=implementation)
    torch.manual_seed(1)
    return _sharpen(MistralForCausalLM(config))


def gemma2(implementation: str) -> torch.nn.Module:
    from transformers import Gemma2Config, Gemma2ForCausalLM

    config = Gemma2Config(
        **SMALL, head_dim=16, sliding_window=200, attn_logit_softcapping=2.0,
        query_pre_attn_scalar=24, attn_implementation="eager",
    )  # fmt: skip
    torch.manual_seed(2)
    return _sharpen(Gemma2ForCausalLM(config), 10.0)


def gpt_oss(implementation: str) -> torch.nn.Module:
    """Per-head sink logits (``module.sinks``) beside a sliding-window and a full layer."""
    from transformers import GptOssConfig, GptOssForCausalLM

    config = GptOssConfig(
        **{**SMALL, "hidden_size": 64}, head_dim=16, num_local_experts=4,
        num_experts_per_tok=2, sliding_window=256, rope_parameters={"rope_type": "default",
        "rope_theta": 10000.0}, layer_types=["sliding_attention", "full_attention"],
        attn_implementation="eager",
    )  # fmt: skip
    torch.manual_seed(3)
    model = _sharpen(GptOssForCausalLM(config))
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.sinks.normal_(0.0, 3.0)
    return model


def _ids(batch: int) -> torch.Tensor:
    return torch.randint(1, 128, (batch, TOKENS), generator=torch.Generator().manual_seed(5))


CASES: dict[str, tuple[Any, str, dict[str, torch.Tensor], str]] = {
    "llama-sdpa-gqa": (llama, "sdpa", {"input_ids": _ids(1)}, "kernel"),
    "llama-eager": (llama, "eager", {"input_ids": _ids(1)}, "recomputed"),
    "mistral-window": (mistral, "sdpa", {"input_ids": _ids(1)}, "recomputed"),
    "gemma2-softcap-window": (gemma2, "eager", {"input_ids": _ids(1)}, "recomputed"),
    "gpt-oss-sinks": (gpt_oss, "eager", {"input_ids": _ids(1)}, "recomputed"),
    "llama-padded": (
        llama,
        "sdpa",
        {
            "input_ids": _ids(2),
            "attention_mask": torch.stack(
                [torch.arange(TOKENS) >= 300, torch.ones(TOKENS, dtype=torch.bool)]
            ).long(),
        },
        "recomputed",
    ),
}


def _reference(build: Any, inputs: dict[str, torch.Tensor]) -> list[np.ndarray]:
    """Per batch item, ``[layers, heads, q, k]`` from the eager kernel's own weights."""
    model = build("eager")
    with torch.no_grad():
        out = model(**inputs, output_attentions=True)
    stacked = torch.stack(list(out.attentions), dim=1).numpy()  # [batch, layers, heads, q, k]
    return list(stacked)


@pytest.fixture(scope="module", params=list(CASES))
def case(request: pytest.FixtureRequest) -> tuple[str, list[aw.QKRecord], list[np.ndarray]]:
    build, implementation, inputs, _ = CASES[request.param]
    model = build(implementation)
    with torch.no_grad(), aw.capture(model, attention="qk") as cap:
        model(**inputs)
    return request.param, cap.qk_records(), _reference(build, inputs)


def _pool(dense: np.ndarray, q0: int, q1: int, k0: int, k1: int, rows: int, cols: int,
          reduce: str) -> np.ndarray:  # fmt: skip
    region = dense[q0:q1, k0:k1].astype(np.float64)
    rstep, cstep = -(-(q1 - q0) // rows), -(-(k1 - k0) // cols)
    rstarts, cstarts = np.arange(0, q1 - q0, rstep), np.arange(0, k1 - k0, cstep)
    if reduce == "max":
        return np.maximum.reduceat(np.maximum.reduceat(region, rstarts, 0), cstarts, 1)
    sums = np.add.reduceat(np.add.reduceat(region, rstarts, 0), cstarts, 1)
    sizes = np.diff(np.append(rstarts, q1 - q0))[:, None] * np.diff(np.append(cstarts, k1 - k0))
    return sums / sizes


def test_lse_source_is_the_kernels_where_flash_ran(case: Any) -> None:
    name, records, _ = case
    assert {layer.lse_source for layer in records[0].layers} == {CASES[name][3]}


def test_every_cell_equals_eager_attention(case: Any) -> None:
    """``dense`` is the record's tile at one cell per token: every tile at that zoom."""
    _, records, reference = case
    assert len(records) == len(reference)
    for record, dense in zip(records, reference, strict=True):
        assert record.shape == dense.shape[:2] + dense.shape[2:]
        for layer in range(len(record)):
            np.testing.assert_allclose(record.dense(layer), dense[layer], atol=ATOL, rtol=0)


def test_pooled_tiles_equal_pooled_dense(case: Any) -> None:
    _, records, reference = case
    rng = np.random.default_rng(0)
    record, dense = records[-1], reference[-1]
    regions = [(0, TOKENS, 0, TOKENS, 512, 512), (0, TOKENS, 0, TOKENS, 37, 100)]
    for _ in range(6):
        q0, k0 = rng.integers(0, TOKENS - 64, 2)
        q1, k1 = q0 + rng.integers(1, TOKENS - q0), k0 + rng.integers(1, TOKENS - k0)
        regions.append((int(q0), int(q1), int(k0), int(k1), *map(int, rng.integers(1, 300, 2))))
    for layer in range(len(record)):
        for head in (0, 3):
            for q0, q1, k0, k1, rows, cols in regions:
                for reduce in ("max", "mean"):
                    got = record.tile(layer, head, q0, q1, k0, k1, rows, cols, reduce)
                    want = _pool(dense[layer, head], q0, q1, k0, k1, rows, cols, reduce)
                    assert got.shape == want.shape
                    assert got.shape[0] <= rows and got.shape[1] <= cols
                    np.testing.assert_allclose(got, want, atol=ATOL, rtol=0)


def test_rows_and_columns_equal_eager_attention(case: Any) -> None:
    _, records, reference = case
    for record, dense in zip(records, reference, strict=True):
        for query in (0, 1, 299, 300, 1500, TOKENS - 1):
            for head in range(4):
                np.testing.assert_allclose(
                    record.row(1, head, query), dense[1, head, query], atol=ATOL, rtol=0
                )
        np.testing.assert_allclose(record.column(0, 2, 700), dense[0, 2, :, 700], atol=ATOL)


def test_head_metrics_equal_the_dense_metrics(case: Any) -> None:
    _, records, reference = case
    tokens = [str(i % 50) for i in range(TOKENS)]
    tokens[100] = tokens[900] = "[SEP]"
    got = records[-1].metrics(tokens).values
    want = head_metrics(AttentionRecord(list(reference[-1])), tokens).values
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


def test_record_memory_is_q_and_k_plus_one_float_per_row(case: Any) -> None:
    _, records, _ = case
    record = records[0]
    qk = sum(layer.q.nbytes + layer.k.nbytes for layer in record.layers)
    rows = sum(layer.lse.nbytes for layer in record.layers)
    assert rows == 2 * 4 * TOKENS * 4
    assert record.nbytes <= 1.1 * qk + rows + 2 * TOKENS  # + padding flags
    kv = record.layers[0].k.shape
    assert kv[0] == 2  # grouped-query: K kept per key-value head
