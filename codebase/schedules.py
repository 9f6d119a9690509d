"""Learning-rate schedules as functions of the step.

A *schedule* is any callable ``schedule(t) -> float`` where ``t = 0, 1, 2, ...`` counts
optimizer steps (or epochs). The schedules here are small frozen dataclasses, so their
hyperparameters are attributes you can print and inspect::

    >>> sched = Cosine(lr=0.1, total_steps=100)
    >>> sched(0), sched(50), sched(100)
    (0.1, 0.05, 0.0)

Each one gives the same learning rates as its counterpart in
``torch.optim.lr_scheduler`` (the tests check this), but as a closed formula instead of
a recursive update of the optimizer's ``lr``.

Two drivers connect a schedule to an optimizer (ours or ``torch.optim``'s):

- :class:`Scheduler` sets ``lr = schedule(t)`` in every parameter group; ``interval`` says
  whether the training loop calls ``.step()`` after every optimizer step (``'step'``) or
  once per epoch (``'epoch'``).
- :class:`PlateauScheduler` asks a :class:`ReduceOnPlateau` controller for the next
  learning rate given the validation metric, once per epoch.
"""
from __future__ import annotations

import bisect
import math
import numbers
from dataclasses import dataclass

import torch

from ._checks import check_callable, check_choice, check_int, check_real

__all__ = [
    "Constant", "StepDecay", "MultiStep", "Exponential", "InverseTime", "Cosine",
    "LinearWarmup", "Sequence", "join", "values", "ReduceOnPlateau", "Scheduler",
    "PlateauScheduler",
]


def _set(obj, name, value):
    # frozen dataclasses store their (checked, converted) fields through object.__setattr__
    object.__setattr__(obj, name, value)


def _step(t):
    return check_int("t", t, low=0)


@dataclass(frozen=True)
class Constant:
    """The constant schedule :math:`\\eta_t = \\eta`."""

    lr: float

    def __post_init__(self):
        _set(self, "lr", check_real("lr", self.lr, low=0))

    def __call__(self, t: int) -> float:
        _step(t)
        return self.lr


@dataclass(frozen=True)
class StepDecay:
    """Step decay :math:`\\eta_t = \\eta\\,\\gamma^{\\lfloor t / s \\rfloor}` (``s = step_size``).

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

    def __call__(self, t: int) -> float:
        return self.lr * self.gamma ** (_step(t) // self.step_size)


@dataclass(frozen=True)
class MultiStep:
    """Decay at milestones: :math:`\\eta_t = \\eta\\,\\gamma^{k(t)}`, with :math:`k(t)` the
    number of milestones :math:`\\le t`.

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

    def __call__(self, t: int) -> float:
        passed = bisect.bisect_right(self.milestones, _step(t))
        return self.lr * self.gamma ** passed


@dataclass(frozen=True)
class Exponential:
    """Exponential decay :math:`\\eta_t = \\eta\\,\\gamma^t`, like ``ExponentialLR``."""

    lr: float
    gamma: float

    def __post_init__(self):
        _set(self, "lr", check_real("lr", self.lr, low=0))
        _set(self, "gamma", check_real("gamma", self.gamma, low=0, low_open=True))

    def __call__(self, t: int) -> float:
        return self.lr * self.gamma ** _step(t)


@dataclass(frozen=True)
class InverseTime:
    """Inverse-time decay :math:`\\eta_t = \\eta / (1 + r\\,t / s)` (``r = decay_rate``,
    ``s = decay_steps``).

    With ``decay_rate = 1`` and ``decay_steps = 1`` this is the :math:`\\eta/(1+t)` decay of
    the Robbins-Monro conditions: :math:`\\sum_t \\eta_t = \\infty`, :math:`\\sum_t \\eta_t^2 < \\infty`.
    """

    lr: float
    decay_rate: float
    decay_steps: int = 1

    def __post_init__(self):
        _set(self, "lr", check_real("lr", self.lr, low=0))
        _set(self, "decay_rate", check_real("decay_rate", self.decay_rate, low=0))
        _set(self, "decay_steps", check_int("decay_steps", self.decay_steps, low=1))

    def __call__(self, t: int) -> float:
        return self.lr / (1.0 + self.decay_rate * _step(t) / self.decay_steps)


