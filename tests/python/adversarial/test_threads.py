"""The attack, threads: another thread runs (or trains) the same model while we capture.

In JupyterLab 4.6 with ipykernel 7 the live text box's handler runs on a subshell thread while a
cell runs the model on the main thread. Interleavings are forced with hooks and events, so each
test fails on code that leaks between threads, not by chance. (Issue 12, item 1.)
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _model_state import assert_restored, snapshot
from conftest import tiny_gpt2, tiny_llama_gqa

import attnwidgets as aw
from attnwidgets.monitor import TrainingMonitor
from attnwidgets.recording.norms import find_norm_modules

X = torch.tensor([[4, 8, 15, 16, 23, 42, 7]])
Y = torch.randint(1, 64, (1, 40), generator=torch.Generator().manual_seed(0))
GPT2_LAYERS = ["transformer.h.0.attn", "transformer.h.1.attn"]


def _in_thread(target: Callable[[], Any]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


def _once_inside(module: torch.nn.Module, action: Callable[[], None]) -> None:
    """Run ``action`` once, on the main thread, while the model is inside ``module``."""
    main, done = threading.get_ident(), []

    def hook(*_: Any) -> None:
        if threading.get_ident() == main and not done:
            done.append(True)
            action()

    handle = module.register_forward_hook(hook)
    module._attack_handle = handle  # type: ignore[assignment]


def _remove_attack(module: torch.nn.Module) -> None:
    module._attack_handle.remove()  # type: ignore[attr-defined]
    del module._attack_handle


def test_the_issue_repro_norms_of_another_threads_forwards_do_not_leak():
    model = tiny_gpt2()
    norms = len(find_norm_modules(model))
    with torch.no_grad():
        reference = model(input_ids=X).logits
        with aw.capture(model, norms=True) as alone:
            model(input_ids=X)

    def loop() -> None:
        with torch.no_grad():
            for _ in range(50):
                model(input_ids=Y)

    thread, errors = _in_thread(loop)
    captures = 0
    while thread.is_alive() or captures < 3:
        with torch.no_grad(), aw.capture(model, norms=True, residual=True) as cap:
            logits = model(input_ids=X).logits
        captures += 1
        assert len(cap.norms) == norms
        assert [layer.shape for layer in cap.norms] == [(1, 7, 32)] * norms
        assert cap.layer_names == GPT2_LAYERS
        assert cap["blocks.1.hook_resid_post"].shape == (1, 7, 32)
        np.testing.assert_array_equal(cap.attention.to_numpy(), alone.attention.to_numpy())
        assert torch.equal(logits, reference)
    thread.join()
    assert not errors
    assert model.config._attn_implementation == "sdpa"


def test_a_whole_forward_of_another_thread_inside_ours_leaves_no_trace():
    """Forced interleaving: the other thread runs a full forward while ours is inside block 0."""
    model = tiny_gpt2()
    norms = len(find_norm_modules(model))
    other_outputs: list[torch.Tensor] = []

    def other() -> None:
        with torch.no_grad():
            other_outputs.append(model(input_ids=Y).logits)

    def run_other() -> None:
        thread, errors = _in_thread(other)
        thread.join()
        assert not errors

    _once_inside(model.transformer.h[0], run_other)
    try:
        with torch.no_grad(), aw.capture(model, norms=True, residual=True, scores=True) as cap:
            model(input_ids=X)
    finally:
        _remove_attack(model.transformer.h[0])
    assert len(other_outputs) == 1
    assert len(cap.norms) == norms
    assert all(layer.shape == (1, 7, 32) for layer in cap.norms)
    assert cap.layer_names == GPT2_LAYERS
    assert cap.attention.shape == (2, 4, 7, 7)
    assert sorted({t.shape[1] for t in cap.residual.tensors.values()}) == [7]
    with torch.no_grad():
        assert torch.equal(other_outputs[0], model(input_ids=Y).logits)


class _Block(torch.nn.Module):
    """nanoGPT-style attention: calls sdpa itself, so its name comes from the module stack."""

    def __init__(self) -> None:
        super().__init__()
        self.qkv = torch.nn.Linear(8, 24)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).view(1, x.shape[1], 3, 2, 4).permute(2, 0, 3, 1, 4)
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return x + out.transpose(1, 2).reshape(1, x.shape[1], 8)


def test_a_layer_is_never_named_after_a_module_another_thread_is_in():
    torch.manual_seed(0)
    model = torch.nn.Sequential(_Block(), _Block())
    parked, release = threading.Event(), threading.Event()

    def park(*_: Any) -> None:
        if threading.current_thread() is not threading.main_thread():
            parked.set()
            release.wait(10)  # the other thread stays inside block 1

    def start_other() -> None:  # in our block 0, before its sdpa call
        thread, errors = _in_thread(lambda: model(torch.randn(1, 5, 8)))
        started.append((thread, errors))
        assert parked.wait(10)

    started: list[Any] = []
    handle = model[1].qkv.register_forward_pre_hook(park)
    main = threading.get_ident()
    first = model[0].qkv.register_forward_pre_hook(
        lambda *_: start_other() if threading.get_ident() == main and not started else None
    )
    try:
        with torch.no_grad(), aw.capture(model) as cap:
            model(torch.randn(1, 6, 8))
    finally:
        release.set()
        handle.remove()
        first.remove()
    thread, errors = started[0]
    thread.join(10)
    assert not errors
    assert cap.layer_names == ["0", "1"]
    assert len(cap.step_attentions()) == 1  # one forward: the other thread's is not a step


@pytest.mark.parametrize("eager", [False, True], ids=["sdpa", "eager"])
def test_another_threads_outputs_equal_a_plain_forward_while_we_capture(eager):
    model = tiny_llama_gqa() if eager else tiny_gpt2()
    if eager:
        model.set_attn_implementation("eager")
    with torch.no_grad():
        expected = model(input_ids=Y).logits
    seen: list[torch.Tensor] = []

    def loop() -> None:
        with torch.no_grad():
            for _ in range(50):
                seen.append(model(input_ids=Y).logits)

    thread, errors = _in_thread(loop)
    while thread.is_alive():
        with torch.no_grad(), aw.capture(model, scores=True):
            model(input_ids=X)
    thread.join()
    assert not errors and len(seen) == 50
    for logits in seen:
        assert torch.equal(logits, expected)
    assert model.config._attn_implementation == ("eager" if eager else "sdpa")


def test_captures_left_out_of_order_restore_the_implementation():
    model = tiny_gpt2()
    before = snapshot(model)
    a, b = aw.capture(model), aw.capture(model)
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)
    with torch.no_grad():
        model(input_ids=X)  # b still records through the interface
    b_cap = b.__exit__(None, None, None)
    assert b_cap is False
    assert model.config._attn_implementation == "sdpa"
    assert_restored(model, before)


def test_a_capture_on_another_thread_leaving_first_does_not_switch_ours_back():
    model = tiny_gpt2()
    before = snapshot(model)
    entered, leave, left = threading.Event(), threading.Event(), threading.Event()

    def other() -> None:
        with aw.capture(model):
            entered.set()
            leave.wait(10)
        left.set()

    thread, errors = _in_thread(other)
    assert entered.wait(10)
    with torch.no_grad(), aw.capture(model) as cap:  # entered second
        leave.set()
        assert left.wait(10)  # ... and the other left first
        model(input_ids=X)
        assert model.config._attn_implementation == "attnwidgets_sdpa"
    thread.join()
    assert not errors
    assert cap.layer_names == GPT2_LAYERS
    assert [call.source for call in cap.calls] == ["interface", "interface"]
    assert_restored(model, before)


# -- the lens flips eval mode: never under another thread's training step ------------------------


def _record_training(module: torch.nn.Module) -> tuple[dict[int, list[bool]], Any]:
    seen: dict[int, list[bool]] = {}

    def hook(mod: torch.nn.Module, *_: Any) -> None:
        seen.setdefault(threading.get_ident(), []).append(mod.training)

    return seen, module.register_forward_hook(hook)


def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def test_a_thread_that_starts_a_step_while_the_lens_holds_eval_runs_it_in_training_mode():
    model = tiny_gpt2().train()
    before = snapshot(model)
    lens = aw.wrap(model)
    seen, probe = _record_training(model.transformer.h[1].mlp)
    start, finished = threading.Event(), threading.Event()

    def step() -> None:
        start.wait(10)
        model(input_ids=Y).logits.sum().backward()
        finished.set()

    thread, errors = _in_thread(step)

    def start_other_step() -> None:  # inside the lens's forward, on the main thread
        start.set()
        finished.wait(0.5)  # old code: the step ran in eval; now it waits for the lens

    _once_inside(model.transformer.h[0], start_other_step)
    try:
        run = lens(input_ids=X)
        thread.join(10)
    finally:
        _remove_attack(model.transformer.h[0])
        probe.remove()
    assert not errors and finished.is_set()
    assert run.notes == []
    assert seen[threading.get_ident()] == [False]  # the lens ran in eval mode
    assert seen[thread.ident] == [True]  # the other thread's step in training mode
    model.zero_grad(set_to_none=True)
    assert_restored(model, before)


def test_the_lens_does_not_flip_a_model_another_thread_is_inside_and_says_so():
    model = tiny_gpt2().train()
    before = snapshot(model)
    lens = aw.wrap(model)
    lens.busy_wait = 0.2
    seen, probe = _record_training(model.transformer.h[1].mlp)
    inside, go = threading.Event(), threading.Event()

    def park(*_: Any) -> None:
        if threading.current_thread() is not threading.main_thread():
            inside.set()
            go.wait(10)  # mid-step, in the model's own code (not at a module call)

    parked = model.transformer.h[1].register_forward_pre_hook(park)

    def step() -> None:
        with torch.no_grad():
            model(input_ids=Y)

    thread, errors = _in_thread(step)
    assert inside.wait(10)
    _once_inside(model.transformer.h[0], go.set)  # the other thread goes on during the lens
    try:
        run = lens(input_ids=X)
        thread.join(10)
    finally:
        _remove_attack(model.transformer.h[0])
        parked.remove()
        probe.remove()
    assert not errors, errors
    assert seen[thread.ident] == [True]
    assert seen[threading.get_ident()] == [True]  # not switched: it ran in training mode
    assert len(run.notes) == 1 and "training mode" in run.notes[0]
    assert run.attention.shape == (2, 4, 7, 7)
    assert_restored(model, before)


def test_a_training_loop_keeps_training_mode_while_the_live_box_runs_the_lens():
    """The issue's observation: the loop's steps ran in eval mode, and the model was left so."""
    torch.manual_seed(0)
    model = tiny_gpt2().train()
    model.transformer.h[1].mlp.dropout.eval()  # mixed flags must come back exactly
    before = snapshot(model)
    seen, probe = _record_training(model.transformer.h[0].mlp)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    lens = aw.wrap(model)

    def train() -> None:
        for _ in range(50):
            loss = model(input_ids=Y, labels=Y).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    thread, errors = _in_thread(train)
    runs = []
    while thread.is_alive():
        runs.append(lens(input_ids=X))
    thread.join()
    probe.remove()
    assert not errors
    assert seen[thread.ident] == [True] * 50
    assert all(run.attention.shape == (2, 4, 7, 7) for run in runs)
    assert_restored(model, before)


def test_two_lenses_leaving_out_of_order_restore_training_mode():
    model = tiny_gpt2().train()
    before = snapshot(model)
    first, second = aw.wrap(model), aw.wrap(model)
    inside, leave = threading.Event(), threading.Event()
    results: list[Any] = []

    def park(*_: Any) -> None:
        if threading.current_thread() is not threading.main_thread():
            inside.set()
            leave.wait(10)

    parked = model.transformer.h[1].register_forward_pre_hook(park)

    def other_lens() -> None:
        results.append(second(input_ids=Y))

    def start_second() -> None:
        thread, errors = _in_thread(other_lens)
        threads.append((thread, errors))
        assert inside.wait(10)  # the second lens is inside its forward, and stays there

    threads: list[Any] = []
    _once_inside(model.transformer.h[0], start_second)
    try:
        run = first(input_ids=X)  # leaves first
        assert not model.training  # the second lens still holds eval
        leave.set()
        threads[0][0].join(10)
    finally:
        _remove_attack(model.transformer.h[0])
        parked.remove()
    assert not threads[0][1]
    assert run.notes == [] and results[0].notes == []
    assert_restored(model, before)


# -- the training monitor: one forward per snapshot, whatever the other threads do --------------


def test_the_monitor_snapshot_holds_only_the_training_threads_norm_calls():
    model = tiny_gpt2().train()
    norms = [path for path, _, _ in find_norm_modules(model)]
    monitor = TrainingMonitor(model, max_updates_per_second=None, time_budget=None)

    def other_forward() -> None:  # e.g. an evaluation on another thread, mid-step
        def forward() -> None:
            with torch.no_grad():
                model(input_ids=Y)

        thread, errors = _in_thread(forward)
        thread.join(10)
        assert not errors

    _once_inside(model.transformer.h[0], other_forward)
    try:
        loss = model(input_ids=X, labels=X).loss
        monitor.step(loss=loss)
    finally:
        _remove_attack(model.transformer.h[0])
        monitor.close()
    assert monitor.captures == 1
    [snapshot] = list(monitor.history)
    assert snapshot.layer_names == norms
    assert snapshot.arrays["hist_in"].sum(axis=1).tolist() == [7 * 32] * len(norms)  # X, not Y
    assert model.training


def test_threads_inside_sees_a_forward_that_began_before_anyone_looked():
    from attnwidgets.recording.threads import threads_inside

    model = tiny_gpt2()
    inside, go = threading.Event(), threading.Event()

    def park(*_: Any) -> None:
        inside.set()
        go.wait(10)

    handle = model.transformer.h[1].attn.register_forward_pre_hook(park)
    thread, errors = _in_thread(lambda: model(input_ids=X))
    try:
        assert inside.wait(10)
        assert threads_inside(model) == {thread.ident}
        assert threads_inside(model.transformer.h[1]) == {thread.ident}
        assert threads_inside(model.transformer.h[0]) == set()
    finally:
        go.set()
        thread.join(10)
        handle.remove()
    assert not errors
    assert _wait_for(lambda: not threads_inside(model), 5)


def test_the_live_box_says_when_the_lens_ran_in_training_mode():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tiny_lm import char_gpt2, char_tokenizer

    from attnwidgets.widgets.attention.live import LiveRunner

    model = char_gpt2().train()
    lens = aw.wrap(model, char_tokenizer())
    lens.busy_wait = 0.1
    view = aw.AttentionView(lens("the cat"))
    inside, go = threading.Event(), threading.Event()

    def park(*_: Any) -> None:
        if threading.current_thread() is not threading.main_thread():
            inside.set()
            go.wait(10)

    parked = model.transformer.h[1].register_forward_pre_hook(park)
    thread, errors = _in_thread(lambda: model(input_ids=Y))  # a training step, mid-forward
    try:
        assert inside.wait(10)
        LiveRunner(view, lens).run_text("dogs")
    finally:
        go.set()
        thread.join(10)
        parked.remove()
    assert not errors
    assert view.live_state == "idle" and view.text == "dogs"
    assert view.live_message.startswith("4 tokens; ran in training mode (dropout on)")
    LiveRunner(view, lens).run_text("cats")  # nobody else in the model: switched to eval
    assert view.live_message == "4 tokens"
    assert model.training
