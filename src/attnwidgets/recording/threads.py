"""Running a shared model in eval mode while another thread may be training it.

In JupyterLab with ipykernel 7 a widget's handler (the live text box) runs on a kernel subshell
thread while a cell may be running the same model on the main thread. ``model.eval()`` is not
per thread: flipping it under a training loop makes the loop's steps run in eval mode, and two
overlapping flips can leave the model in eval for good.

``eval_mode(model)`` switches a model to eval only when no other thread is running it, and
keeps it that way only while no other thread could see it:

- while the model is held in eval, a pre-hook on every module (first in line) stops any other
  thread at its next module call until the mode is restored, so another thread never runs a
  module in eval mode;
- before switching, it waits (up to ``wait`` seconds) until every other thread inside the model
  is stopped at such a hook or has left (found from the threads' stacks, so a forward that
  began before the hooks existed counts too); if one is still running then, the model is
  not switched and the caller is told why;
- holds are counted: the first holder saves every module's ``training`` flag, the last one to
  leave restores them, in any order.

A model already in eval mode is run as it is, with no hooks and no waiting.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import torch
from torch.utils.hooks import RemovableHandle

_CALL_CODES = frozenset(
    code
    for code in (
        getattr(torch.nn.Module._call_impl, "__code__", None),
        getattr(torch.nn.Module._wrapped_call_impl, "__code__", None),
    )
    if code is not None
)
_condition = threading.Condition()
_holds: dict[int, _Hold] = {}  # id(model) -> its hold, only while someone holds or waits
POLL_SECONDS = 0.005
"""How often a waiting holder looks again at the other threads' stacks."""

BUSY_NOTE = (
    "ran in training mode (dropout on): another thread was running the model, so it was not "
    "switched to eval"
)


def threads_inside(model: torch.nn.Module) -> set[int]:
    """Idents of the other threads now inside a call of ``model`` or one of its modules.

    Read from the threads' stacks, so it needs no hooks installed beforehand.

    Example:
        >>> threads_inside(torch.nn.Linear(2, 2))
        set()
    """
    ids = {id(module) for module in model.modules()}
    me = threading.get_ident()
    found = set()
    for ident, top in sys._current_frames().items():
        frame: FrameType | None = top
        while frame is not None and ident != me:
            if frame.f_code in _CALL_CODES and id(frame.f_locals.get("self")) in ids:
                found.add(ident)
                break
            frame = frame.f_back
    return found


class _Hold:
    """One model's eval hold: who holds it, who is stopped at its hooks, the saved flags."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.holders: Counter[int] = Counter()  # threads holding or claiming the switch
        self.switched = False
        self.stopped: set[int] = set()  # other threads waiting at a hook
        self.users = 0  # holders and threads still trying: the hooks stay while > 0
        self.flags: list[tuple[torch.nn.Module, bool]] = []
        self.handles: list[RemovableHandle] = [
            module.register_forward_pre_hook(self._stop_others, prepend=True)
            for module in model.modules()
        ]

    def _stop_others(self, module: torch.nn.Module, args: Any) -> None:
        if not self.holders:  # the usual case: one attribute read
            return
        me = threading.get_ident()
        if me in self.holders:
            return
        with _condition:
            self.stopped.add(me)
            _condition.notify_all()
            try:
                while self.holders and me not in self.holders:
                    _condition.wait()
            finally:
                self.stopped.discard(me)

    def running_others(self, model: torch.nn.Module) -> set[int]:
        """Threads inside the model that are neither holders nor stopped at a hook."""
        return threads_inside(model) - self.stopped - set(self.holders)

    def release(self, me: int) -> None:
        """Called with ``_condition`` held: ``me`` holds no more; the last holder restores."""
        self.holders[me] -= 1
        if self.holders[me] <= 0:
            del self.holders[me]
        if not self.holders:
            if self.switched:
                for module, training in self.flags:
                    module.training = training
                self.flags, self.switched = [], False
            _condition.notify_all()  # the stopped threads go on, in their own mode

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []


@contextmanager
def eval_mode(model: torch.nn.Module, wait: float = 2.0) -> Iterator[str | None]:
    """Run the block with ``model`` in eval mode, unless another thread is running it.

    Yields None when the model is in eval mode in the block (already, or switched), or a note
    saying why it was left in training mode (another thread kept running it for ``wait``
    seconds). Every module's ``training`` flag is as before once the last holder leaves.

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout()).train()
        >>> with eval_mode(model) as note:
        ...     note, model.training, model[1].training
        (None, False, False)
        >>> model.training, model[1].training
        (True, True)
    """
    me = threading.get_ident()
    with _condition:
        hold = _holds.get(id(model))
        if hold is None and any(module.training for module in model.modules()):
            hold = _holds[id(model)] = _Hold(model)
        if hold is not None:
            hold.users += 1
    if hold is None:  # already in eval mode and nobody switching it: nothing to do
        yield None
        return
    held = False
    try:
        held = _take(model, hold, me, wait)
        yield None if held else BUSY_NOTE
    finally:
        with _condition:
            if held:
                hold.release(me)
            hold.users -= 1
            if hold.users == 0:
                hold.remove()
                del _holds[id(model)]


def _take(model: torch.nn.Module, hold: _Hold, me: int, wait: float) -> bool:
    """Claim the hold (other threads then stop at their next module call) and switch the model
    to eval once no other thread runs inside it; False (claim dropped) after ``wait`` s."""
    deadline = time.monotonic() + wait
    with _condition:
        hold.holders[me] += 1
        while not hold.switched:
            if not hold.running_others(model):
                hold.flags = [(module, module.training) for module in model.modules()]
                model.eval()
                hold.switched = True
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                hold.release(me)
                return False
            _condition.wait(min(remaining, POLL_SECONDS))
    return True
