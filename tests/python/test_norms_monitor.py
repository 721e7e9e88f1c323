"""TrainingMonitor: throttled captures, loss curve, bounded history, scrubbing, GIF, cleanup."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import attnwidgets.monitor as monitor_module
from attnwidgets.monitor import Throttle, TrainingMonitor
from attnwidgets.recording.norms import NoNormModulesError
from attnwidgets.widgets.arrays import read_packed
from attnwidgets.widgets.norms.history import LossHistory, SnapshotHistory
from attnwidgets.widgets.norms.monitor import monitor_panel


class TinyNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Linear(4, 16)
        self.ln1 = torch.nn.LayerNorm(16)
        self.mid = torch.nn.Linear(16, 16)
        self.ln2 = torch.nn.RMSNorm(16)
        self.head = torch.nn.Linear(16, 1)
        self.poison = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x)
        if self.poison:
            h = h.clone()
            h[0, 0, 0] = float("nan")
            h[0, 1, 1] = float("inf")
        return self.head(self.ln2(self.mid(self.ln1(h))))


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(monitor_module.time, "perf_counter", fake)
    return fake


def train(model: TinyNet, mon: TrainingMonitor, steps: int, clock: FakeClock | None = None):
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01)
    losses = []
    for _ in range(steps):
        loss = model(torch.randn(3, 5, 4)).pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        mon.step(loss=loss)
        losses.append(loss.item())
        if clock is not None:
            clock.now += 0.25
    return losses


def test_captures_are_throttled_and_losses_all_kept(clock: FakeClock) -> None:
    model = TinyNet()
    mon = TrainingMonitor(model, max_updates_per_second=2)  # at most every 0.5 s
    losses = train(model, mon, 10, clock)
    mon.close()
    assert mon.steps == 10
    assert mon.captures == 5  # one forward in two: 0.25 s steps, 0.5 s interval
    assert [s.step for s in mon.history] == [1, 3, 5, 7, 9]
    steps, values = mon.view.losses.arrays()
    assert steps.tolist() == list(range(1, 11))
    np.testing.assert_allclose(values, losses, rtol=1e-6)
    sent = read_packed(mon.view.loss)["loss"]
    np.testing.assert_allclose(sent[:, 1], losses, rtol=1e-6)


def test_steps_slower_than_the_interval_are_each_captured(clock: FakeClock) -> None:
    model = TinyNet()
    mon = TrainingMonitor(model, max_updates_per_second=10)  # 0.1 s; each step takes 0.25 s
    train(model, mon, 6, clock)
    assert mon.captures == 6
    assert [s.step for s in mon.history] == [1, 2, 3, 4, 5, 6]
    mon.close()


def test_snapshot_sent_to_the_browser_counts_every_element(clock: FakeClock) -> None:
    model = TinyNet()
    mon = TrainingMonitor(model, max_updates_per_second=None, bins=20, subsample=None)
    train(model, mon, 2)
    arrays = read_packed(mon.view.snapshot)
    assert mon.view.layer_names == ["ln1", "ln2"]
    assert arrays["hist_in"].shape == (2, 20)
    assert arrays["hist_in"].sum(axis=1).tolist() == [3 * 5 * 16] * 2
    assert arrays["hist_out"].sum(axis=1).tolist() == [3 * 5 * 16] * 2
    assert mon.view.snapshot["step"] == 2 and mon.view.snapshot["live"]
    mon.close()


def test_forward_counts_as_a_step_when_step_is_never_called(clock: FakeClock) -> None:
    model = TinyNet()
    with TrainingMonitor(model, max_updates_per_second=None) as mon:
        for _ in range(4):
            model(torch.randn(2, 3, 4))
        model.eval()
        model(torch.randn(2, 3, 4))  # evaluation passes are not training steps
    assert mon.steps == 4 and mon.captures == 4
    assert [s.step for s in mon.history] == [1, 2, 3, 4]


def test_nan_and_inf_in_activations_are_counted_not_a_crash(clock: FakeClock) -> None:
    model = TinyNet()
    mon = TrainingMonitor(model, max_updates_per_second=None, subsample=None)
    model.poison = True
    with torch.no_grad():
        mon.step(loss=model(torch.randn(2, 3, 4)).mean())
    arrays = read_packed(mon.view.snapshot)
    nan_in, posinf_in = arrays["nonfinite"][0, :2]
    assert (nan_in, posinf_in) == (1, 1)
    assert arrays["hist_in"][0].sum() == 2 * 3 * 16 - 2
    assert "non-finite" in mon.view.status
    mon.close()


def test_close_leaves_the_model_as_it_was(clock: FakeClock) -> None:
    model = TinyNet()
    x = torch.randn(2, 3, 4)
    before = model(x).detach()
    mon = TrainingMonitor(model)
    watched = model(x).detach()
    mon.close()
    mon.close()  # twice is fine
    torch.testing.assert_close(watched, before, rtol=0, atol=0)
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks
        assert not module._forward_hooks_with_kwargs


def test_model_without_norms_gets_a_clear_message() -> None:
    with pytest.raises(NoNormModulesError, match="Linear has no LayerNorm / RMSNorm"):
        TrainingMonitor(torch.nn.Linear(3, 3))


def test_history_stays_bounded_over_a_long_run(clock: FakeClock) -> None:
    model = TinyNet()
    mon = TrainingMonitor(model, max_updates_per_second=None, history=8, loss_points=16)
    train(model, mon, 100)
    assert len(mon.history) < 8
    steps = [s.step for s in mon.history]
    assert steps[0] == 1 and np.ptp(np.diff(steps)) == 0  # evenly spread over the whole run
    assert steps[-1] > 80
    loss_steps, _ = mon.view.losses.arrays()
    assert len(loss_steps) <= 16 + 1 and loss_steps[-1] > 95
    mon.close()


def test_loss_and_snapshot_histories_thin_evenly() -> None:
    losses = LossHistory(capacity=8)
    for step in range(100):
        losses.add(step, step)
    steps, values = losses.arrays()
    np.testing.assert_allclose(steps, values)  # averaging keeps (step, loss) pairs aligned
    history = SnapshotHistory(capacity=2)
    assert history.capacity == 2
    with pytest.raises(ValueError, match="even"):
        LossHistory(capacity=7)


def test_scrubbing_shows_history_and_live_returns_to_latest(clock: FakeClock) -> None:
    model = TinyNet()
    mon = TrainingMonitor(model, max_updates_per_second=None)
    box = monitor_panel(mon.view)
    train(model, mon, 5)
    layer_slider, play, history_slider, live = box.children[0].children
    assert history_slider.max == play.max == 4 and history_slider.value == 4
    history_slider.value = 1
    assert mon.view.position == 1 and not live.value
    assert mon.view.snapshot["step"] == 2
    assert not mon.view.snapshot["live"]
    train(model, mon, 1)  # training goes on while the user looks at history
    assert mon.view.snapshot["step"] == 2
    live.value = True
    assert mon.view.position == -1 and mon.view.snapshot["step"] == 6
    assert layer_slider.max == 1
    mon.close()


def test_gif_export_has_one_frame_per_kept_snapshot(clock: FakeClock, tmp_path) -> None:
    image = pytest.importorskip("PIL.Image")
    model = TinyNet()
    mon = TrainingMonitor(model, max_updates_per_second=None)
    train(model, mon, 6)
    path = mon.save_gif(tmp_path / "norms.gif", layer=1)
    with image.open(path) as gif:
        assert gif.n_frames == 6 and gif.size == (480, 260)
        first = np.asarray(gif.convert("RGB"))
        gif.seek(5)
        last = np.asarray(gif.convert("RGB"))
    assert not np.array_equal(first, last)  # the histograms moved
    with pytest.raises(IndexError, match=r"layer 5 out of range 0\.\.1"):
        mon.save_gif(tmp_path / "x.gif", layer=5)
    mon.close()


def test_a_second_monitor_on_the_same_model_replaces_the_first(clock: FakeClock) -> None:
    model = TinyNet()
    first = TrainingMonitor(model)
    second = TrainingMonitor(model)  # a notebook cell run twice
    hooked = [m for m in model.modules() if m._forward_hooks_with_kwargs]
    assert len(hooked) == 2  # ln1 and ln2, once each
    train(model, second, 2)
    assert first.captures == 0 and second.captures >= 1
    second.close()
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_the_time_budget_spaces_captures_and_one_slow_capture_starves_nothing() -> None:
    throttle = Throttle(interval=0.0, budget=0.02)
    now = 0.0
    captured_at = []
    for step in range(400):
        throttle.forward_started(now)
        if throttle.due(now):
            # captures cost 2 ms; the tenth is a 1 s outlier (a busy machine, a GC pause)
            throttle.captured(now, cost=1.0 if len(captured_at) == 9 else 0.002)
            captured_at.append(step)
        now += 0.05  # 50 ms steps: 2% of a step is 1 ms, so every second step at most
    gaps = np.diff(captured_at)
    assert gaps.min() >= 2 and np.median(gaps) == 2
    assert gaps.max() <= 3  # the slow capture did not stop the next ones
