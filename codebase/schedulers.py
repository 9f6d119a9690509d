"""Drivers that connect a learning-rate schedule to an optimizer, and the plateau controller.

A schedule (:mod:`codebase.schedules`) is a function ``s(k)`` of the number of steps taken.
A driver writes its rates into an optimizer's parameter groups, after checking them:

- :class:`Scheduler` sets ``lr = s(k)`` after every step or every epoch (``interval``);
- :class:`PlateauScheduler` sets the rate that a :class:`ReduceOnPlateau` controller
  gives for the validation metric, once per epoch. Its ``needs_metric`` is ``True``: that
  attribute, not the signature of ``step``, tells a training loop to pass the metric.

Both share :class:`Driver`. Every name here is also importable from ``codebase.schedules``.
"""
from __future__ import annotations

import math
import numbers

import torch

from ._checks import check_callable, check_choice, check_int, check_real

__all__ = ["ReduceOnPlateau", "Driver", "Scheduler", "PlateauScheduler"]


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
    :math:`\\max(\\alpha\\cdot\\text{factor}, \\alpha_{\\min})` (skipped when the change is at most
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
        missing = [name for name in self._STATE if not isinstance(state, dict) or name not in state]
        if missing:
            raise ValueError(f"state lacks {missing}: pass what ReduceOnPlateau.state_dict() returned")
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


class Driver:
    """What the two drivers share: writing checked rates into an optimizer's parameter groups.

    A subclass sets ``interval`` (when the training loop calls its ``step``) and
    ``needs_metric`` (whether ``step`` takes the validation metric), and calls
    ``_apply`` with the rate of each group. A rate that is negative, NaN or infinite
    (a schedule's mistake, which would make the optimizer climb or blow up) raises
    ``ValueError`` naming the step.
    """

    interval = "epoch"
    needs_metric = False

    def __init__(self, optimizer):
        self.optimizer = optimizer
        _param_groups(optimizer)

    def _apply(self, rates, k):
        checked = []
        for rate in rates:
            rate = float(rate)
            if not math.isfinite(rate) or rate < 0:
                raise ValueError(f"{type(self).__name__}: the schedule gave the rate {rate!r} at k = {k}; "
                                 f"a learning rate must be finite and >= 0")
            checked.append(rate)
        self._last_lr = checked
        for group, rate in zip(self.optimizer.param_groups, checked):
            if isinstance(group["lr"], torch.Tensor):  # torch allows tensor learning rates
                group["lr"].fill_(rate)
            else:
                group["lr"] = rate

    def get_last_lr(self) -> list[float]:
        """The learning rate of each parameter group, as last set."""
        return list(self._last_lr)


class Scheduler(Driver):
    """Drive an optimizer's learning rate with a schedule: ``lr = s(k)``.

    ``schedule`` is one schedule for every parameter group, or a list with one per group.
    On construction every group gets ``s(0)``; each :meth:`step` advances ``k`` by one
    and sets ``s(k)``. ``interval`` tells the training loop when to call
    :meth:`step`: after every optimizer step (``'step'``) or once per epoch (``'epoch'``).
    Works with any optimizer that has ``param_groups`` (``codebase.optim`` or ``torch.optim``).
    """

    def __init__(self, optimizer, schedule, interval: str = "step"):
        super().__init__(optimizer)
        groups = optimizer.param_groups
        if isinstance(schedule, (list, tuple)):
            if len(schedule) != len(groups):
                raise ValueError(f"schedule has {len(schedule)} entries but the optimizer has "
                                 f"{len(groups)} param groups")
            self.schedules = [check_callable("schedule", s, ("k",)) for s in schedule]
        else:
            self.schedules = [check_callable("schedule", schedule, ("k",))] * len(groups)
        self.interval = check_choice("interval", interval, ("step", "epoch"))
        self.k = 0
        self._apply([s(0) for s in self.schedules], 0)

    def step(self) -> None:
        """Advance ``k`` by one and set ``lr = s(k)``."""
        self.k += 1
        self._apply([s(self.k) for s in self.schedules], self.k)

    def state_dict(self) -> dict:
        """``{'k': k}``: the schedules themselves are code, not state."""
        return {"k": self.k}

    def load_state_dict(self, state: dict) -> None:
        """Restore ``k`` and set the optimizer's learning rates to ``s(k)``."""
        if not isinstance(state, dict) or "k" not in state:
            raise ValueError(f"state must be a dict with 'k' (saved by Scheduler.state_dict), got {state!r}")
        self.k = check_int("k", state["k"], low=0)
        self._apply([s(self.k) for s in self.schedules], self.k)


class PlateauScheduler(Driver):
    """Drive an optimizer's learning rate with a :class:`ReduceOnPlateau` controller.

    On construction every parameter group gets ``controller.lr``. The training loop calls
    :meth:`step` with the validation metric once per epoch (``interval == 'epoch'``,
    ``needs_metric`` is ``True``).
    """

    needs_metric = True

    def __init__(self, optimizer, controller: ReduceOnPlateau):
        if not isinstance(controller, ReduceOnPlateau):
            raise TypeError(f"controller must be a ReduceOnPlateau, got {type(controller).__name__}")
        super().__init__(optimizer)
        self.controller = controller
        self._apply([controller.lr] * len(optimizer.param_groups), 0)

    @property
    def k(self) -> int:
        """Number of epochs stepped so far."""
        return self.controller.epoch

    def step(self, metric) -> None:
        """Record one epoch's validation ``metric`` and set the learning rate it gives."""
        if metric is None:
            raise TypeError("PlateauScheduler.step needs the validation metric")
        lr = self.controller.update(metric)
        self._apply([lr] * len(self.optimizer.param_groups), self.k)

    def state_dict(self) -> dict:
        """The controller's state."""
        return self.controller.state_dict()

    def load_state_dict(self, state: dict) -> None:
        """Restore the controller's state and set the optimizer's learning rates from it."""
        self.controller.load_state_dict(state)
        self._apply([self.controller.lr] * len(self.optimizer.param_groups), self.k)
