"""Generation streamed into open views.

``StepStreamer`` is a transformers streamer (``put`` / ``end``): ``generate`` hands it the
prompt, then each new token as soon as it is chosen. At that moment the capture holds the
attention of every token fed so far, so each ``put`` after the first gives one more row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from .run import Run

StepCallback = Callable[["Run", int], None]


class StepStreamer:
    """Calls ``on_token(sequence)`` with the ids so far ``[1, n]`` for every new token (the
    first ``put`` is the prompt: it only starts the sequence).

    Example:
        >>> seen = []
        >>> streamer = StepStreamer(lambda ids: seen.append(ids.tolist()))
        >>> streamer.put(torch.tensor([[5, 6]])); streamer.put(torch.tensor([7])); streamer.end()
        >>> seen
        [[[5, 6, 7]]]
    """

    def __init__(self, on_token: Callable[[torch.Tensor], None]) -> None:
        self.on_token = on_token
        self.sequence: torch.Tensor | None = None

    def put(self, value: torch.Tensor) -> None:
        ids = value.reshape(1, -1).to("cpu", torch.long)
        if self.sequence is None:
            self.sequence = ids
            return
        self.sequence = torch.cat([self.sequence, ids], dim=1)
        self.on_token(self.sequence)

    def end(self) -> None:
        """Nothing to flush: every step was handed over in ``put``."""


class StreamSteps:
    """The callbacks run after each generated token, and the final update of the views."""

    def __init__(self, views: list[Any], stream: bool, on_step: StepCallback | None, total: int):
        from .widgets.attention.live import follow_generation

        self.views = views
        self.total = total
        self.stream = stream
        self.callbacks: list[StepCallback] = [follow_generation(v, total) for v in views]
        if on_step is not None:
            self.callbacks.append(on_step)

    def __bool__(self) -> bool:
        return bool(self.callbacks) or self.stream

    def __call__(self, run: Run, step: int) -> None:
        for callback in self.callbacks:
            callback(run, step)
        if self.stream:  # the first step opens a new explorer below the cell
            self._open(run, step)

    def _open(self, run: Run, step: int) -> None:
        from IPython.display import display

        from .widgets import AttentionView, attention_explorer
        from .widgets.attention.live import follow_generation

        view = AttentionView(run)
        view.show_generating(step, self.total)
        display(attention_explorer(view))  # type: ignore[no-untyped-call]
        self.stream = False
        self.views.append(view)
        self.callbacks.insert(0, follow_generation(view, self.total))

    def fail(self, error: BaseException) -> None:
        """Say in every view that generation stopped with ``error``."""
        for view in self.views:
            view.show_error(error, "generation stopped")

    def finish(self, run: Run) -> None:
        """Show the whole generated sequence in every view and say it is done."""
        for view in self.views:
            view.show_run(run, f"generated {len(run.generated)} new tokens", text=view.text)


def step_callbacks(
    view: Any, stream: bool, on_step: StepCallback | None, total: int
) -> StreamSteps:
    """Checks ``view`` (an AttentionView, or a widget holding one) before anything runs."""
    from .widgets.attention import find_attention_view

    views = [] if view is None else [find_attention_view(view)]
    return StreamSteps(views, stream, on_step, total)
