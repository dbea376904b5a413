"""The learning-rate schedule both trainers use: a short linear warm-up, then a cosine decay to a floor.

The decay follows whichever runs out first, the steps or the time: with ``time_limit`` the rate reaches its
floor as the wall-clock budget ends, so a time-limited training (the CPU default, a busy laptop) ends
annealed instead of being cut at a high rate.
"""

from __future__ import annotations

import math
import time

__all__ = ["lr_factor", "LRSchedule"]


def lr_factor(progress: float, step: int, warmup_steps: int, floor: float = 0.05) -> float:
    """Multiplier of the base learning rate.

    Parameters
    ----------
    progress : float
        Fraction of the training done, in [0, 1] (steps or time, whichever is further).
    step : int
        Optimizer steps done so far (the warm-up counts steps).
    warmup_steps : int
        Steps of linear warm-up from ``1 / warmup_steps`` to 1.
    floor : float
        The factor at the end of the decay.

    Examples
    --------
    >>> lr_factor(0.0, 0, 10)
    0.1
    >>> lr_factor(0.5, 100, 10)
    0.525
    >>> lr_factor(1.0, 500, 10)
    0.05
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    p = min(max(float(progress), 0.0), 1.0)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * p))


class LRSchedule:
    """Sets the optimizer's learning rate before every step from :func:`lr_factor`.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        Its param groups' ``lr`` is overwritten.
    base_lr : float
        The learning rate at the end of the warm-up.
    total_steps : int
        Steps the training is planned for.
    time_limit : float, optional
        Wall-clock seconds the training may take (its progress is then the larger of the two fractions).
    warmup_steps : int, optional
        Default: a tenth of the steps, at most 50.
    clock : callable
        Returns seconds (tests pass a fake clock).
    """

    def __init__(self, optimizer, base_lr: float, total_steps: int, time_limit: float | None = None,
                 warmup_steps: int | None = None, floor: float = 0.05, clock=time.perf_counter):
        self.optimizer, self.base_lr = optimizer, float(base_lr)
        self.total = max(1, int(total_steps))
        self.time_limit = time_limit
        self.warmup = int(warmup_steps if warmup_steps is not None else min(50, self.total // 10 + 1))
        self.floor, self.clock = float(floor), clock
        self.t0 = None
        self.steps = 0

    def progress(self) -> float:
        """The fraction of the training done: steps, or time when that is further."""
        done = self.steps / self.total
        if self.time_limit and self.t0 is not None:
            done = max(done, (self.clock() - self.t0) / self.time_limit)
        return min(done, 1.0)

    def before_step(self) -> float:
        """Set and return the learning rate of the next step."""
        if self.t0 is None:
            self.t0 = self.clock()
        lr = self.base_lr * lr_factor(self.progress(), self.steps, self.warmup, self.floor)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.steps += 1
        return lr