@dataclass(frozen=True)
class Cosine:
    """Cosine annealing (Loshchilov & Hutter, 2017) from ``lr`` down to ``min_lr``:

    .. math::
        \\eta_t = \\eta_{\\min} + \\tfrac12(\\eta - \\eta_{\\min})\\bigl(1 + \\cos(\\pi t / T)\\bigr),
        \\qquad 0 \\le t \\le T = \\text{total\\_steps}.

    For :math:`t > T` the rate stays at ``min_lr`` (as in Optax's ``cosine_decay_schedule``).
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

    def __call__(self, t: int) -> float:
        t = min(_step(t), self.total_steps)
        return self.min_lr + (self.lr - self.min_lr) * (1 + math.cos(math.pi * t / self.total_steps)) / 2


@dataclass(frozen=True)
class LinearWarmup:
    """Linear warm-up for ``warmup_steps`` steps, then ``schedule`` restarted from its step 0:

    .. math::
        \\eta_t = \\begin{cases}
          s(0)\\,\\bigl(f + (1 - f)\\,t / W\\bigr) & t < W \\\\
          s(t - W) & t \\ge W
        \\end{cases}

    with :math:`s` = ``schedule``, :math:`W` = ``warmup_steps`` and :math:`f` = ``start_factor``.
    The ramp goes from ``start_factor * schedule(0)`` up to ``schedule(0)``, reached at
    :math:`t = W`, so a decay (e.g. :class:`Cosine` over the remaining steps) starts after
    the warm-up. This equals
    ``SequentialLR(opt, [LinearLR(opt, start_factor, total_iters=W), X], milestones=[W])``
    (torch needs ``start_factor > 0``; here 0 is allowed).
    """

    schedule: object
    warmup_steps: int
    start_factor: float = 0.0

    def __post_init__(self):
        check_callable("schedule", self.schedule)
        _set(self, "warmup_steps", check_int("warmup_steps", self.warmup_steps, low=0))
        _set(self, "start_factor", check_real("start_factor", self.start_factor, low=0, high=1))

    def __call__(self, t: int) -> float:
        t = _step(t)
        if t >= self.warmup_steps:
            return float(self.schedule(t - self.warmup_steps))
        f = self.start_factor
        return float(self.schedule(0)) * (f + (1 - f) * t / self.warmup_steps)


@dataclass(frozen=True)
class Sequence:
    """Schedules joined piecewise at ``boundaries`` (like ``optax.join_schedules``).

    With boundaries :math:`b_1 < \\dots < b_{k-1}` and schedules :math:`s_0, \\dots, s_{k-1}`,
    :math:`\\eta_t = s_i(t - b_i)` for :math:`b_i \\le t < b_{i+1}` (with :math:`b_0 = 0`):
    each later schedule starts its own count at 0 at its boundary. Build it with :func:`join`.
    """

    schedules: tuple
    boundaries: tuple

    def __post_init__(self):
        schedules = tuple(self.schedules)
        if not schedules:
            raise ValueError("schedules must contain at least one schedule")
        for s in schedules:
            check_callable("schedules", s)
        boundaries = tuple(check_int("boundaries", b, low=1) for b in self.boundaries)
        if len(boundaries) != len(schedules) - 1:
            raise ValueError(f"boundaries must have len(schedules) - 1 = {len(schedules) - 1} "
                             f"entries, got {len(boundaries)}")
        if any(b1 >= b2 for b1, b2 in zip(boundaries, boundaries[1:])):
            raise ValueError(f"boundaries must be strictly increasing, got {boundaries!r}")
        _set(self, "schedules", schedules)
        _set(self, "boundaries", boundaries)

    def __call__(self, t: int) -> float:
        t = _step(t)
        i = bisect.bisect_right(self.boundaries, t)
        start = self.boundaries[i - 1] if i > 0 else 0
        return float(self.schedules[i](t - start))


def join(schedules, boundaries) -> Sequence:
    """Join ``schedules`` at ``boundaries`` (see :class:`Sequence`)."""
    return Sequence(tuple(schedules), tuple(boundaries))


def values(schedule, n: int) -> list[float]:
    """The first ``n`` learning rates ``[schedule(0), ..., schedule(n - 1)]``, e.g. for a plot."""
    check_callable("schedule", schedule)
    n = check_int("n", n, low=0)
    return [float(schedule(t)) for t in range(n)]


def _metric(metric):
    """``metric`` as a float; accepts Python/NumPy numbers and one-element tensors."""
    if isinstance(metric, torch.Tensor):
        if metric.numel() != 1:
            raise ValueError(f"metric must be a scalar, got a tensor of shape {tuple(metric.shape)}")
        return float(metric)
    if isinstance(metric, bool) or not isinstance(metric, numbers.Real):
        raise TypeError(f"metric must be a real number, got {type(metric).__name__} {metric!r}")
    return float(metric)


class ReduceOnPlateau:
    """Divide the learning rate by ``1/factor`` when a metric stops improving.

    Call :meth:`update` once per epoch with the validation metric; it returns the learning
    rate for the next epoch. A metric :math:`m` *improves* on the best one :math:`m^*` when

    ==========  ===========  ======================================
    mode        threshold    improvement
    ==========  ===========  ======================================
    ``'min'``   ``'rel'``    :math:`m < m^*(1 - \\text{threshold})`
    ``'min'``   ``'abs'``    :math:`m < m^* - \\text{threshold}`
    ``'max'``   ``'rel'``    :math:`m > m^*(1 + \\text{threshold})`
    ``'max'``   ``'abs'``    :math:`m > m^* + \\text{threshold}`
    ==========  ===========  ======================================

    After more than ``patience`` epochs in a row without improvement the rate becomes
    :math:`\\max(\\eta\\cdot\\text{factor}, \\eta_{\\min})` (skipped when the change is at most
    ``eps``), and for the next ``cooldown`` epochs bad epochs are not counted. A NaN metric
    never improves. This is the rule of ``torch.optim.lr_scheduler.ReduceLROnPlateau``, and
    the sequence of rates is the same.

    Attributes: ``lr`` (current rate), ``best``, ``num_bad_epochs``, ``cooldown_counter``,
    ``epoch`` (number of updates so far), plus the hyperparameters.
    """

    def __init__(self, lr: float, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float = 0.0, eps: float = 1e-8):
        self.initial_lr = check_real("lr", lr, low=0)
        self.mode = check_choice("mode", mode, ("min", "max"))
        self.factor = check_real("factor", factor, low=0, high=1, low_open=True, high_open=True)
        self.patience = check_int("patience", patience, low=0)
        self.threshold = check_real("threshold", threshold, low=0)
        self.threshold_mode = check_choice("threshold_mode", threshold_mode, ("rel", "abs"))
        self.cooldown = check_int("cooldown", cooldown, low=0)
        self.min_lr = check_real("min_lr", min_lr, low=0)
        self.eps = check_real("eps", eps, low=0)
        self.lr = self.initial_lr
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.epoch = 0

    def is_better(self, metric: float, best: float) -> bool:
        """Whether ``metric`` counts as an improvement on ``best`` (see the table above)."""
        if self.mode == "min":
            bar = best * (1 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold
            return metric < bar
        bar = best * (1 + self.threshold) if self.threshold_mode == "rel" else best + self.threshold
        return metric > bar

    def update(self, metric) -> float:
        """Record one epoch's ``metric`` and return the learning rate to use next."""
        metric = _metric(metric)
        self.epoch += 1
        if self.is_better(metric, self.best):
            self.best = metric
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:  # bad epochs during cool-down are forgiven
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            new_lr = max(self.lr * self.factor, self.min_lr)
            if self.lr - new_lr > self.eps:
                self.lr = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        return self.lr

    _STATE = ("lr", "best", "num_bad_epochs", "cooldown_counter", "epoch")

    def state_dict(self) -> dict:
        """The mutable state (not the hyperparameters) as a dict."""
        return {name: getattr(self, name) for name in self._STATE}

    def load_state_dict(self, state: dict) -> None:
        """Restore the state saved by :meth:`state_dict`."""
        for name in self._STATE:
            setattr(self, name, state[name])

    def __repr__(self):
        return (f"ReduceOnPlateau(lr={self.lr!r}, mode={self.mode!r}, factor={self.factor!r}, "
                f"patience={self.patience!r}, threshold={self.threshold!r}, "
                f"threshold_mode={self.threshold_mode!r}, cooldown={self.cooldown!r}, "
                f"min_lr={self.min_lr!r}, eps={self.eps!r})")


