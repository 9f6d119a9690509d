"""What schedule-free SGD and AdamW share: the warm-up, the averaging weight ``c_t``, the train/eval switch.

Schedule-free training (Defazio et al., 2024, "The Road Less Scheduled") keeps
three sequences of parameters, with ``t`` counted from 1:

- ``z``, the plain SGD (or AdamW) iterates, in the optimizer's state;
- ``x``, a weighted running average of the ``z``'s, the weights to evaluate;
- ``y = (1 - beta) * z + beta * x``, between the two, where the gradient is taken.

A model's parameters hold ``y`` in train mode and ``x`` in eval mode;
``optimizer.train()`` and ``optimizer.eval()`` switch them, and a step is only
allowed in train mode. The average needs no tensor of its own: ``x`` is
recovered from ``y`` and ``z``.

This module holds the two scalar helpers of the method (:func:`warmup_lr`,
:func:`averaging_weight`) and ``ScheduleFreeOptimizer``, the base class of
``ScheduleFreeSGD`` and ``ScheduleFreeAdamW`` that runs them once per parameter
group and step. The reference is the authors' package ``schedulefree``; its
classes keep the step counter and the weight sum in each parameter group, and
so does this one, with the same keys.
"""
from __future__ import annotations

import torch

from .._checks import check_int, check_nonnegative, check_number, check_real
from ._base import BaseOptimizer

__all__ = ["warmup_lr", "averaging_weight", "ScheduleFreeOptimizer"]

def warmup_lr(lr, t, warmup_steps):
    """The learning rate of step ``t`` (counted from 1) under a linear warm-up of ``warmup_steps`` steps::

        lr_t = lr * t / warmup_steps     if t <= warmup_steps
        lr_t = lr                        otherwise

    With ``warmup_steps = 0`` there is no warm-up.
    """
    return lr * (t / warmup_steps) if t <= warmup_steps else lr


def averaging_weight(t, lr_max, weight_sum, *, r, weight_lr_power):
    """The weight ``c_t`` of the newest ``z_t`` in the average ``x_t``, and the new sum of weights.

    Step ``t`` gets the weight ``w_t``, and ``x_t`` is the average of
    ``z_1 .. z_t`` with these weights, kept as a running average::

        w_t = t^r * lr_max_t^p          (p = weight_lr_power; lr_max_t = the largest lr_i, i <= t)
        W_t = W_{t-1} + w_t             (W_0 = 0)
        c_t = w_t / W_t                 (0 while W_t = 0, that is while every lr_i was 0)
        x_t = (1 - c_t) * x_{t-1} + c_t * z_t

    With ``r = 0`` and no warm-up every step weighs the same and ``c_t = 1 / t``:
    ``x_t`` is the plain mean of the iterates. During a warm-up, ``lr_max^p``
    gives the early steps, taken with small rates, small weights.

    Parameters
    ----------
    t : int
        The step, counted from 1.
    lr_max : float
        The largest learning rate used so far, this step's included.
    weight_sum : float
        ``W_{t-1}``, the sum of the earlier weights.
    r, weight_lr_power : float
        The exponents of ``t`` and of ``lr_max``.

    Returns
    -------
    (c_t, W_t) : tuple of floats
    """
    w = t ** r * lr_max ** weight_lr_power   # w_t = t^r lr_max^p
    weight_sum = weight_sum + w              # W_t = W_{t-1} + w_t
    c = w / weight_sum if weight_sum != 0 else 0.0   # c_t = w_t / W_t
    return c, weight_sum


class ScheduleFreeOptimizer(BaseOptimizer):
    """The part of ``ScheduleFreeSGD`` and ``ScheduleFreeAdamW`` that is not their update rule.

    Subclasses define ``_beta(group)`` (the interpolation weight beta of ``y``),
    ``_init_state``, ``_update(p, g, state, group, t, lr, c)`` and their checks.
    """

    _TORCH_FLAG_DEFAULTS = {}  # the reference fills in nothing when it loads a state dict
    # Group keys that the optimizer writes itself (at each step, or in train/eval): not hyperparameters.
    _STEP_KEYS = frozenset({"k", "train_mode", "weight_sum", "lr_max", "scheduled_lr"})

    def _beta(self, group):
        raise NotImplementedError

    @classmethod
    def _check_group(cls, group):
        check_nonnegative("weight_decay", group["weight_decay"], "weight_decay value")
        check_int("warmup_steps", group["warmup_steps"], low=0)
        check_real("r", check_number("r", group["r"]), low=0.0)
        check_real("weight_lr_power", check_number("weight_lr_power", group["weight_lr_power"]), low=0.0)
        super()._check_group(group)

    # -- the train/eval switch ------------------------------------------------------------

    @torch.no_grad()
    def eval(self):
        """Put the average ``x`` in the parameters, for evaluation (a no-op in eval mode).

        ``x = (y - (1 - beta) * z) / beta``, computed as ``y + (1 - 1/beta) * (z - y)``
        by ``torch.lerp``, as the reference does. Parameters that have not taken a
        step yet have no ``z``, and ``x = y = z`` for them: they are left as they are.
        """
        self._switch(to_train=False)

    @torch.no_grad()
    def train(self):
        """Put ``y = (1 - beta) * z + beta * x`` back in the parameters, for training (a no-op in train mode)."""
        self._switch(to_train=True)

    def _switch(self, to_train):
        for group in self.param_groups:
            if group["train_mode"] == to_train:
                continue
            beta = self._beta(group)
            weight = 1 - beta if to_train else 1 - 1 / beta   # y = lerp(x, z, 1 - beta); x = lerp(y, z, 1 - 1/beta)
            for p in group["params"]:
                state = self.state.get(p)
                if state and "z" in state:
                    p.lerp_(state["z"], weight)
            group["train_mode"] = to_train

    def __setstate__(self, state):
        """Restore from a pickle or ``load_state_dict``.

        The reference's default is ``foreach=True``; this class has only the for-loop,
        which gives the same numbers, so a loaded ``foreach=True`` becomes ``None``.
        """
        for group in state.get("param_groups", ()):
            if group.get("foreach") is True:
                group["foreach"] = None
        super().__setstate__(state)

    # -- the step -------------------------------------------------------------------------

    @torch.no_grad()
    def step(self, closure=None):
        """Take one step from ``y`` on every parameter with a gradient; return ``closure()``'s loss.

        Raises ``RuntimeError`` in eval mode: call ``optimizer.train()`` first.
        """
        for index, group in enumerate(self.param_groups):
            if not group["train_mode"]:
                raise RuntimeError(
                    f"{type(self).__name__}.step() was called in eval mode (param_groups[{index}]): call "
                    f"optimizer.train() before training and optimizer.eval() before evaluating or saving "
                    f"(the parameters hold y in train mode and the average x in eval mode)")
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self._recheck()
        all_state, update = self.state, self._update
        for group in self.param_groups:
            t = group["k"] + 1
            lr = group["scheduled_lr"] = warmup_lr(group["lr"], t, group["warmup_steps"])
            lr_max = group["lr_max"] = max(lr, group["lr_max"])
            c, group["weight_sum"] = averaging_weight(t, lr_max, group["weight_sum"], r=group["r"],
                                                      weight_lr_power=group["weight_lr_power"])
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if g.is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
                state = all_state.get(p)
                if not state:
                    state = all_state[p] = {}
                    self._init_state(p, state, group)
                update(p, g, state, group, t, lr, c)
            group["k"] = t
        return loss

