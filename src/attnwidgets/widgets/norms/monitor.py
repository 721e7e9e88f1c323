"""TrainingMonitorView: live norm histograms and a loss curve, with a history to scrub.

numpy + traitlets only: the torch side (``attnwidgets.monitor.TrainingMonitor``) feeds it
``summary_arrays`` of each captured forward pass and the losses. Only those small summaries
cross to the browser, as one packed binary buffer per update.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets
import numpy as np
import numpy.typing as npt
import traitlets

from ..arrays import packed_value
from ..bundles import bundle, require_bundle
from ..inputs import Text
from ..panels import Panel, Row
from .gif_export import save_gif
from .history import LossHistory, Snapshot, SnapshotHistory


class TrainingMonitorView(anywidget.AnyWidget):
    """The browser half of the training monitor.

    ``position`` is ``-1`` to follow the latest capture, or an index into the history.

    Example:
        >>> view = TrainingMonitorView()
        >>> arrays = {"hist_in": np.ones((1, 4), np.int32), "hist_out": np.ones((1, 4), np.int32),
        ...           "range": np.array([[-1.0, 1.0]]), "spread": np.ones((1, 2)),
        ...           "nonfinite": np.zeros((1, 6), np.int32)}
        >>> view.push(10, arrays, ["ln_f"]); view.add_loss(10, 2.5); view.flush()
        >>> view.snapshot["step"], view.n_history, view.n_layers
        (10, 1, 1)
    """

    _esm = bundle("training_monitor_view.js")

    layer = traitlets.Int(0).tag(sync=True)
    n_layers = traitlets.Int(0).tag(sync=True)
    layer_names = traitlets.List(Text()).tag(sync=True)
    log_counts = traitlets.Bool(True).tag(sync=True)
    snapshot = traitlets.Dict().tag(sync=True)  # packed_value: summary arrays, step, index, live
    loss = traitlets.Dict().tag(sync=True)  # packed_value: loss [n, 2] (step, value), stride
    position = traitlets.Int(-1)  # set by the history slider (kernel side); the page reads meta
    n_history = traitlets.Int(0).tag(sync=True)
    steps_seen = traitlets.Int(0).tag(sync=True)
    status = Text("waiting for the first training step").tag(sync=True)

    def __init__(self, *, history: int = 200, loss_points: int = 2000, **kwargs: Any) -> None:
        require_bundle("training_monitor_view.js")
        super().__init__(**kwargs)
        self.history = SnapshotHistory(history)
        self.losses = LossHistory(loss_points)
        self._latest: Snapshot | None = None

    def push(
        self, step: int, arrays: dict[str, npt.NDArray[Any]], layer_names: Sequence[str]
    ) -> None:
        """A new capture: keep it in the history (if on the stride) and show it when live."""
        snapshot = Snapshot(int(step), arrays, list(layer_names))
        self._latest = snapshot
        self.history.offer(snapshot)
        with self.hold_sync():
            if list(layer_names) != self.layer_names:
                self.layer_names = list(layer_names)
                self.n_layers = len(layer_names)
            self.n_history = len(self.history)
            self.steps_seen = max(self.steps_seen, int(step))
            if self.position < 0:
                self._show(snapshot, -1)

    def add_loss(self, step: int, loss: float) -> None:
        """Record one loss (sent with the next ``flush``)."""
        self.losses.add(step, loss)
        self.steps_seen = max(self.steps_seen, int(step))

    def flush(self) -> None:
        """Send the loss curve as it stands."""
        steps, values = self.losses.arrays()
        pairs = np.stack([steps, values], axis=1).reshape(-1, 2)
        self.loss = packed_value({"loss": pairs}, stride=self.losses.stride)

    def _show(self, snapshot: Snapshot, index: int) -> None:
        nonfinite = snapshot.arrays.get("nonfinite")
        problems = int(np.asarray(nonfinite).sum()) if nonfinite is not None else 0
        self.status = f"non-finite values seen at step {snapshot.step}" if problems else ""
        self.snapshot = packed_value(
            snapshot.arrays, step=snapshot.step, index=index, live=index < 0
        )

    @traitlets.observe("position")
    def _position_changed(self, change: dict[str, Any]) -> None:
        index = int(change["new"])
        if index < 0:
            if self._latest is not None:
                self._show(self._latest, -1)
            return
        if len(self.history) == 0:
            return
        index = min(index, len(self.history) - 1)
        self._show(self.history[index], index)

    def save_gif(self, path: str | Path, *, layer: int | None = None, fps: float = 10.0) -> Path:
        """Write the kept history as an animated GIF (Pillow), one frame per snapshot.

        Example:
            >>> mon.save_gif("norms.gif", layer=3)  # doctest: +SKIP
        """
        chosen = self.layer if layer is None else layer
        if self.n_layers and not 0 <= chosen < self.n_layers:
            raise IndexError(f"layer {chosen} out of range 0..{self.n_layers - 1}")
        return save_gif(list(self.history), path, layer=chosen, fps=fps)


def monitor_panel(view: TrainingMonitorView) -> ipywidgets.VBox:
    """Layer slider (linked in the browser), play button and history slider above the view.

    The history slider and play button ask the kernel for the snapshot they point at, so they
    scrub while the kernel is idle (after or between training cells); "live" follows training.

    Example:
        >>> box = monitor_panel(TrainingMonitorView())
        >>> [type(w).__name__ for w in box.children[0].children]
        ['IntSlider', 'Play', 'IntSlider', 'ToggleButton']
    """
    style = {"description_width": "56px"}
    layer = ipywidgets.IntSlider(0, min=0, max=max(0, view.n_layers - 1), description="norm")
    layer.style = style
    layer.add_class("attnwidgets-norm-slider")
    links = [ipywidgets.jslink((layer, "value"), (view, "layer"))]
    play = ipywidgets.Play(value=0, min=0, max=max(0, view.n_history - 1), interval=100)
    play.add_class("attnwidgets-play")
    history = ipywidgets.IntSlider(0, min=0, max=max(0, view.n_history - 1), description="history")
    history.style = style
    history.add_class("attnwidgets-history-slider")
    links.append(ipywidgets.jslink((play, "value"), (history, "value")))
    live = ipywidgets.ToggleButton(value=True, description="live", tooltip="follow training")
    live.add_class("attnwidgets-live")
    syncing = {"busy": False}

    def sizes(change: dict[str, Any]) -> None:
        syncing["busy"] = True
        try:
            layer.max = max(0, view.n_layers - 1)
            top = max(0, view.n_history - 1)
            history.max = play.max = top
            if view.position < 0:
                history.value = top
        finally:
            syncing["busy"] = False

    def scrub(change: dict[str, Any]) -> None:
        if not syncing["busy"]:
            live.value = False
            view.position = int(change["new"])

    def follow(change: dict[str, Any]) -> None:
        if change["new"]:
            view.position = -1
            sizes({})

    view.observe(sizes, names=["n_layers", "n_history"])
    history.observe(scrub, names="value")
    live.observe(follow, names="value")
    box = Panel([Row([layer, play, history, live]), view], links=links)
    box.add_class("attnwidgets-monitor")
    return box
