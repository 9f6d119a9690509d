"""Learning-rate schedules as functions of the step.

A *schedule* is any callable ``s(k) -> float`` where ``k = 0, 1, 2, ...`` is the number of
optimizer steps (or epochs) already taken, and ``s(k)`` is the learning rate
:math:`\\alpha_k` of the next step, in the book's notation. The schedules here are small
frozen dataclasses, so their hyperparameters are attributes you can print and inspect::

    >>> sched = Cosine(lr=0.1, total_steps=100)
    >>> sched(0), sched(50), sched(100)
    (0.1, 0.05, 0.0)

Each one gives the same learning rates as its counterpart in
``torch.optim.lr_scheduler`` (the tests check this), but as a closed formula instead of
a recursive update of the optimizer's ``lr``.

Two drivers connect a schedule to an optimizer (ours or ``torch.optim``'s), and share
:class:`~codebase.schedulers.Driver`, which writes the rates into the parameter groups
after checking them (they live in :mod:`codebase.schedulers` and are importable from here):

- :class:`~codebase.schedulers.Scheduler` sets ``lr = s(k)`` in every parameter group;
  ``interval`` says whether the training loop calls ``.step()`` after every optimizer step
  (``'step'``) or once per epoch (``'epoch'``).
- :class:`~codebase.schedulers.PlateauScheduler` asks a
  :class:`~codebase.schedulers.ReduceOnPlateau` controller for the next
  learning rate given the validation metric, once per epoch. Its ``needs_metric`` is
  ``True``: that attribute, not the signature of ``step``, tells a training loop to pass
  the metric.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from ._checks import check_callable, check_int, check_real
# The drivers (Scheduler, PlateauScheduler, ReduceOnPlateau) live in codebase.schedulers;
# they are importable from here too, where the chapters look for them.
from .schedulers import Driver, PlateauScheduler, ReduceOnPlateau, Scheduler

__all__ = [
    "Constant", "StepDecay", "MultiStep", "Exponential", "InverseTime", "Cosine",
    "LinearWarmup", "Chain", "join", "values", "ReduceOnPlateau", "Driver", "Scheduler",
    "PlateauScheduler",
]


def _set(obj, name, value):
    # frozen dataclasses store their (checked, converted) fields through object.__setattr__
    object.__setattr__(obj, name, value)


def _steps(k):
    return check_int("k", k, low=0)


def _power(lr, gamma, n, name):
    """``lr * gamma ** n``, with a message instead of ``OverflowError`` when it has no meaning."""
    try:
        return lr * gamma ** n
    except OverflowError:
        raise ValueError(f"{name}: the rate lr * gamma**{n} = {lr!r} * {gamma!r}**{n} overflows a float; "
                         f"a gamma above 1 grows the rate without bound") from None


@dataclass(frozen=True)
class Constant:
    """The constant schedule :math:`s(k) = \\alpha`."""

    lr: float

    def __post_init__(self):
        _set(self, "lr", check_real("lr", self.lr, low=0))

    def __call__(self, k: int) -> float:
        _steps(k)
        return self.lr


@dataclass(frozen=True)
class StepDecay:
    """Step decay :math:`s(k) = \\alpha\\,\\gamma^{\\lfloor k / K \\rfloor}` (``K = step_size``).

    The learning rate is multiplied by ``gamma`` every ``step_size`` steps, like
    ``torch.optim.lr_scheduler.StepLR``.
    """

    lr: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self):
        _set(self, "lr", check_real("lr", self.lr, low=0))
        _set(self, "step_size", check_int("step_size", self.step_size, low=1))
        _set(self, "gamma", check_real("gamma", self.gamma, low=0, low_open=True))

    def __call__(self, k: int) -> float:
        return _power(self.lr, self.gamma, _steps(k) // self.step_size, "StepDecay")


@dataclass(frozen=True)
class MultiStep:
    """Decay at milestones: :math:`s(k) = \\alpha\\,\\gamma^{n(k)}`, with :math:`n(k)` the
    number of milestones :math:`\\le k`.

    ``milestones`` must be sorted; a repeated milestone decays twice, as in
    ``torch.optim.lr_scheduler.MultiStepLR``.
    """

    lr: float
    milestones: tuple
    gamma: float = 0.1

    def __post_init__(self):
        _set(self, "lr", check_real("lr", self.lr, low=0))
        if isinstance(self.milestones, (str, bytes)) or not hasattr(self.milestones, "__iter__"):
            raise TypeError(f"milestones must be a sequence of integers, got {self.milestones!r}")
        milestones = tuple(check_int("milestones", m, low=0) for m in self.milestones)
        if list(milestones) != sorted(milestones):
            raise ValueError(f"milestones must be sorted, got {milestones!r}")
        _set(self, "milestones", milestones)
        _set(self, "gamma", check_real("gamma", self.gamma, low=0, low_open=True))

    def __call__(self, k: int) -> float:
        passed = bisect.bisect_right(self.milestones, _steps(k))
        return _power(self.lr, self.gamma, passed, "MultiStep")


@dataclass(frozen=True)
class Exponential:
    """Exponential decay :math:`s(k) = \\alpha\\,\\gamma^k`, like ``ExponentialLR``."""

    lr: float
    gamma: float

    def __post_init__(self):
        _set(self, "lr", check_real("lr", self.lr, low=0))
        _set(self, "gamma", check_real("gamma", self.gamma, low=0, low_open=True))

    def __call__(self, k: int) -> float:
        return _power(self.lr, self.gamma, _steps(k), "Exponential")


@dataclass(frozen=True)
class InverseTime:
    """Inverse-time decay :math:`s(k) = \\alpha / (1 + r\\,k / K)` (``r = decay_rate``,
    ``K = decay_steps``).

    With ``decay_rate = 1`` and ``decay_steps = 1`` this is the :math:`\\alpha/(1+k)` decay of
    the Robbins-Monro conditions: :math:`\\sum_k s(k) = \\infty`, :math:`\\sum_k s(k)^2 < \\infty`.
    """

    lr: float
    decay_rate: float
    decay_steps: int = 1

    def __post_init__(self):
        _set(self, "lr", check_real("lr", self.lr, low=0))
        _set(self, "decay_rate", check_real("decay_rate", self.decay_rate, low=0))
        _set(self, "decay_steps", check_int("decay_steps", self.decay_steps, low=1))

    def __call__(self, k: int) -> float:
        return self.lr / (1.0 + self.decay_rate * _steps(k) / self.decay_steps)


@dataclass(frozen=True)
class Cosine:
    """Cosine annealing (Loshchilov & Hutter, 2017) from ``lr`` down to ``min_lr``:

    .. math::
        s(k) = \\alpha_{\\min} + \\tfrac12(\\alpha - \\alpha_{\\min})\\bigl(1 + \\cos(\\pi k / T)\\bigr),
        \\qquad 0 \\le k \\le T = \\text{total\\_steps}.

    For :math:`k > T` the rate stays at ``min_lr`` (as in Optax's ``cosine_decay_schedule``).
    ``torch.optim.lr_scheduler.CosineAnnealingLR`` agrees on :math:`[0, T]` but afterwards
    climbs back up along the cosine (period :math:`2T`); use :func:`join` for restarts.
    """

    lr: float
    total_steps: int
    min_lr: float = 0.0

    def __post_init__(self):
        _set(self, "lr", check_real("lr", self.lr, low=0))
        _set(self, "total_steps", check_int("total_steps", self.total_steps, low=1))
        _set(self, "min_lr", check_real("min_lr", self.min_lr, low=0, high=self.lr))

    def __call__(self, k: int) -> float:
        k = min(_steps(k), self.total_steps)
        return self.min_lr + (self.lr - self.min_lr) * (1 + math.cos(math.pi * k / self.total_steps)) / 2


@dataclass(frozen=True)
class LinearWarmup:
    """Linear warm-up for ``warmup_steps`` steps, then ``schedule`` restarted from its step 0:

    .. math::
        s_W(k) = \\begin{cases}
          s(0)\\,\\bigl(f + (1 - f)\\,k / W\\bigr) & k < W \\\\
          s(k - W) & k \\ge W
        \\end{cases}

    with :math:`s` = ``schedule``, :math:`W` = ``warmup_steps`` and :math:`f` = ``start_factor``.
    The ramp goes from ``start_factor * schedule(0)`` up to ``schedule(0)``, reached at
    :math:`k = W`, so a decay (e.g. :class:`Cosine` over the remaining steps) starts after
    the warm-up. This equals
    ``SequentialLR(opt, [LinearLR(opt, start_factor, total_iters=W), X], milestones=[W])``
    (torch needs ``start_factor > 0``; here 0 is allowed).
    """

    schedule: object
    warmup_steps: int
    start_factor: float = 0.0

    def __post_init__(self):
        check_callable("schedule", self.schedule, ("k",))
        _set(self, "warmup_steps", check_int("warmup_steps", self.warmup_steps, low=0))
        _set(self, "start_factor", check_real("start_factor", self.start_factor, low=0, high=1))

    def __call__(self, k: int) -> float:
        k = _steps(k)
        if k >= self.warmup_steps:
            return float(self.schedule(k - self.warmup_steps))
        f = self.start_factor
        return float(self.schedule(0)) * (f + (1 - f) * k / self.warmup_steps)


@dataclass(frozen=True)
class Chain:
    """Schedules joined piecewise at ``boundaries`` (like ``optax.join_schedules``).

    With boundaries :math:`b_1 < \\dots < b_{n-1}` and schedules :math:`s_0, \\dots, s_{n-1}`,
    :math:`s(k) = s_i(k - b_i)` for :math:`b_i \\le k < b_{i+1}` (with :math:`b_0 = 0`):
    each later schedule starts its own count at 0 at its boundary. Build it with :func:`join`.
    """

    schedules: tuple
    boundaries: tuple

    def __post_init__(self):
        schedules = tuple(self.schedules)
        if not schedules:
            raise ValueError("schedules must contain at least one schedule")
        for s in schedules:
            check_callable("schedules", s, ("k",))
        boundaries = tuple(check_int("boundaries", b, low=1) for b in self.boundaries)
        if len(boundaries) != len(schedules) - 1:
            raise ValueError(f"boundaries must have len(schedules) - 1 = {len(schedules) - 1} "
                             f"entries, got {len(boundaries)}")
        if any(b1 >= b2 for b1, b2 in zip(boundaries, boundaries[1:])):
            raise ValueError(f"boundaries must be strictly increasing, got {boundaries!r}")
        _set(self, "schedules", schedules)
        _set(self, "boundaries", boundaries)

    def __call__(self, k: int) -> float:
        k = _steps(k)
        i = bisect.bisect_right(self.boundaries, k)
        start = self.boundaries[i - 1] if i > 0 else 0
        return float(self.schedules[i](k - start))


def join(schedules, boundaries) -> Chain:
    """Join ``schedules`` at ``boundaries`` (see :class:`Chain`)."""
    return Chain(tuple(schedules), tuple(boundaries))


def values(schedule, n: int) -> list[float]:
    """The first ``n`` learning rates ``[s(0), ..., s(n - 1)]``, e.g. for a plot."""
    check_callable("schedule", schedule, ("k",))
    n = check_int("n", n, low=0)
    return [float(schedule(k)) for k in range(n)]
