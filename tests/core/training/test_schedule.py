"""The shared learning-rate schedule: warm-up, cosine decay by steps or by time, whichever is further."""

import pytest
import torch

from napari_segsuite.core.training.schedule import LRSchedule, lr_factor


def test_lr_factor_warms_up_then_decays_to_the_floor():
    assert [lr_factor(0, s, 4) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert lr_factor(0.0, 10, 4) == 1.0
    assert lr_factor(0.5, 10, 4, floor=0.0) == pytest.approx(0.5)
    assert lr_factor(1.0, 10, 4, floor=0.1) == pytest.approx(0.1)
    assert lr_factor(2.0, 10, 4, floor=0.1) == pytest.approx(0.1)  # past the end: stays at the floor


def _optimizer():
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)


def test_schedule_follows_steps_without_a_time_limit():
    opt = _optimizer()
    sched = LRSchedule(opt, 0.1, total_steps=100, warmup_steps=10)
    lrs = [sched.before_step() for _ in range(100)]
    assert lrs[0] == pytest.approx(0.01) and lrs[9] == pytest.approx(0.1)
    assert lrs[55] == pytest.approx(0.1 * (0.05 + 0.95 * 0.5 * (1 - 0.156434)))  # cos(0.55 pi) = -0.156434
    assert opt.param_groups[0]["lr"] == lrs[-1] < 0.01


def test_schedule_follows_the_clock_when_time_runs_out_first():
    now = [0.0]
    sched = LRSchedule(_optimizer(), 1.0, total_steps=1000, time_limit=10.0, warmup_steps=1, clock=lambda: now[0])
    sched.before_step()
    now[0] = 5.0
    assert sched.progress() == pytest.approx(0.5)  # half the time, 1 step of 1000
    assert sched.before_step() == pytest.approx(0.525)  # 0.05 + 0.95 * (1 + cos(pi / 2)) / 2
    now[0] = 20.0
    assert sched.before_step() == pytest.approx(0.05)
