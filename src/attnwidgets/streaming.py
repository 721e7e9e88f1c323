"""What ``Lens`` checks before running a model, and generation streamed into open views.

``StepStreamer`` is a transformers streamer (``put`` / ``end``): ``generate`` hands it the
prompt, then each new token as soon as it is chosen. At that moment the capture holds the
attention of every token fed so far, so each ``put`` after the first gives one more row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from .lens import Run

StepCallback = Callable[["Run", int], None]


def max_positions(model: torch.nn.Module) -> int | None:
    """How many positions the model takes (``config.max_position_embeddings``), if it says."""
    config = getattr(model, "config", None)
    value = getattr(config, "max_position_embeddings", None)
    return value if isinstance(value, int) and value > 0 else None


def check_length(model: torch.nn.Module, inputs: dict[str, Any], new_tokens: int = 0) -> None:
    """ValueError when the input is empty, or longer than the model's positions (counting
    ``new_tokens`` still to be generated); the model is not called.

    Example:
        >>> from transformers import GPT2Config, GPT2Model
        >>> model = GPT2Model(GPT2Config(n_layer=1, n_head=1, n_embd=8, n_positions=4))
        >>> check_length(model, {"input_ids": torch.zeros(1, 6, dtype=torch.long)})
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: 6 tokens is more than GPT2Model takes: 4 positions ...
    """
    ids = inputs.get("input_ids")
    if ids is None or not hasattr(ids, "shape") or len(ids.shape) == 0:
        return
    count = int(ids.shape[-1])
    if count == 0:
        raise ValueError("no tokens to run: the text is empty (the tokenizer gave 0 tokens)")
    limit = max_positions(model)
    if limit is not None and count + new_tokens > limit:
        what = f"{count} tokens" + (f" + {new_tokens} new tokens" if new_tokens else "")
        raise ValueError(
            f"{what} is more than {type(model).__name__} takes: {limit} positions "
            "(config.max_position_embeddings); shorten the text"
            + (" or ask for fewer new tokens" if new_tokens else "")
        )


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
        from .widgets.live import follow_generation

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
        from .widgets.live import follow_generation, say_generating

        view = AttentionView(run)
        say_generating(view, step, self.total)
        display(attention_explorer(view))  # type: ignore[no-untyped-call]
        self.stream = False
        self.views.append(view)
        self.callbacks.insert(0, follow_generation(view, self.total))

    def fail(self, error: BaseException) -> None:
        """Say in every view that generation stopped with ``error``."""
        from .widgets.live import error_text

        for view in self.views:
            with view.hold_sync():
                view.live_state = "error"
                view.live_message = f"generation stopped: {error_text(error)}"

    def finish(self, run: Run) -> None:
        """Show the whole generated sequence in every view and say it is done."""
        for view in self.views:
            view.set_data(run)
            with view.hold_sync():
                view.text = run.text or view.text
                view.live_state = "idle"
                view.live_message = f"generated {len(run.generated)} new tokens"


def step_callbacks(
    view: Any, stream: bool, on_step: StepCallback | None, total: int
) -> StreamSteps:
    """Checks ``view`` (an AttentionView, or a widget holding one) before anything runs."""
    from .widgets.live import find_attention_view

    views = [] if view is None else [find_attention_view(view)]
    return StreamSteps(views, stream, on_step, total)
