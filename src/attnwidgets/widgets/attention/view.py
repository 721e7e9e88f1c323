"""AttentionView: one head of one layer as a canvas heatmap (numpy + traitlets, no torch)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anywidget
import traitlets

from ...qk_records import QKRecord
from ...records import AttentionRecord
from ..bundles import bundle, require_bundle
from ..inputs import Text
from .live import LiveRunner, error_text, live_source, live_traits
from .request_queue import RequestQueue
from .requests import Reply, answer_request, error_reply, reply_id, shown_record
from .sentences import SENTENCE_FILTERS, check_sentence_b_start, sentence_region
from .view_data import (
    ViewData,
    chunk_traits,
    first_tile_traits,
    metrics_traits,
    overview_traits,
    pick_mode,
    preloaded_layers,
)
from .view_stacks import StackedData, load_stacks


class AttentionView(anywidget.AnyWidget):
    """Heatmap of one attention head: query rows x key columns, with token labels.

    ``data`` is a ``Run`` (from ``attnwidgets.wrap``), an ``AttentionRecord``, or an array
    ``[layers, heads, query, key]``. The kernel keeps the whole record; the browser holds the
    layers it has been sent and asks for others by message when ``layer`` changes.
    ``preload`` is ``"auto"`` (every layer if small, else the shown one), ``"all"`` (needed for
    pages exported without a kernel) or ``"layer"``. When one layer holds more than
    ``LAYER_BUDGET`` cells (``mode="tiles"``), nothing is preloaded: the browser asks for the
    region it shows, max-pooled in the kernel to the pixels it has (``request_tile``).
    ``show_overview`` adds the layer x head thumbnails, ``show_metrics`` the per-head metrics
    table; both are computed in the kernel when first shown. Thumbnails and token focus show
    the kind drawn; the metrics (entropy, mass on...) are always of the probabilities.
    ``scores`` (default: ``data.scores`` of a Run captured with ``scores=True``) maps a kind
    (``"scores"``, ``"scaled"``, ``"masked"``) to a record of the same shape; ``value_kind``
    picks the one drawn (a select in the view when there is more than one). Masked cells
    (``-inf``) are drawn grey. Sliding-window layers (``record.windows``) draw the edge of
    their band and say ``window 512`` in the title.
    ``sentence_b_start`` (bertviz's) splits the tokens into sentences A and B; a select then
    restricts the view (``sentence_filter``: ``"A->B"`` = queries of A, keys of B).
    A Run from a lens with a tokenizer gets a text box (``live``): edit, press Enter, and the
    model runs again in the kernel (``live=None`` turns the box off); ``set_data`` replaces
    what is shown in place.
    A record whose layers differ in shape (T5, BART, Whisper, CLIP, LLaVA) holds several
    *stacks* (``encoder``, ``decoder``, ``cross``, ``vision``, ``text``: see
    ``attnwidgets.stacks``); ``stack`` names the one shown (a select in the view), each with
    its own labels; ``label_note`` says where token labels would come from when positions
    are shown.

    Example:
        >>> import numpy as np
        >>> view = AttentionView(np.ones((2, 3, 4, 4)) / 4, ["a", "b", "c", "d"], layer=1, head=2)
        >>> view.n_layers, view.n_heads, view.chunk["layers"]
        (2, 3, [0, 1])
        >>> view.set_data(np.ones((2, 3, 5, 5)) / 5, list("vwxyz"))
        >>> view.query_tokens, view.layer, view.head, view.data_version
        (['v', 'w', 'x', 'y', 'z'], 1, 2, 1)
    """

    _esm = bundle("attention_view.js")

    layer = traitlets.Int(0).tag(sync=True)
    head = traitlets.Int(0).tag(sync=True)
    n_layers = traitlets.Int(0).tag(sync=True)
    n_heads = traitlets.Int(0).tag(sync=True)
    layer_names = traitlets.List(Text()).tag(sync=True)  # Text: lone surrogates -> U+FFFD
    query_tokens = traitlets.List(Text()).tag(sync=True)
    key_tokens = traitlets.List(Text()).tag(sync=True)
    chunk = traitlets.Dict().tag(sync=True)  # preloaded layers: arrays.array_value, uint8
    value_kind = traitlets.Unicode("probability").tag(sync=True)  # key of available_kinds
    available_kinds = traitlets.List(Text()).tag(sync=True)
    mode = traitlets.Unicode("layers").tag(sync=True)
    color_scale = traitlets.Enum(["linear", "log", "row"], "linear").tag(sync=True)
    focus_token = traitlets.Int(-1).tag(sync=True)  # locked query row / focused token, -1: none
    show_overview = traitlets.Bool(False).tag(sync=True)
    show_metrics = traitlets.Bool(False).tag(sync=True)
    show_lines = traitlets.Bool(False).tag(sync=True)
    compare_heads = traitlets.List(traitlets.List(traitlets.Int())).tag(sync=True)  # [[l, h]]
    tile0 = traitlets.Dict().tag(sync=True)  # tiles mode: the first view, pooled, in state
    thumbnails = traitlets.Dict().tag(sync=True)  # {} until the overview is shown
    metrics = traitlets.Dict().tag(sync=True)  # {} until the metrics table is shown
    data_version = traitlets.Int(0).tag(sync=True)  # +1 each time set_data replaces the data
    sentence_b_start = traitlets.Int(-1).tag(sync=True)  # first token of sentence B, -1: none
    sentence_filter = traitlets.Enum(SENTENCE_FILTERS, "all").tag(sync=True)
    live = traitlets.Bool(False).tag(sync=True)  # a text box that re-runs the model
    can_generate = traitlets.Bool(False).tag(sync=True)
    text = Text("").tag(sync=True)  # the text of the run shown
    live_state = traitlets.Enum(["idle", "running", "generating", "error"], "idle").tag(sync=True)
    live_message = Text("").tag(sync=True)
    max_new_tokens = traitlets.Int(20).tag(sync=True)
    live_answered = traitlets.Int(0).tag(sync=True)  # id of the last run/generate request done
    stacks = traitlets.List(traitlets.Unicode()).tag(sync=True)  # names, e.g. encoder, cross
    stack = traitlets.Unicode("").tag(sync=True)  # the stack shown
    label_note = traitlets.Unicode("").tag(sync=True)  # why positions are shown, "" for tokens
    generated_from = traitlets.Int(-1).tag(sync=True)  # first generated token, -1: none
    windows = traitlets.List(traitlets.List(traitlets.Int())).tag(sync=True)  # per layer [lo, hi]
    hover_token = traitlets.Int(-1, min=-1).tag(sync=True)  # linked hover (Tokens tab), -1: none

    def __init__(
        self,
        data: Any,
        tokens: Sequence[str] | None = None,
        *,
        layer: int = 0,
        head: int = 0,
        key_tokens: Sequence[str] | None = None,
        preload: str = "auto",
        mode: str = "auto",
        show_overview: bool = False,
        show_metrics: bool = False,
        scores: dict[str, AttentionRecord] | None = None,
        value_kind: str | None = None,
        sentence_b_start: int | None = None,
        live: Any = "auto",
        stack: str | None = None,
        **kwargs: Any,
    ) -> None:
        require_bundle("attention_view.js")
        stacked = load_stacks(data, tokens, key_tokens, scores)
        if stack is not None and stack not in stacked.stacks:
            raise ValueError(f"stack {stack!r} is not one of {stacked.names}")
        stack = stacked.pick(stack)
        loaded = stacked.stacks[stack]
        kind = loaded.record.kind if value_kind is None else value_kind
        if kind not in loaded.records:
            raise ValueError(f"value_kind {kind!r} is not one of {list(loaded.records)}")
        n_layers, n_heads, n_queries, n_keys = loaded.record.shape
        check_head(loaded.record, layer, head)  # IndexError with the valid range
        pick_mode(mode, loaded.record.shape)  # ValueError naming the modes
        preloaded_layers(loaded.record, preload, layer)  # ValueError naming the policies
        start = -1
        if sentence_b_start is not None:
            start = check_sentence_b_start(sentence_b_start, n_queries, n_keys)
        self._preload, self._mode_option, self._data = preload, mode, loaded
        self._stacked, self._stack_shown = stacked, stack
        self.source_data = data  # what was passed (a Run, a record...): the latest after set_data
        self._loading = False
        source = live_source(data) if isinstance(live, str) and live == "auto" else live
        layer, head = layer % n_layers, head % n_heads
        traits = self._data_traits(loaded, kind, layer, head, show_overview, show_metrics, None)
        super().__init__(
            layer=layer,
            head=head,
            **traits,
            value_kind=kind,
            show_overview=show_overview,
            show_metrics=show_metrics,
            sentence_b_start=start,
            stacks=stacked.names,
            stack=stack,
            **live_traits(source, data),
            **kwargs,
        )
        self._live = LiveRunner(self, source) if source is not None else None
        self._requests = RequestQueue(self._answer, self._send_reply)  # newest per slot wins
        self.on_msg(self._on_message)
        self.observe(self._fill_panels, names=["show_overview", "show_metrics"])
        self.observe(self._on_kind, names=["value_kind"])
        self.observe(self._on_sentences, names=["sentence_filter", "sentence_b_start"])
        self.observe(self._on_stack, names=["stack"])

    def _data_traits(
        self,
        loaded: ViewData,
        kind: str,
        layer: int,
        head: int,
        overview: bool,
        metrics: bool,
        region: Sequence[int] | None,
    ) -> dict[str, Any]:
        """Every trait that carries data (empty where a panel or mode does not need it)."""
        record, shown = loaded.record, loaded.records[kind]
        mode = pick_mode(self._mode_option, record.shape)
        if isinstance(record, QKRecord) and self._mode_option == "auto":
            mode = "tiles"  # Q and K: tiles computed on demand, never a dense layer
        layers = preloaded_layers(record, self._preload, layer) if mode == "layers" else []
        traits: dict[str, Any] = {
            "n_layers": record.shape[0],
            "n_heads": record.shape[1],
            "layer_names": record.layer_names,
            "windows": [list(w) if w else [] for w in getattr(record, "windows", None) or []],
            "query_tokens": loaded.queries,
            "key_tokens": loaded.keys,
            **chunk_traits(shown, layers),
            "available_kinds": list(loaded.records),
            "mode": mode,
            "tile0": {},
            "thumbnails": {},
            "metrics": {},
            "label_note": loaded.note,
            "generated_from": loaded.generated_from,
        }
        if mode == "tiles":  # first paint without a round trip, and a picture in exported pages
            colour = loaded.tile_range(kind, layer, head)  # kept for the tiles asked next
            traits.update(first_tile_traits(shown, kind, layer, head, colour))
        if overview:
            traits.update(overview_traits(shown, region))
        if metrics:
            traits.update(metrics_traits(record, loaded.queries))
        return traits

    def set_data(
        self,
        data: Any,
        tokens: Sequence[str] | None = None,
        *,
        key_tokens: Sequence[str] | None = None,
        scores: dict[str, AttentionRecord] | None = None,
    ) -> None:
        """Show new data in place (a new text, a generation step): one update to the browser.

        Layer and head are kept (clamped), the kind when the new data has it, the locked row
        and the compared heads when still in range, the sentence split when it still fits,
        the stack when the new data has one of that name.
        """
        self._show(load_stacks(data, tokens, key_tokens, scores), self.stack, data)

    @property
    def stacked_data(self) -> StackedData:
        """Every stack the view can show (``set_data`` takes it back, e.g. after an error)."""
        return self._stacked

    def _on_stack(self, change: dict[str, Any]) -> None:
        """Another stack picked (the select, or Python): its data replaces what is shown."""
        if self._loading:
            return
        if change["new"] not in self._stacked.stacks:
            self.set_trait("stack", change["old"])
            raise traitlets.TraitError(
                f"stack {change['new']!r} is not one of {self._stacked.names}"
            )
        self._show(self._stacked, change["new"], self.source_data)

    def _show(self, stacked: StackedData, name: str, data: Any) -> None:
        """Show stack ``name`` (else the first) of ``stacked``: one update to the browser."""
        name = stacked.pick(name)
        loaded = stacked.stacks[name]
        n_layers, n_heads, n_queries, n_keys = loaded.record.shape
        if n_layers == 0 or n_heads == 0:
            raise ValueError(f"no attention to show: the new data has shape {loaded.record.shape}")
        layer, head = min(self.layer, n_layers - 1), min(self.head, n_heads - 1)
        kind = self.value_kind if self.value_kind in loaded.records else loaded.record.kind
        same = name == self._stack_shown  # another stack: other tokens, other heads
        focus = self.focus_token if same and self.focus_token < n_queries else -1
        start = self.sentence_b_start if same else -1
        if n_queries != n_keys or not 0 < start < n_queries:
            start = -1
        region = sentence_region(self.sentence_filter, start, n_queries, n_keys)
        traits = self._data_traits(
            loaded, kind, layer, head, self.show_overview, self.show_metrics, region
        )
        traits.update(
            layer=layer,
            head=head,
            value_kind=kind,
            focus_token=focus,
            compare_heads=[
                [i, h] for i, h in self.compare_heads if same and i < n_layers and h < n_heads
            ],
            sentence_b_start=start,
            sentence_filter=self.sentence_filter if start >= 0 else "all",
            data_version=self.data_version + 1,
            stacks=stacked.names,
            stack=name,
        )
        self._loading = True
        try:
            with self.hold_sync():
                self._data, self.source_data, self._stacked = loaded, data, stacked
                self._stack_shown = name
                for name, value in traits.items():
                    self.set_trait(name, value)
        finally:
            self._loading = False

    @property
    def kinds(self) -> dict[str, AttentionRecord | QKRecord]:
        """Every record this view can show, by kind (``value_kind`` picks one)."""
        return dict(self._data.records)

    @property
    def record(self) -> AttentionRecord | QKRecord:
        """The full record this view draws from (kept in the kernel)."""
        return self._data.record

    def _shown(self, kind: Any = None) -> tuple[str, AttentionRecord | QKRecord]:
        return shown_record(self._data, kind, self.value_kind)

    def _region(self) -> tuple[int, int, int, int] | None:
        n_queries, n_keys = self._data.record.shape[2:]
        return sentence_region(self.sentence_filter, self.sentence_b_start, n_queries, n_keys)

    def _on_kind(self, change: dict[str, Any]) -> None:
        """Re-send what is shown for the new kind (chunk, or the first tile; thumbnails)."""
        if self._loading:
            return
        kind = change["new"]
        if kind not in self._data.records:
            self.set_trait("value_kind", change["old"])
            raise traitlets.TraitError(
                f"value_kind {kind!r} is not one of {list(self._data.records)}"
            )
        record = self._data.records[kind]
        with self.hold_sync():
            if self.thumbnails:  # the overview shows the kind drawn too
                for name, value in overview_traits(record, self._region()).items():
                    self.set_trait(name, value)
            if self.mode == "layers":
                for name, value in chunk_traits(record, self.chunk["layers"]).items():
                    self.set_trait(name, value)
            else:
                colour = self._data.tile_range(kind, self.layer, self.head)
                traits = first_tile_traits(record, kind, self.layer, self.head, colour)
                for name, value in traits.items():
                    self.set_trait(name, value)

    def _on_sentences(self, change: dict[str, Any]) -> None:
        """Thumbnails follow the sentence filter (they are recomputed for the block shown)."""
        if self._loading or not self.thumbnails:
            return
        for name, value in overview_traits(self._shown()[1], self._region()).items():
            self.set_trait(name, value)

    def _fill_panels(self, change: dict[str, Any]) -> None:
        """Compute thumbnails / metrics the first time their panel is switched on."""
        if self._loading:
            return
        if change["new"] and change["name"] == "show_overview" and not self.thumbnails:
            for name, value in overview_traits(self._shown()[1], self._region()).items():
                self.set_trait(name, value)
        if change["new"] and change["name"] == "show_metrics" and not self.metrics:
            for name, value in metrics_traits(self._data.record, self._data.queries).items():
                self.set_trait(name, value)

    def _on_message(self, widget: Any, content: Any, buffers: Any) -> None:
        """Answer the browser's requests for data (``attention_requests``, through a queue
        where the newest request per slot wins: ``request_queue``) and live runs."""
        if isinstance(content, dict) and content.get("type") in ("run_text", "generate"):
            if self._live is None:
                message = "this view has no model to run (it was not made from aw.wrap(model, tok))"
                self._send_reply(error_reply(reply_id(content.get("id")), message))
            else:
                self._live.handle(content)
            return
        self._requests.submit(content)

    def _answer(self, content: Any) -> Reply:
        """The reply to one queued request, from the data shown when it is answered."""
        n_queries = len(self._data.queries)
        return answer_request(content, self._data, n_queries, self.value_kind, self.mode)

    def _send_reply(self, reply: Reply) -> None:
        content, buffers = reply
        self.send(content, buffers=buffers)

    def set_status(self, state: str, message: str, text: str | None = None) -> None:
        """The live box's ``live_state`` and ``live_message`` (and its ``text``), in one update.

        Example:
            >>> import numpy as np
            >>> view = AttentionView(np.ones((1, 1, 2, 2)) / 2)
            >>> view.set_status("error", "generation stopped: no model")
            >>> view.live_state, view.live_message
            ('error', 'generation stopped: no model')
        """
        with self.hold_sync():
            if text is not None:
                self.text = text
            self.live_state = state
            self.live_message = message

    def show_generating(self, step: int, total: int) -> None:
        """The status while generating: ``step`` of ``total`` new tokens so far."""
        self.set_status("generating", f"generating: {step} of {total} new tokens")

    def show_run(self, run: Any, message: str, text: str | None = None) -> None:
        """Show ``run`` in place (a new text, a whole generation) and say ``message`` in the
        live box, followed by the run's notes; the box shows the run's text (else ``text``)."""
        self.set_data(run)
        notes = [note for note in getattr(run, "notes", None) or () if isinstance(note, str)]
        if notes:  # e.g. it ran in training mode: another thread was running the model
            message = f"{message}; {'; '.join(notes)}"
        shown = getattr(run, "text", None)
        self.set_status("idle", message, shown if isinstance(shown, str) else text)

    def show_error(self, error: BaseException, what: str = "generation stopped") -> None:
        """Say in the live box that ``what`` happened because of ``error``."""
        self.set_status("error", f"{what}: {error_text(error)}")

    def close(self) -> None:
        """Close the view in the browser; requests still queued are dropped unanswered."""
        requests = getattr(self, "_requests", None)  # None when __init__ failed early
        if requests is not None:
            requests.clear()
        super().close()


def find_attention_view(widget: Any) -> AttentionView:
    """The AttentionView itself, or the first one inside a box or tab (``run.widget()``).

    Example:
        >>> find_attention_view("not a widget")
        Traceback (most recent call last):
        ...
        TypeError: view= takes an AttentionView or a widget holding one (e.g. run.widget()), not str
    """
    if isinstance(widget, AttentionView):
        return widget
    for child in getattr(widget, "children", ()) or ():
        try:
            return find_attention_view(child)
        except TypeError:
            continue
    raise TypeError(
        "view= takes an AttentionView or a widget holding one (e.g. run.widget()), "
        f"not {type(widget).__name__}"
    )


def check_head(record: AttentionRecord | QKRecord, layer: int, head: int) -> None:
    """IndexError naming the valid range when ``(layer, head)`` is not in ``record``."""
    if isinstance(record, QKRecord):
        record.check_head(layer, head)
    else:
        record.head(layer, head)
