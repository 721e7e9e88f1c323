"""What a lens gives back: ``Run`` (one forward pass) and ``Runs`` (one Run per example of a
batch). Plain records (numpy, token labels, the model's own outputs): nothing here imports
torch or the widgets at import time; ``show()`` / ``widget()`` import the widgets when called.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, overload

from .norm_records import NormRecord
from .positions import PositionScheme
from .qk_records import QKRecord
from .qkv_records import QKVRecord
from .records import AttentionRecord

if TYPE_CHECKING:
    import ipywidgets
    import torch

    from .stacks import Stack

_MASKS = ("attention_mask", "decoder_attention_mask", "token_type_ids", "position_ids")


class Source(Protocol):
    """What a Run uses of the lens that made it (``attnwidgets.Lens``)."""

    tokenizer: Any

    def _labels(self, inputs: dict[str, Any]) -> list[str]: ...


@dataclass
class Run:
    """One forward pass: token labels, the captured attention, and the model's own outputs.

    ``attention[i]`` is layer ``i`` as ``[heads, query, key]`` float32. With
    ``aw.wrap(model, tok, attention="qk")`` ``attention`` is a ``QKRecord`` (Q and K per layer:
    tiles, rows and metrics on demand; ``attention[i]`` below its dense limit).
    """

    tokens: list[str]
    attention: AttentionRecord | QKRecord
    inputs: dict[str, Any] = field(repr=False)
    outputs: Any = field(repr=False)
    model: torch.nn.Module | None = field(default=None, repr=False)  # type only: no torch import
    norms: NormRecord | None = field(default=None, repr=False)
    scores: dict[str, AttentionRecord] = field(default_factory=dict, repr=False)
    """Pre-softmax records by kind (``scores``, ``scaled``, ``masked``) when the lens
    captured them (``aw.wrap(model, tok, scores=True)``); AttentionView offers a toggle."""
    lens: Source | None = field(default=None, repr=False)
    """The lens that made this run: with a tokenizer, the explorer gets a text box."""
    text: str | None = None
    """The text the run was made from (after generation: the prompt and what was generated)."""
    generated: list[str] = field(default_factory=list)
    """After ``lens.generate``: the new tokens, the last one included (it was never fed, so
    it has no attention row)."""
    notes: list[str] = field(default_factory=list)
    """How this run differs from a plain eval forward, e.g. it ran in training mode because
    another thread was running the model (the live box shows these)."""
    qkv: QKVRecord | None = field(default=None, repr=False)
    """Queries, keys, values and head outputs per layer (``aw.wrap(model, tok, qkv=True)``):
    the Steps tab redoes each head's attention from them."""

    def widget(self, layer: int = 0, head: int = 0) -> ipywidgets.Widget:
        """Tabs: the attention heatmap with layer and head sliders, the norm statistics when
        they were captured, attention step by step when Q, K and V were (``qkv=True``), and
        the model's position schemes when some are found (one per rotary table), and the
        text's tokens when the lens has a tokenizer (hover linked to the attention view)."""
        import ipywidgets

        from . import widgets

        view = widgets.AttentionView(self, layer=layer, head=head)
        tabs: list[tuple[str, ipywidgets.Widget]] = [
            ("Attention", widgets.attention_explorer(view))
        ]
        links: list[ipywidgets.Widget] = []  # closed with the tabs
        if self.norms is not None and len(self.norms):
            tabs.append(("Norms", widgets.norm_panel(self.norms, self.tokens)))
        if self.qkv is not None and len(self.qkv):
            steps = widgets.StepView(self.qkv, self.tokens or None, layer=layer, head=head)
            tabs.append(("Steps", steps))  # a new text in the live box: the steps follow
            view.observe(lambda _: steps.set_data(view.source_data), names="data_version")
        schemes = self.position_schemes()
        if schemes:
            shown = schemes[0] if len(schemes) == 1 else schemes
            tabs.append(("Positions", widgets.position_panel(shown)))
        if (tokens := widgets.tokens_tab(self, view)) is not None:  # hover linked to the view
            tabs.append(("Tokens", tokens))
        if isinstance(self.attention, QKRecord):  # long context: one query's row over all keys
            row = widgets.RowView(self, layer=layer, head=head)
            links += [
                ipywidgets.jslink((view, "layer"), (row, "layer")),
                ipywidgets.jslink((view, "head"), (row, "head")),
            ]
            view.observe(lambda change: _follow_focus(row, change["new"]), names="focus_token")
            view.observe(lambda _: row.set_data(view.source_data), names="data_version")
            tabs.append(("Row", row))
        if len(tabs) == 1:
            return tabs[0][1]
        tab = widgets.Tabs([w for _, w in tabs], [title for title, _ in tabs], links=links)
        if tabs[1][0] == "Norms":  # a new text in the live box: the norms follow
            view.observe(lambda _: _refresh_norms(tab, view.source_data), names="data_version")
        return tab

    def positions(self) -> PositionScheme | None:
        """The model's positional scheme (learned table, rotary, T5 buckets, ALiBi), or None."""
        if self.model is None:
            return None
        from .recording.positions import PositionSchemeNotFound, extract_positions

        try:
            return extract_positions(self.model)
        except PositionSchemeNotFound:
            return None

    @property
    def stacks(self) -> dict[str, Stack]:
        """The attention stacks (``encoder``, ``decoder``, ``cross``, ``vision``, ``text``...;
        one ``attention`` stack for a decoder-only model), each with its token labels: the
        ``input_ids`` for encoder and text positions, ``decoder_input_ids`` for the decoder
        (cross attention: decoder rows x encoder columns), positions for image patches and
        for runs without ids (``note`` then says where token labels would come from).

        Example:
            >>> {name: s.record.shape for name, s in run.stacks.items()}  # doctest: +SKIP
            {'encoder': (2, 4, 8, 8), 'decoder': (2, 4, 5, 5), 'cross': (2, 4, 5, 8)}
        """
        from .stacks import DEFAULT_AXIS, label_stacks, rename_axis, split_stacks

        stacks = split_stacks(dense_record(self.attention), self.scores)
        if not self.tokens and "pixel_values" in (self.inputs or {}):
            stacks = rename_axis(stacks, DEFAULT_AXIS, "vision")  # a ViT: image patches
        labels: dict[str, list[str]] = {}
        if self.tokens:
            labels["tokens"] = self.tokens
        decoder = self.inputs.get("decoder_input_ids") if isinstance(self.inputs, dict) else None
        if decoder is not None and self.lens is not None:
            labels["decoder"] = self.lens._labels({"input_ids": decoder})
        generated_from = len(self.tokens) - len(self.generated) + 1 if self.generated else -1
        return label_stacks(
            stacks,
            labels,
            missing=self._missing_labels(),
            generated_from=generated_from,
        )

    def _missing_labels(self) -> str:
        """Where token labels would come from, for a run without ``input_ids``."""
        took = [k for k in self.inputs or {} if k not in _MASKS and not k.endswith("input_ids")]
        what = f" (the run took {', '.join(took)})" if took else ""
        return (
            f"no input_ids{what}; pass input_ids and a tokenizer (aw.wrap(model, tok)) "
            "for token labels"
        )

    def position_schemes(self) -> list[PositionScheme]:
        """Every positional table of the model (one per rotary base: Gemma 3's local and
        global layers each have one), each with ``params["layers"]``; ``[]`` when none."""
        if self.model is None:
            return []
        from .recording.positions import PositionSchemeNotFound, extract_all_positions

        try:
            return extract_all_positions(self.model)
        except PositionSchemeNotFound:
            return []

    def show(self, layer: int = 0, head: int = 0) -> None:
        """Display the explorer (Attention, Norms and Positions tabs) below the cell.

        Example:
            >>> run.show(layer=2, head=5)  # doctest: +SKIP
        """
        from IPython.display import display

        display(self.widget(layer=layer, head=head))  # type: ignore[no-untyped-call]


