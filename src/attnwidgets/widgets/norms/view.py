"""NormView: what each norm module does to its input (numpy + traitlets, no torch)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anywidget
import traitlets

from ...norm_records import NormLayer, NormRecord
from ..arrays import packed_value
from ..bundles import bundle, require_bundle
from ..inputs import Text
from .summary_arrays import check_bins, layer_arrays, summary_arrays


class NormView(anywidget.AnyWidget):
    """Histograms of a norm's input and output, per-token statistics, gamma/beta, outliers.

    ``record`` is a ``NormRecord`` (from ``aw.record_norms`` or ``cap.norms``). All layers
    travel in one binary buffer (a few KB per layer), so the view needs no kernel to switch
    layers. ``outlier_ratio`` is echoed in the view's legend (the capture decides outliers).

    Example:
        >>> import numpy as np
        >>> from attnwidgets.norm_records import NormLayer, TensorSummary
        >>> s = TensorSummary.from_numpy(np.random.default_rng(0).normal(size=(1, 4, 8)))
        >>> layer = NormLayer("ln_f", "layernorm", "LayerNorm", (1, 4, 8), s, s)
        >>> view = NormView(NormRecord([layer], tokens=list("abcd")))
        >>> view.n_layers, view.layer_names, view.tokens
        (1, ['ln_f'], ['a', 'b', 'c', 'd'])
    """

    _esm = bundle("norm_view.js")

    layer = traitlets.Int(0).tag(sync=True)
    n_layers = traitlets.Int(0).tag(sync=True)
    layer_names = traitlets.List(Text()).tag(sync=True)
    layer_kinds = traitlets.List(Text()).tag(sync=True)
    class_names = traitlets.List(Text()).tag(sync=True)
    tokens = traitlets.List(Text()).tag(sync=True)
    bins = traitlets.Int(0)  # the record's bin count (the browser reads it from the arrays)
    log_counts = traitlets.Bool(True).tag(sync=True)
    data = traitlets.Dict().tag(sync=True)  # arrays.packed_value of every layer's arrays
    hist_notes = traitlets.List(Text()).tag(sync=True)

    def __init__(
        self,
        record: NormRecord,
        tokens: Sequence[str] | None = None,
        *,
        layer: int = 0,
        **kwargs: Any,
    ) -> None:
        require_bundle("norm_view.js")
        if not isinstance(record, NormRecord):
            raise TypeError(
                f"NormView takes a NormRecord (from record_norms), not {type(record).__name__}"
            )
        bins = check_bins(record)
        record[layer]
        labels = list(tokens) if tokens is not None else record.tokens
        arrays = summary_arrays(record)
        for index, item in enumerate(record):
            arrays.update(layer_arrays(item, index))
        self._record = record
        super().__init__(
            layer=layer % len(record),
            n_layers=len(record),
            layer_names=record.layer_names,
            layer_kinds=[item.kind for item in record],
            class_names=[item.class_name for item in record],
            tokens=[str(t) for t in labels] if labels is not None else [],
            bins=bins,
            data=packed_value(arrays),
            hist_notes=[histogram_note(item) for item in record],
            **kwargs,
        )

    @property
    def record(self) -> NormRecord:
        """The record this view draws."""
        return self._record


def histogram_note(layer: NormLayer) -> str:
    """What the histogram of ``layer`` counts, for its heading: '' when every value.

    Example:
        >>> import dataclasses
        >>> import numpy as np
        >>> from attnwidgets.norm_records import TensorSummary
        >>> x = np.arange(24.0).reshape(1, 4, 6)
        >>> full = TensorSummary.from_numpy(x)
        >>> histogram_note(NormLayer("ln", "layernorm", "LayerNorm", x.shape, full, full))
        ''
        >>> part = dataclasses.replace(full, sampled=5, sample_step=5)
        >>> histogram_note(NormLayer("ln", "layernorm", "LayerNorm", x.shape, part, part))
        'counts 5 of 24 values (1 in 5); statistics use all'
    """
    summary = layer.input
    if summary.sample_step <= 1 and summary.sampled >= summary.elements:
        return ""
    return (
        f"counts {summary.sampled:,} of {summary.elements:,} values "
        f"(1 in {summary.sample_step:,}); statistics use all"
    )
