"""The attack, faults: errors raised inside a capturing forward leave the model exactly as it was.

Each row raises from somewhere different: the user's hooks, the model's own modules, a
KeyboardInterrupt (which skips torch's always-call hooks), and the package's own code
(monkeypatched to fail). After each: no hook left, every config's attention implementation and
every module's training flag as before, weights bit-identical, no capture state left, and the
model computes what it computed before. (Issue 12, items 1, 3 and 7.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from _model_state import assert_restored, snapshot
from conftest import tiny_gpt2

import attnwidgets as aw
from attnwidgets.monitor import TrainingMonitor
from attnwidgets.recording import session
from attnwidgets.recording.activations import residual
from attnwidgets.recording.attention import admission
from attnwidgets.recording.attention import interface as hf_interface
from attnwidgets.recording.norms import find_norm_modules, recorder

X = torch.tensor([[4, 8, 15, 16, 23, 42, 7]])


def _raise(error: BaseException) -> Callable[..., Any]:
    def fail(*_: Any, **__: Any) -> Any:
        raise error

    return fail


def _hook(path: str, error: BaseException, *, pre: bool = False) -> Callable[..., Any]:
    def arm(model: torch.nn.Module, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
        module = model.get_submodule(path)
        register = module.register_forward_pre_hook if pre else module.register_forward_hook
        return register(_raise(error)).remove

    return arm


def _module_forward(path: str, error: BaseException) -> Callable[..., Any]:
    def arm(model: torch.nn.Module, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
        monkeypatch.setattr(model.get_submodule(path), "forward", _raise(error))
        return lambda: None

    return arm


def _package(target: Any, name: str, error: BaseException, after: int = 0) -> Callable[..., Any]:
    """``target.name`` raises ``error`` from its ``after + 1``-th call on."""

    def arm(model: torch.nn.Module, monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
        original, calls = getattr(target, name), []

        def failing(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) > after:
                raise error
            return original(*args, **kwargs)

        monkeypatch.setattr(target, name, failing)
        return lambda: None

    return arm


class _ExplodingConfig:
    """A config whose implementation cannot be read: the switch fails after the first config."""

    @property
    def _attn_implementation_internal(self) -> str:
        raise RuntimeError("config exploded")


def _second_config_explodes(model: torch.nn.Module, monkeypatch: pytest.MonkeyPatch) -> Any:
    original = hf_interface._configs
    monkeypatch.setattr(hf_interface, "_configs", lambda m: [*original(m), _ExplodingConfig()])
    return lambda: None


FAULTS: dict[str, tuple[Callable[..., Any], type[BaseException], str]] = {
    # name: (arm, raised, where in the forward)
    "user hook, block 1 attention": (
        _hook("transformer.h.1.attn", ValueError("user hook")),
        ValueError,
        "forward",
    ),
    "user pre-hook, block 0 mlp": (
        _hook("transformer.h.0.mlp", ValueError("pre-hook"), pre=True),
        ValueError,
        "forward",
    ),
    "model raises in ln_f": (
        _module_forward("transformer.ln_f", RuntimeError("ln_f")),
        RuntimeError,
        "forward",
    ),
    "token id beyond the vocabulary": (lambda m, mp: lambda: None, IndexError, "bad ids"),
    "KeyboardInterrupt in a hook, block 1 attention": (
        _hook("transformer.h.1.attn", KeyboardInterrupt()),
        KeyboardInterrupt,
        "forward",
    ),
    "KeyboardInterrupt inside the model, block 0 mlp": (
        _module_forward("transformer.h.0.mlp", KeyboardInterrupt()),
        KeyboardInterrupt,
        "forward",
    ),
    "package: the attention recompute": (
        _package(hf_interface, "attention_steps", RuntimeError("recompute")),
        RuntimeError,
        "forward",
    ),
    "package: recording the second layer": (
        _package(session.Capture, "record_attention", RuntimeError("record"), after=1),
        RuntimeError,
        "forward",
    ),
    "package: KeyboardInterrupt while recording": (
        _package(session.Capture, "record_attention", KeyboardInterrupt(), after=1),
        KeyboardInterrupt,
        "forward",
    ),
    "package: a norm hook": (
        _package(recorder, "measure", RuntimeError("norm stats"), after=2),
        RuntimeError,
        "forward",
    ),
    "package: a residual hook": (
        _package(residual.ResidualRecorder, "_keep", RuntimeError("residual"), after=3),
        RuntimeError,
        "forward",
    ),
    "package: the memory estimate": (
        _package(admission, "estimate_bytes", RuntimeError("estimate")),
        RuntimeError,
        "forward",
    ),
    "package: hooking the residual stream halfway": (
        _package(residual.ResidualRecorder, "_hook", RuntimeError("hooking"), after=2),
        RuntimeError,
        "enter",
    ),
    "package: switching the second config": (
        _second_config_explodes,
        RuntimeError,
        "enter",
    ),
    "package: summarising norms on exit": (
        _package(recorder.NormRecorder, "_finish", RuntimeError("finish")),
        RuntimeError,
        "exit",
    ),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_leaves_the_model_exactly_as_it_was(fault, monkeypatch):
    arm, raised, where = FAULTS[fault]
    model = tiny_gpt2()
    with torch.no_grad():
        reference = model(input_ids=X).logits
    before = snapshot(model)
    disarm = arm(model, monkeypatch)
    ids = torch.tensor([[1, 2, 999]]) if where == "bad ids" else X
    try:
        with (
            pytest.raises(raised),
            torch.no_grad(),
            aw.capture(model, norms=True, residual=True, scores=["masked"]),
        ):
            model(input_ids=ids)
    finally:
        disarm()
        monkeypatch.undo()
    assert_restored(model, before)
    with torch.no_grad():
        assert torch.equal(model(input_ids=X).logits, reference)
        with aw.capture(model, norms=True) as cap:  # and the next capture works
            model(input_ids=X)
    assert cap.attention.shape == (2, 4, 7, 7)
    assert len(cap.norms) == len(find_norm_modules(model))


@pytest.mark.parametrize("raised", [ValueError("hook"), KeyboardInterrupt()], ids=type)
def test_a_fault_in_a_lens_call_restores_mixed_training_flags(raised):
    model = tiny_gpt2().train()
    model.transformer.h[0].attn.eval()  # mixed flags: each must come back as it was
    before = snapshot(model)
    handle = model.transformer.h[1].register_forward_hook(_raise(raised))
    try:
        with pytest.raises(type(raised)):
            aw.wrap(model)(input_ids=X)
    finally:
        handle.remove()
    assert_restored(model, before)


def test_a_model_raising_in_a_lens_call_on_an_eval_model_is_left_in_eval():
    model = tiny_gpt2()
    before = snapshot(model)
    with pytest.raises(IndexError):
        aw.wrap(model)(input_ids=torch.tensor([[1, 2, 999]]))
    assert_restored(model, before)


class _Block(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.qkv = torch.nn.Linear(8, 24)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).view(1, x.shape[1], 3, 2, 4).permute(2, 0, 3, 1, 4)
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return x + out.transpose(1, 2).reshape(1, x.shape[1], 8)


def test_after_a_keyboard_interrupt_the_next_forward_in_the_block_is_its_own_step():
    """Always-call hooks skip KeyboardInterrupt: the interrupted forward's modules stay on the
    module stack unless a new call of the model starts a new one."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(_Block(), _Block())
    before = snapshot(model)
    interrupt = model[1].register_forward_pre_hook(_raise(KeyboardInterrupt()))
    with torch.no_grad(), aw.capture(model) as cap:
        with pytest.raises(KeyboardInterrupt):
            model(torch.randn(1, 5, 8))  # block 0 recorded, then interrupted
        interrupt.remove()
        model(torch.randn(1, 5, 8))
    assert [[name for name in step.layer_names] for step in cap.step_attentions()] == [
        ["0"],
        ["0", "1"],
    ]
    assert_restored(model, before)