def _param_groups(optimizer):
    groups = getattr(optimizer, "param_groups", None)
    if not isinstance(groups, list) or not groups:
        raise TypeError(f"optimizer must have a non-empty list param_groups, got {type(optimizer).__name__}")
    return groups


def _set_lr(group, lr):
    if isinstance(group["lr"], torch.Tensor):  # torch allows tensor learning rates
        group["lr"].fill_(lr)
    else:
        group["lr"] = lr


class Scheduler:
    """Drive an optimizer's learning rate with a schedule: ``lr = schedule(t)``.

    ``schedule`` is one schedule for every parameter group, or a list with one per group.
    On construction every group gets ``schedule(0)``; each :meth:`step` advances ``t`` by one
    and sets ``schedule(t)``. ``interval`` tells the training loop when to call
    :meth:`step`: after every optimizer step (``'step'``) or once per epoch (``'epoch'``).
    Works with any optimizer that has ``param_groups`` (``codebase.optim`` or ``torch.optim``).
    """

    def __init__(self, optimizer, schedule, interval: str = "step"):
        self.optimizer = optimizer
        groups = _param_groups(optimizer)
        if isinstance(schedule, (list, tuple)):
            if len(schedule) != len(groups):
                raise ValueError(f"schedule has {len(schedule)} entries but the optimizer has "
                                 f"{len(groups)} param groups")
            self.schedules = [check_callable("schedule", s) for s in schedule]
        else:
            self.schedules = [check_callable("schedule", schedule)] * len(groups)
        self.interval = check_choice("interval", interval, ("step", "epoch"))
        self.t = 0
        self._apply()

    def _apply(self):
        self._last_lr = [float(s(self.t)) for s in self.schedules]
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            _set_lr(group, lr)

    def step(self, metric=None) -> None:
        """Advance ``t`` by one and set ``lr = schedule(t)``; ``metric`` is ignored."""
        self.t += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        """The learning rate of each parameter group, as last set."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """``{'t': t}``: the schedules themselves are code, not state."""
        return {"t": self.t}

    def load_state_dict(self, state: dict) -> None:
        """Restore ``t`` and set the optimizer's learning rates to ``schedule(t)``."""
        self.t = check_int("t", state["t"], low=0)
        self._apply()


