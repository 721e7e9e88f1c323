"""What an AttentionView draws from, and the synced traits that carry it (numpy only).

``load_view_data`` normalises what a user passes (a Run, a record, arrays, scores) into one
``ViewData``; the other functions turn it into trait values. ``AttentionView`` uses them when it
is built and again when its data is replaced in place (``set_data``: a new text, a generation
step).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...metrics import head_metrics
from ...qk_records import QKRecord
from ...records import AttentionRecord
from ..arrays import array_value
from ..inputs import as_attention_record, token_labels
from .qk_tiles import qk_tiles
from .tiles import TileRange, TileRequest, make_tile, thumbnails
from .transport import MASKED_BYTE, NAN_BYTE, encode_block

Shown = AttentionRecord | QKRecord  # what a view draws from: dense, or Q and K
PRELOAD_BUDGET = 256 * 1024  # bytes of uint8 data sent up front when preload="auto"
LAYER_BUDGET = 1024 * 1024  # above this many cells per layer, the browser asks for tiles
THUMBNAIL_SIDE = 32
FIRST_TILE_SIDE = 512  # cells per side of the first view sent with the state in tiles mode


@dataclass(frozen=True)
class ViewData:
    """The records a view can show (by kind, the attention's own kind first) and the labels.

    ``tile_range`` keeps each head's colour range once computed: a tile of a few cells then
    costs its own region, not a scan of the whole head. ``set_data`` makes a new ViewData, so
    new data never meets an old range.
    """

    records: Mapping[str, Shown]  # a QKRecord (attention="qk") alone
    queries: list[str]
    keys: list[str]
    note: str = ""  # where token labels would come from, when positions are shown
    generated_from: int = -1  # first generated position (prompt + generation), -1: none
    ranges: dict[tuple[str, int, int], TileRange] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def record(self) -> Shown:
        """The attention record itself (thumbnails, metrics and token focus read it)."""
        return next(iter(self.records.values()))

    def tile_range(self, kind: str, layer: int, head: int) -> TileRange:
        """The colour range and reserved bytes of one head of ``records[kind]`` (cached).

        Example:
            >>> vd = load_view_data(np.eye(3, dtype=np.float32)[None, None] * 0.5)
            >>> vd.tile_range("probability", 0, 0), len(vd.ranges)
            (TileRange(lo=0.0, hi=0.5, masked=False, nan=False), 1)
        """
        key = (kind, layer, head)
        found = self.ranges.get(key)
        shown = self.records[kind]
        if isinstance(shown, QKRecord):
            return qk_tiles(shown).colour(layer, head)
        if found is None:
            found = TileRange.of(shown.head(layer, head), kind)
            self.ranges[key] = found
        return found


def load_view_data(
    data: Any,
    tokens: Sequence[Any] | None = None,
    key_tokens: Sequence[Any] | None = None,
    scores: dict[str, Any] | None = None,
) -> ViewData:
    """Records by kind and token labels from what a user passes (see ``AttentionView``).

    Example:
        >>> vd = load_view_data(np.ones((1, 2, 3, 3)) / 3, ["a", "b", "c"])
        >>> list(vd.records), vd.record.shape, vd.keys
        (['probability'], (1, 2, 3, 3), ['a', 'b', 'c'])
    """
    if isinstance(data, ViewData) and tokens is None and key_tokens is None and scores is None:
        return data  # already loaded (a view going back to what it showed)
    record = as_attention_record(data)
    if scores is None:
        scores = getattr(data, "scores", None) or {}
    records: dict[str, AttentionRecord] = {record.kind: record}
    for name, other in scores.items():
        other = as_attention_record(other)
        if other.shape != record.shape:
            raise ValueError(
                f"scores[{name!r}] has shape {other.shape}, the attention {record.shape}"
            )
        records.setdefault(name, other)
    if tokens is None:
        tokens = getattr(data, "tokens", None)
    n_queries, n_keys = record.shape[2:]
    queries = token_labels(tokens, n_queries, "query")
    keys = token_labels(key_tokens, n_keys, "key") if key_tokens else None
    if keys is None:
        keys = queries if n_keys == n_queries else token_labels(None, n_keys, "key")
    return ViewData(records, queries, keys)


def qk_view_data(
    record: QKRecord, tokens: Sequence[Any] | None, key_tokens: Sequence[Any] | None = None
) -> ViewData:
    """A Q/K record with its labels (tiles computed from Q and K: ``qk_tiles``)."""
    _, _, n_queries, n_keys = record.shape
    queries = token_labels(tokens, n_queries, "query")
    keys = token_labels(key_tokens, n_keys, "key") if key_tokens else queries
    return ViewData({record.kind: record}, queries, keys)


def pick_mode(mode: str, shape: tuple[int, int, int, int]) -> str:
    """``"layers"`` or ``"tiles"``: ``"auto"`` picks tiles above ``LAYER_BUDGET`` cells a layer.

    Example:
        >>> pick_mode("auto", (12, 12, 256, 256)), pick_mode("auto", (1, 12, 512, 512))
        ('layers', 'tiles')
    """
    if mode == "auto":
        _, n_heads, n_queries, n_keys = shape
        return "tiles" if n_heads * n_queries * n_keys > LAYER_BUDGET else "layers"
    if mode not in ("layers", "tiles"):
        raise ValueError(f"mode must be 'auto', 'layers' or 'tiles', not {mode!r}")
    return mode


def preloaded_layers(record: Shown, preload: str, layer: int) -> list[int]:
    """The layers sent with the state: ``"all"``, ``"layer"`` (the shown one) or ``"auto"``
    (all when they fit in ``PRELOAD_BUDGET`` bytes, else the shown one).

    Example:
        >>> preloaded_layers(AttentionRecord.from_array(np.zeros((3, 1, 2, 2))), "auto", 1)
        [0, 1, 2]
    """
    count = len(record)
    if preload == "all":
        return list(range(count))
    if preload == "layer":
        return [layer % count]
    if preload == "auto":
        if isinstance(record, QKRecord):  # sizes only: a dense layer is never made here
            total = int(np.prod(record.shape))
        else:
            total = sum(block.size for block in record)
        return list(range(count)) if total <= PRELOAD_BUDGET else [layer % count]
    raise ValueError(f"preload must be 'auto', 'all' or 'layer', not {preload!r}")


def chunk_traits(record: Shown, layers: list[int]) -> dict[str, Any]:
    """``chunk``: ``layers`` of ``record`` as one uint8 value ``[len(layers), heads, query,
    key]`` with ``layers``, per-layer ``offset`` / ``scale`` lists and ``kind`` (byte 0 =
    masked when any of them holds -inf, byte 255 = NaN when any of them holds NaN).

    Example:
        >>> chunk = chunk_traits(AttentionRecord.from_array(np.eye(2)[None, None]), [0])["chunk"]
        >>> list(chunk["value"]), chunk["shape"], chunk["layers"]
        ([255, 0, 0, 255], [1, 1, 2, 2], [0])
    """
    masked = any(bool(np.isneginf(record[i]).any()) for i in layers)
    nan = any(bool(np.isnan(record[i]).any()) for i in layers)
    blocks = [encode_block(record[i], masked=masked, nan=nan) for i in layers]
    data = np.frombuffer(b"".join(block.data for block in blocks), np.uint8)
    meta: dict[str, Any] = {
        "layers": layers,
        "offset": [block.offset for block in blocks],
        "scale": [block.scale for block in blocks],
        "kind": record.kind,
    }
    if masked:
        meta["masked_byte"] = MASKED_BYTE
    if nan:
        meta["nan_byte"] = NAN_BYTE
    shape = (len(layers), *record.shape[1:])
    return {"chunk": array_value(data.reshape(shape), "uint8", **meta)}


def first_tile_traits(
    record: Shown, kind: str, layer: int, head: int, colour: TileRange | None = None
) -> dict[str, Any]:
    """``tile0``: the whole head pooled to ``FIRST_TILE_SIDE`` (tiles mode), a tile reply's
    value; ``colour``: the head's range when known (``ViewData.tile_range``)."""
    n_queries, n_keys = record.shape[2:]
    side = FIRST_TILE_SIDE
    request = TileRequest(layer, head, (0, n_queries), (0, n_keys), side, side)
    if isinstance(record, QKRecord):
        return {"tile0": qk_tiles(record).tile(request, kind, warm=False)}
    return {"tile0": make_tile(record.head(layer, head), request, kind, colour)}


def region_layers(record: AttentionRecord, region: Sequence[int] | None) -> list[Any]:
    """Each layer cut to ``region = (q0, q1, k0, k1)`` (all of it when None)."""
    if region is None:
        return list(record)
    q0, q1, k0, k1 = region
    return [layer[:, q0:q1, k0:k1] for layer in record]


def overview_traits(record: Shown, region: Sequence[int] | None = None) -> dict[str, Any]:
    """``thumbnails``: every layer x head (of ``region`` when given) as a uint8 value
    ``[layers, heads, side, side]`` with ``lo`` / ``hi`` per head and ``kind`` (score kinds:
    each head over its own range).

    Example:
        >>> rec = AttentionRecord.from_array(np.ones((2, 3, 4, 4)) / 4)
        >>> overview_traits(rec, (0, 2, 0, 4))["thumbnails"]["shape"]
        [2, 3, 2, 4]
    """
    meta: dict[str, Any] = {"kind": record.kind}
    if region is not None:
        meta["region"] = [int(v) for v in region]
    if isinstance(record, QKRecord):
        return {"thumbnails": qk_tiles(record).thumbnails(THUMBNAIL_SIDE, region, **meta)}
    return {"thumbnails": thumbnails(region_layers(record, region), THUMBNAIL_SIDE, **meta)}


def metrics_traits(record: Shown, tokens: Sequence[str]) -> dict[str, Any]:
    """``metrics``: ``[layers, heads, metrics]`` float32 with the metric ``names`` (a Q/K
    record's block by block)."""
    if isinstance(record, QKRecord):
        computed = record.metrics(tokens)
    else:
        computed = head_metrics(record, tokens)
    return {"metrics": array_value(computed.values, "float32", names=list(computed.names))}