def test_plain_pytorch_recording_failing_inside_the_mode_restores(monkeypatch):
    from attnwidgets.recording.attention import sdpa_mode

    model = torch.nn.Sequential(_Block(), _Block())
    before = snapshot(model)
    monkeypatch.setattr(sdpa_mode, "_sdpa_steps", _raise(RuntimeError("mode")))
    with pytest.raises(RuntimeError, match="mode"), torch.no_grad(), aw.capture(model):
        model(torch.randn(1, 5, 8))
    assert_restored(model, before)


class _Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ln1 = torch.nn.LayerNorm(8)
        self.mid = torch.nn.Linear(8, 8)
        self.ln2 = torch.nn.LayerNorm(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln2(self.mid(self.ln1(x)))


def test_monitor_after_ctrl_c_mid_forward_never_mixes_two_forwards():
    """The issue: after Ctrl-C inside a capturing forward the recorder stayed enabled, and the
    next snapshot held the interrupted forward's norms and the next one's."""
    model = _Net().train()
    before = snapshot(model)
    monitor = TrainingMonitor(model, max_updates_per_second=0.001, time_budget=None)
    interrupt = model.mid.register_forward_hook(_raise(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        model(torch.randn(2, 3, 8))  # captured (the first forward is due), ln1 only
    interrupt.remove()
    for _ in range(3):  # not due again for 1000 s: nothing is captured
        monitor.step(loss=model(torch.randn(2, 5, 8)).pow(2).mean())
    monitor.close()
    assert all(s.layer_names == ["ln1", "ln2"] for s in monitor.history)
    assert monitor.captures == 0
    assert not monitor.recorder.enabled
    assert_restored(model, before)


def test_monitor_drops_the_part_record_of_a_forward_that_raised():
    model = _Net().train()
    monitor = TrainingMonitor(model, max_updates_per_second=None, time_budget=None)
    failing = model.mid.register_forward_hook(_raise(ValueError("bad batch")))
    with pytest.raises(ValueError):
        model(torch.randn(2, 3, 8))
    failing.remove()
    monitor.step(loss=model(torch.randn(2, 5, 8)).pow(2).mean())
    monitor.close()
    assert [s.layer_names for s in monitor.history] == [["ln1", "ln2"]]
    assert monitor.history[0].arrays["hist_in"].sum(axis=1).tolist() == [2 * 5 * 8] * 2
