"""``TrainingMonitor(model)``: norm histograms and the loss, live while a training loop runs.

The torch half: hooks from ``recording.norms`` compute the summaries on the tensor's device, at
most ``max_updates_per_second`` times a second; everything else is cheap bookkeeping. The
browser half is ``widgets.training_monitor.TrainingMonitorView``.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections import deque
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import torch

from .norm_records import DEFAULTS
from .recording.norms import NormRecorder
from .recording.threads import threads_inside
from .widgets.norms.monitor import TrainingMonitorView, monitor_panel
from .widgets.norms.summary_arrays import summary_arrays

# One open monitor per model: re-running a notebook cell replaces the old hooks, not adds to them.
_open_monitors: WeakKeyDictionary[torch.nn.Module, TrainingMonitor] = WeakKeyDictionary()
LOSS_ONLY_INTERVAL = 1.0  # seconds between loss-curve updates when no capture is due


class Throttle:
    """When to capture: at most once per ``interval`` seconds, and (with a ``budget``) only when
    the steps since the last capture took ``cost / budget`` seconds, ``cost`` being what recent
    captures cost; so the monitor's share of the loop stays near ``budget`` however slow a step is.

    Example:
        >>> t = Throttle(interval=0.0, budget=0.05)
        >>> t.captured(now=0.0, cost=0.012)  # a capture that cost 12 ms
        >>> t.forward_started(0.1); t.forward_started(0.2)  # steps of 100 ms
        >>> t.due(0.2)  # 2 steps x 100 ms x 5% = 10 ms of budget: not yet
        False
        >>> t.forward_started(0.3)
        >>> t.due(0.3)  # 15 ms
        True
    """

    def __init__(self, interval: float, budget: float | None) -> None:
        self.interval = interval
        self.budget = budget
        self.step_seconds: float | None = None
        self.steps_since_capture = 0
        self.costs: deque[float] = deque(maxlen=5)
        self._last_capture = float("-inf")
        self._last_start: float | None = None

    def forward_started(self, now: float) -> None:
        if self._last_start is not None:
            seconds = now - self._last_start
            if self.step_seconds is None:
                self.step_seconds = seconds
            else:  # smoothed; a pause (another cell, evaluation) counts as 3 steps at most
                seconds = min(seconds, 3 * self.step_seconds)
                self.step_seconds = 0.8 * self.step_seconds + 0.2 * seconds
        self._last_start = now
        self.steps_since_capture += 1

    def due(self, now: float) -> bool:
        if now - self._last_capture < self.interval:
            return False
        cost = self.cost
        if self.budget is None or self.step_seconds is None or cost <= 0:
            return True
        spent = self.steps_since_capture * self.step_seconds
        return spent * self.budget >= cost

    @property
    def cost(self) -> float:
        """What a capture costs: the median of the last five (one slow one starves nothing)."""
        return statistics.median(self.costs) if self.costs else 0.0

    def captured(self, now: float, cost: float | None = None) -> None:
        self._last_capture = now
        self.steps_since_capture = 0
        if cost is not None:
            self.costs.append(cost)


class TrainingMonitor:
    """Watch a model's norms (and the loss) during training; display it once, then train.

    Each training step either calls ``mon.step(loss=loss)`` or, if ``step`` is never called,
    every forward pass in training mode counts as a step (shown when the next one starts, or at
    ``close()``). A capture happens on the first forward pass after ``1 / max_updates_per_second``
    seconds, and only once the steps since the last capture took ``cost / time_budget`` seconds
    (see ``Throttle``), so the monitor stays near ``time_budget`` of the loop's time however slow
    a step is (``None`` turns either limit off). Histograms use at most ``subsample`` elements
    per tensor. ``history`` snapshots and ``loss_points`` loss values are kept, thinned evenly
    when full. ``close()`` removes every hook and leaves the model as it was; a new monitor on
    the same model closes the previous one.

    Example:
        >>> import torch
        >>> from attnwidgets.monitor import TrainingMonitor
        >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8))
        >>> mon = TrainingMonitor(model, max_updates_per_second=None, time_budget=None)
        >>> for step in range(3):
        ...     loss = model(torch.randn(2, 4)).pow(2).mean()
        ...     mon.step(loss=loss)
        >>> mon.steps, len(mon.history), mon.view.layer_names
        (3, 3, ['1'])
        >>> mon.close()
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        max_updates_per_second: float | None = 10.0,
        bins: int = DEFAULTS.bins,
        subsample: int | None = 4096,
        history: int = 200,
        loss_points: int = 2000,
        train_only: bool = True,
        time_budget: float | None = 0.02,
    ) -> None:
        self.model = model
        previous = _open_monitors.get(model) if isinstance(model, torch.nn.Module) else None
        if previous is not None:
            previous.close()
        self.recorder = NormRecorder(model, bins=bins, subsample=subsample, details=False)
        self.recorder.enabled = False
        self.view = TrainingMonitorView(history=history, loss_points=loss_points)
        interval = 0.0 if not max_updates_per_second else 1.0 / max_updates_per_second
        self.throttle = Throttle(interval, time_budget)
        self.seconds = 0.0  # spent by the monitor inside the loop: summarising and publishing
        self.train_only = train_only
        self.steps = 0
        self.captures = 0
        self._manual_steps = False
        self._unstepped = False
        self._last_publish = float("-inf")
        self._capture_started = 0.0
        self._captured: Any = None
        self._losses: list[tuple[int, Any]] = []
        self._panel: Any = None
        self._stack = ExitStack()
        self._stack.enter_context(self.recorder.hooked())
        self._stack.callback(model.register_forward_pre_hook(self._before_forward).remove)
        after = model.register_forward_hook(self._after_forward, always_call=True)
        self._stack.callback(after.remove)
        counted = model.register_forward_hook(self._after_any_forward)
        self._stack.callback(counted.remove)
        _open_monitors[model] = self

    @property
    def history(self) -> Any:
        """The kept snapshots (``widgets.history.SnapshotHistory``)."""
        return self.view.history

    def _before_forward(self, module: torch.nn.Module, args: Any) -> None:
        me = threading.get_ident()
        if self.recorder.enabled and self._abandoned(me):
            self.recorder.enabled = False  # what an interrupted forward recorded is no snapshot
            self.recorder.clear()
        if self._unstepped:  # the previous forward had no step(): it was a step by itself
            self._auto_step()
        if self.train_only and not module.training:
            return
        now = time.perf_counter()
        self.throttle.forward_started(now)
        if self._captured is None and not self.recorder.enabled and self.throttle.due(now):
            self.throttle.captured(now)
            self._capture_started = self.recorder.seconds
            self.recorder.clear()
            self.recorder.thread = me  # the norm hooks record this forward's thread only
            self.recorder.enabled = True

    def _abandoned(self, me: int) -> bool:
        """Whether the recording forward will never reach ``_after_forward``: a KeyboardInterrupt
        (which skips always-call hooks) ended it, on this thread or on one no longer inside the
        model. A forward still running on another thread is left to finish."""
        return self.recorder.thread == me or self.recorder.thread not in threads_inside(self.model)

    def _after_forward(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        if not self.recorder.enabled or self.recorder.thread != threading.get_ident():
            return
        self.recorder.enabled = False
        if output is None and sys.exc_info()[0] is not None:  # it raised: a part-record only
            self.recorder.clear()
            return
        if self.recorder.layers:
            self._captured = self.recorder.record

    def _after_any_forward(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        if not self._manual_steps and (module.training or not self.train_only):
            self._unstepped = True

    def _auto_step(self) -> None:
        self._unstepped = False
        self.steps += 1
        if self._captured is not None:
            self._publish()

    def step(self, loss: Any = None) -> None:
        """Mark the end of a training step; ``loss`` (tensor or float) joins the curve.

        Never waits on the device: loss tensors are kept as they are and read at most
        ``max_updates_per_second`` times a second, together.
        """
        self._manual_steps = True
        self._unstepped = False
        self.steps += 1
        if loss is not None:
            kept = loss.detach() if isinstance(loss, torch.Tensor) else float(loss)
            self._losses.append((self.steps, kept))
        loss_due = time.perf_counter() - self._last_publish >= LOSS_ONLY_INTERVAL
        if self._captured is not None or (self._losses and loss_due):
            self._publish()

    def _publish(self) -> None:
        start = self._last_publish = time.perf_counter()
        with_capture = self._captured is not None
        try:
            self._send()
        finally:
            seconds = time.perf_counter() - start
            if with_capture:
                summarising = self.recorder.seconds - self._capture_started
                self.throttle.costs.append(summarising + seconds)
                self.seconds += summarising
            self.seconds += seconds

    def _send(self) -> None:
        if self._losses:
            steps = [s for s, _ in self._losses]
            values = [
                v if isinstance(v, torch.Tensor) else torch.tensor(v) for _, v in self._losses
            ]
            for step, value in zip(steps, torch.stack(values).float().cpu().tolist(), strict=True):
                self.view.add_loss(step, value)
            self._losses = []
        with self.view.hold_sync():
            if self._captured is not None:
                record, self._captured = self._captured, None
                self.captures += 1
                self.view.push(self.steps, summary_arrays(record), record.layer_names)
            self.view.flush()

    def widget(self) -> Any:
        """The monitor with its layer slider, play button and history slider (one per monitor)."""
        if self._panel is None:
            self._panel = monitor_panel(self.view)
        return self._panel

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget()._repr_mimebundle_(**kwargs)

    def save_gif(self, path: str | Path, *, layer: int | None = None, fps: float = 10.0) -> Path:
        """The history as an animated GIF (needs Pillow).

        Example:
            >>> mon.save_gif("norms.gif", layer=2)  # doctest: +SKIP
        """
        return self.view.save_gif(path, layer=layer, fps=fps)

    def close(self) -> None:
        """Remove every hook (safe to call twice); the widget keeps what it has."""
        self._publish_pending()
        self._stack.close()
        if _open_monitors.get(self.model) is self:
            del _open_monitors[self.model]

    def _publish_pending(self) -> None:
        if self._unstepped:
            self._auto_step()
        if self._captured is not None or self._losses:
            self._publish()

    def __enter__(self) -> TrainingMonitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