class PlateauScheduler:
    """Drive an optimizer's learning rate with a :class:`ReduceOnPlateau` controller.

    On construction every parameter group gets ``controller.lr``. The training loop calls
    :meth:`step` with the validation metric once per epoch (``interval == 'epoch'``).
    """

    interval = "epoch"

    def __init__(self, optimizer, controller: ReduceOnPlateau):
        if not isinstance(controller, ReduceOnPlateau):
            raise TypeError(f"controller must be a ReduceOnPlateau, got {type(controller).__name__}")
        self.optimizer = optimizer
        _param_groups(optimizer)
        self.controller = controller
        self._apply(controller.lr)

    @property
    def t(self) -> int:
        """Number of epochs stepped so far."""
        return self.controller.epoch

    def _apply(self, lr):
        self._last_lr = [float(lr)] * len(self.optimizer.param_groups)
        for group in self.optimizer.param_groups:
            _set_lr(group, float(lr))

    def step(self, metric) -> None:
        """Record one epoch's validation ``metric`` and set the learning rate it gives."""
        if metric is None:
            raise TypeError("PlateauScheduler.step needs the validation metric")
        self._apply(self.controller.update(metric))

    def get_last_lr(self) -> list[float]:
        """The learning rate of each parameter group, as last set."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """The controller's state."""
        return self.controller.state_dict()

    def load_state_dict(self, state: dict) -> None:
        """Restore the controller's state and set the optimizer's learning rates from it."""
        self.controller.load_state_dict(state)
        self._apply(self.controller.lr)
