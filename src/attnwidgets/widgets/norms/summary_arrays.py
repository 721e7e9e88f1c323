"""Norm summaries as named arrays (numpy only, no torch), for ``arrays.packed_value``."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ...norm_records import NormLayer, NormRecord


def check_bins(record: NormRecord) -> int:
    """The record's bin count, with a clear error if layers disagree or there are none."""
    if len(record) == 0:
        raise ValueError("the norm record is empty: no norm module ran inside the capture")
    bins = {layer.input.bins for layer in record} | {layer.output.bins for layer in record}
    if len(bins) != 1:
        raise ValueError(f"norm layers have different bin counts {sorted(bins)}; use one")
    return bins.pop()


def summary_arrays(record: NormRecord) -> dict[str, npt.NDArray[Any]]:
    """Every layer's histograms and global numbers (what the training monitor sends per step).

    ``hist_in``/``hist_out`` ``[layers, bins]``, ``range`` ``[layers, 2]`` (lo, hi, shared),
    ``spread``/``mean``/``abs_max`` ``[layers, 2]`` (input, output), ``nonfinite``
    ``[layers, 6]`` (NaN, +Inf, -Inf of the input, then of the output).

    Example:
        >>> from attnwidgets.norm_records import TensorSummary
        >>> s = TensorSummary.from_numpy(np.ones((2, 3)), bins=4)
        >>> arrays = summary_arrays(NormRecord([NormLayer("ln", "layernorm", "LN", (2, 3), s, s)]))
        >>> arrays["hist_in"].tolist(), arrays["range"].tolist()
        ([[0, 0, 6, 0]], [[0.5, 1.5]])
    """
    check_bins(record)

    def pair(attribute: str) -> npt.NDArray[np.float32]:
        rows = [(getattr(x.input, attribute), getattr(x.output, attribute)) for x in record]
        return np.asarray(rows, np.float32)

    return {
        "hist_in": np.stack([layer.input.counts for layer in record]).astype(np.int32),
        "hist_out": np.stack([layer.output.counts for layer in record]).astype(np.int32),
        "range": np.asarray([(layer.input.lo, layer.input.hi) for layer in record], np.float32),
        "spread": pair("std"),
        "mean": pair("mean"),
        "abs_max": pair("abs_max"),
        "nonfinite": np.asarray([_nonfinite(layer) for layer in record], np.int32),
    }


def _nonfinite(layer: NormLayer) -> list[int]:
    sides = (layer.input, layer.output)
    return [count for s in sides for count in (s.nan, s.posinf, s.neginf)]


def layer_arrays(layer: NormLayer, index: int) -> dict[str, npt.NDArray[Any]]:
    """One layer's detail: per-token ``[3, tokens]`` (mean, std, rms), gamma, beta, outliers."""
    arrays: dict[str, npt.NDArray[Any]] = {}
    for side, summary in (("in", layer.input), ("out", layer.output)):
        tokens = np.stack([summary.token_mean, summary.token_std, summary.token_rms])
        arrays[f"tokens_{side}.{index}"] = tokens.astype(np.float32)
        arrays[f"outliers_{side}.{index}"] = summary.outliers.astype(np.float32).reshape(-1, 3)
    if layer.gamma is not None:
        arrays[f"gamma.{index}"] = layer.gamma.astype(np.float32)
    if layer.beta is not None:
        arrays[f"beta.{index}"] = layer.beta.astype(np.float32)
    return arrays
