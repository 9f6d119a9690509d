"""Schedule-free SGD: SGD steps on ``z``, a running average ``x`` to evaluate, gradients taken between them."""
from __future__ import annotations

import torch

from .._checks import check_nonnegative, check_number
from .schedule_free import ScheduleFreeOptimizer

__all__ = ["schedule_free_sgd_update", "ScheduleFreeSGD"]


def schedule_free_sgd_update(y, g, z, *, lr, beta, c, weight_decay=0.0):
    """One schedule-free SGD step (Defazio et al., 2024), in place on ``y`` and ``z``.

    ``g_t`` is the gradient at ``y_{t-1}``, ``lambda = weight_decay`` an L2
    penalty added to it, ``c_t`` the averaging weight of
    :func:`~codebase.optim.schedule_free.averaging_weight` and ``beta`` the
    interpolation weight (``momentum`` in the class)::

        g_t  <- g_t + lambda * y_{t-1}                 (if lambda != 0)
        z_t   = z_{t-1} - lr * g_t
        x_t   = (1 - c_t) * x_{t-1} + c_t * z_t
        y_t   = (1 - beta) * z_t + beta * x_t

    ``x`` is never stored: putting the first three lines into the fourth gives
    ``y_t`` from ``y_{t-1}`` and ``z_{t-1}`` alone::

        y_t   = (1 - c_t) * y_{t-1} + c_t * z_{t-1} + lr * (beta * (1 - c_t) - 1) * g_t

    which is what the code computes, in the reference's order of operations, so
    the trajectories equal ``schedulefree.SGDScheduleFree``'s bit for bit.

    Parameters
    ----------
    y : Tensor
        The parameters (the model holds ``y`` in train mode), updated in place.
    g : Tensor
        The gradient ``g_t`` at ``y_{t-1}``; it is not modified.
    z : Tensor
        ``z_{t-1}``, updated in place to ``z_t``.
    lr : float
        This step's learning rate (after the warm-up).
    beta : float
        The interpolation weight, in ``(0, 1)``.
    c : float
        The averaging weight ``c_t``, in ``[0, 1]``.
    weight_decay : float
        The L2 coefficient lambda.
    """
    if weight_decay != 0:
        g = g.add(y, alpha=weight_decay)                # g_t <- g_t + lambda y_{t-1}
    y.lerp_(z, c)                                       # (1 - c_t) y_{t-1} + c_t z_{t-1}
    y.add_(g, alpha=lr * (beta * (1 - c) - 1))          # y_t = ... + lr (beta (1 - c_t) - 1) g_t
    z.sub_(g, alpha=lr)                                 # z_t = z_{t-1} - lr g_t


def check_interpolation(name, value, label):
    """Return ``value`` as a float after checking that it lies strictly between 0 and 1.

    ``eval()`` divides by it, and ``1`` would make ``y = x`` and freeze the average.
    """
    value = check_number(name, value)
    if not 0 < value < 1:
        raise ValueError(f"{label} must be between 0 and 1 exclusive: {value} ({name} must be in (0, 1))")
    return value


class ScheduleFreeSGD(ScheduleFreeOptimizer):
    """Schedule-free SGD (Defazio et al., 2024); a drop-in for ``schedulefree.SGDScheduleFree``.

    Each step applies :func:`~codebase.optim.schedule_free_sgd.schedule_free_sgd_update` to every parameter with a
    gradient. Call ``optimizer.train()`` before training (a step in eval mode
    raises ``RuntimeError``) and ``optimizer.eval()`` before evaluating or saving:
    the parameters hold ``y`` in train mode and the average ``x`` in eval mode.

    Parameters
    ----------
    params : iterable
        Parameters (or named parameters, or dicts defining parameter groups).
    lr : float, default 1.0
        The learning rate of the ``z`` sequence.
    momentum : float, default 0.9
        The interpolation weight beta of ``y = (1 - beta) z + beta x``, in ``(0, 1)``.
    weight_decay : float, default 0
        The coefficient lambda of an L2 penalty, taken at ``y``.
    warmup_steps : int, default 0
        The length of a linear warm-up of the learning rate (:func:`~codebase.optim.schedule_free.warmup_lr`).
    r : float, default 0
        The power of ``t`` in the averaging weights (:func:`~codebase.optim.schedule_free.averaging_weight`), ``>= 0``.
    weight_lr_power : float, default 2
        The power of the largest learning rate so far in the averaging weights, ``>= 0``.
    foreach : None or False
        Accepted for compatibility; only the for-loop exists here (the reference's
        default is ``True``; its ``False`` gives the same numbers).

    Notes
    -----
    The state of each parameter, created at its first step, is ``z`` (a copy of
    the parameter then). Each parameter group holds, as in the reference, the
    step counter ``k``, ``train_mode``, ``weight_sum`` (``W_t``), ``lr_max`` and
    ``scheduled_lr``, the learning rate of the last step. Unlike the reference,
    ``p.grad`` is left as it is (the reference adds the weight decay to it in place),
    every group must be in train mode for a step (the reference looks at the
    first only), and ``maximize`` does not exist, as in the reference.
    """

    def __init__(self, params, lr=1.0, momentum=0.9, weight_decay=0, warmup_steps=0, r=0.0, weight_lr_power=2,
                 foreach=None):
        defaults = dict(lr=lr, momentum=momentum, r=r, k=0, warmup_steps=warmup_steps, train_mode=False,
                        weight_sum=0.0, lr_max=-1.0, scheduled_lr=0.0, weight_lr_power=weight_lr_power,
                        weight_decay=weight_decay, foreach=foreach)
        super().__init__(params, defaults)

    @classmethod
    def _check_group(cls, group):
        check_nonnegative("lr", group["lr"], "learning rate")
        check_interpolation("momentum", group["momentum"], "Momentum")
        super()._check_group(group)

    def _beta(self, group):
        return group["momentum"]

    def _init_state(self, p, state, group):
        state["z"] = torch.clone(p, memory_format=torch.preserve_format)   # z_0 = y_0 = x_0

    def _update(self, p, g, state, group, t, lr, c):
        schedule_free_sgd_update(p, g, state["z"], lr=lr, beta=group["momentum"], c=c,
                                 weight_decay=group["weight_decay"])
