"""The live text box of an AttentionView: run the model again on new text, or generate.

The view only knows a *source*: an object that is called with text and returns a Run-like
object (``.attention``, ``.tokens``, ``.scores``, ``.text``) and, when it can generate, has
``generate(text, max_new_tokens=..., on_step=...)``. ``attnwidgets.Lens`` is one; this module
never imports torch. Errors are shown in the view (``live_state="error"``, ``live_message``)
and the data shown stays as it was.

Messages (JS -> Python): ``{"type": "run_text", "text"}`` and
``{"type": "generate", "text", "max_new_tokens"}``. Answers come as traits (``text``,
``live_state``, ``live_message``, and the data traits through ``AttentionView.set_data``).
A run's ``notes`` (how it differs from a plain eval forward) follow the token count in
``live_message``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .view_stacks import StackedData


class LiveView(Protocol):
    """What the live box needs of its view (``AttentionView``)."""

    can_generate: bool
    max_new_tokens: int
    live_answered: int
    source_data: Any

    @property
    def stacked_data(self) -> StackedData: ...
    def set_data(self, data: Any) -> None: ...
    def set_status(self, state: str, message: str, text: str | None = None) -> None: ...
    def show_run(self, run: Any, message: str, text: str | None = None) -> None: ...
    def show_generating(self, step: int, total: int) -> None: ...


MAX_NEW_TOKENS = 1000


def live_source(data: Any) -> Any:
    """The lens behind a Run when it has a tokenizer (text can be re-run), else None.

    Example:
        >>> live_source(object()) is None
        True
    """
    lens = getattr(data, "lens", None)
    if lens is None or getattr(lens, "tokenizer", None) is None or not callable(lens):
        return None
    return lens


def live_traits(source: Any, data: Any) -> dict[str, Any]:
    """Initial values of the live traits for a view of ``data`` re-run through ``source``."""
    if source is None:
        return {"live": False}
    can_generate = getattr(source, "can_generate", None)
    text = getattr(data, "text", None)
    return {
        "live": True,
        "can_generate": bool(can_generate()) if callable(can_generate) else False,
        "text": text if isinstance(text, str) else "",
    }


def error_text(error: BaseException) -> str:
    """One line for the view: the exception's class and message."""
    message = str(error).strip() or "no message"
    return f"{type(error).__name__}: {message}"


def follow_generation(view: LiveView, total: int) -> Callable[[Any, int], None]:
    """An ``on_step(run, step)`` callback that shows each generation step in ``view``: the
    attention of the tokens fed so far, and the progress in ``live_message``."""

    def on_step(run: Any, step: int) -> None:
        view.set_data(run)
        view.show_generating(step, total)

    return on_step


class LiveRunner:
    """Handles the text box of one view (``view._live``)."""

    def __init__(self, view: LiveView, source: Any) -> None:
        self.view = view
        self.source = source

    def handle(self, content: dict[str, Any]) -> None:
        """Answer a ``run_text`` / ``generate`` message; ``live_answered`` then says done."""
        try:
            if content.get("type") == "run_text":
                self.run_text(content.get("text"))
            else:
                self.generate(content.get("text"), content.get("max_new_tokens"))
        finally:
            request = content.get("id")  # a count JS can go on from (exact below 2**53)
            if isinstance(request, int) and not isinstance(request, bool) and 0 < request < 2**53:
                self.view.live_answered = max(self.view.live_answered, request)

    def _check_text(self, text: Any) -> str | None:
        if not isinstance(text, str):
            self._fail(f"the text must be a string, got {type(text).__name__}")
            return None
        if not text.strip():
            self._fail("the text is empty: type some text, then press Enter")
            return None
        return text

    def _fail(self, message: str) -> None:
        self.view.set_status("error", f"{message} (the view still shows the previous run)")

    def run_text(self, text: Any) -> None:
        """Run the model on ``text`` through the source and show the new run in place."""
        checked = self._check_text(text)
        if checked is None:
            return
        self.view.set_status("running", "running the model…")
        try:
            run = self.source(checked)
        except Exception as error:
            self._fail(error_text(error))
            return
        count = len(getattr(run, "tokens", []) or [])
        self.view.show_run(run, f"{count} tokens", text=checked)

    def generate(self, text: Any, max_new_tokens: Any) -> None:
        """Generate from ``text``, showing each step as it comes, then the whole sequence."""
        checked = self._check_text(text)
        if checked is None:
            return
        if not self.view.can_generate:
            self._fail("this model cannot generate (it has no language-model head)")
            return
        if (
            isinstance(max_new_tokens, bool)
            or not isinstance(max_new_tokens, int)
            or not 1 <= max_new_tokens <= MAX_NEW_TOKENS
        ):
            self._fail(f"new tokens must be a whole number in 1..{MAX_NEW_TOKENS}")
            return
        self.view.max_new_tokens = max_new_tokens
        self.view.show_generating(0, max_new_tokens)
        previous, previous_source = self.view.stacked_data, self.view.source_data
        on_step = follow_generation(self.view, max_new_tokens)
        try:
            run = self.source.generate(checked, max_new_tokens=max_new_tokens, on_step=on_step)
        except Exception as error:
            if self.view.stacked_data is not previous:  # steps were shown: back to the previous run
                self.view.set_data(previous)
                self.view.source_data = previous_source
            self._fail(error_text(error))
            return
        produced = getattr(run, "generated", None)
        count = len(produced) if produced is not None else max_new_tokens
        self.view.show_run(run, f"generated {count} new tokens", text=checked)