@dataclass
class Runs(Sequence["Run"]):
    """The runs of a batch, one per example (padding left out). ``show()`` / ``widget()`` open
    the explorer on one example with an example selector.

    ``norms`` are the norm statistics of the whole batch (padding included), when captured:
    a per-example Norms tab is not offered.
    """

    runs: list[Run]
    norms: NormRecord | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.runs)

    @overload
    def __getitem__(self, index: int) -> Run: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Run]: ...
    def __getitem__(self, index: int | slice) -> Run | Sequence[Run]:
        return self.runs[index]

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs)

    def widget(self, example: int = 0, layer: int = 0, head: int = 0) -> ipywidgets.Widget:
        """The explorer of one example, with a selector (``attnwidgets-example``) above it."""
        from .widgets.attention.batch import batch_explorer

        return batch_explorer(self.runs, example=example, layer=layer, head=head)

    def show(self, example: int = 0, layer: int = 0, head: int = 0) -> None:
        """Display the explorer with the example selector below the cell.

        Example:
            >>> lens(["The cat sat", "A dog"]).show()  # doctest: +SKIP
        """
        from IPython.display import display

        display(self.widget(example, layer, head))  # type: ignore[no-untyped-call]

    def __repr__(self) -> str:
        return f"Runs({len(self.runs)} examples: {[len(run.tokens) for run in self.runs]} tokens)"


def _follow_focus(row: Any, token: int) -> None:
    """The row view shows the query the heatmap locks (``focus_token``; -1: none, kept)."""
    if 0 <= token < row.n_queries:
        row.query = token


def dense_record(record: AttentionRecord | QKRecord) -> AttentionRecord:
    """``record`` when it is dense; a TypeError saying what to do for a Q/K record."""
    if isinstance(record, QKRecord):
        raise TypeError(
            "this run kept Q and K (attention='qk'), not dense attention: stacks, and what is "
            "built on them, need dense records. Show it with run.show() / aw.AttentionView(run) "
            "(tiles), or materialise it (short inputs): run.attention.to_attention_record()"
        )
    return record


def _refresh_norms(tab: ipywidgets.Tab, run: Any) -> None:
    """Replace the Norms tab with the norms of ``run`` (a generation step has none: kept)."""
    from .widgets import close_tree, norm_panel

    norms = getattr(run, "norms", None)
    if norms is None or not len(norms):
        return
    children = list(tab.children)
    old, children[1] = children[1], norm_panel(norms, run.tokens)
    tab.children = tuple(children)
    close_tree(old)  # its view and record are not shown anywhere else
