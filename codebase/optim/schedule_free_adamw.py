"""Schedule-free AdamW: schedule-free SGD on the gradient divided by Adam's ``sqrt(v_hat) + eps``."""
from __future__ import annotations

import torch

from .._checks import check_nonnegative
from .adam import check_betas
from .schedule_free import ScheduleFreeOptimizer
from .schedule_free_sgd import check_interpolation

__all__ = ["schedule_free_adamw_update", "ScheduleFreeAdamW"]


def schedule_free_adamw_update(y, g, z, v, t, *, lr, beta1, beta2, eps, c, weight_decay=0.0):
    """One schedule-free AdamW step (Defazio et al., 2024), in place on ``y``, ``z`` and ``v``.

    Adam's second moment ``v`` scales the gradient; there is no first moment
    ``m``: ``beta1`` is the interpolation weight of ``y`` instead, and the
    averaging takes the place of momentum. ``lambda = weight_decay`` is added
    after the scaling, at ``y``, so it is not divided by ``sqrt(v_hat)``::

        v_t     = beta2 * v_{t-1} + (1 - beta2) * g_t^2
        v_hat_t = v_t / (1 - beta2^t)
        u_t     = g_t / (sqrt(v_hat_t) + eps) + lambda * y_{t-1}
        z_t     = z_{t-1} - lr * u_t
        x_t     = (1 - c_t) * x_{t-1} + c_t * z_t
        y_t     = (1 - beta1) * z_t + beta1 * x_t

    As in :func:`~codebase.optim.schedule_free_sgd.schedule_free_sgd_update`,
    ``x`` is not stored and ``y_t`` is computed from ``y_{t-1}`` and ``z_{t-1}``::

        y_t     = (1 - c_t) * y_{t-1} + c_t * z_{t-1} + lr * (beta1 * (1 - c_t) - 1) * u_t

    in the reference's order of operations, so the trajectories equal
    ``schedulefree.AdamWScheduleFree``'s bit for bit.

    Parameters
    ----------
    y, g, z : Tensor
        As in ``schedule_free_sgd_update``: the parameters and ``z``, updated in
        place, and the gradient at ``y_{t-1}``, which is not modified.
    v : Tensor
        ``v_{t-1}`` (the reference's ``exp_avg_sq``), updated in place to ``v_t``.
    t : int
        The step, counted from 1.
    lr : float
        This step's learning rate (after the warm-up).
    beta1, beta2 : float
        The interpolation weight of ``y`` and the decay rate of ``v``.
    eps : float
        Added to ``sqrt(v_hat_t)``.
    c : float
        The averaging weight ``c_t``.
    weight_decay : float
        The coefficient lambda.
    """
    v.mul_(beta2).addcmul_(g, g, value=1 - beta2)          # v_t = beta2 v_{t-1} + (1 - beta2) g_t^2
    denom = v.div(1 - beta2 ** t).sqrt_().add_(eps)        # sqrt(v_hat_t) + eps
    u = torch.div(g, denom, out=denom)                     # g_t / (sqrt(v_hat_t) + eps), in denom's memory
    if weight_decay != 0:
        u.add_(y, alpha=weight_decay)                      # u_t = ... + lambda y_{t-1}
    y.lerp_(z, c)                                          # (1 - c_t) y_{t-1} + c_t z_{t-1}
    y.add_(u, alpha=lr * (beta1 * (1 - c) - 1))            # y_t = ... + lr (beta1 (1 - c_t) - 1) u_t
    z.sub_(u, alpha=lr)                                    # z_t = z_{t-1} - lr u_t


class ScheduleFreeAdamW(ScheduleFreeOptimizer):
    """Schedule-free AdamW (Defazio et al., 2024); a drop-in for ``schedulefree.AdamWScheduleFree``.

    Each step applies :func:`~codebase.optim.schedule_free_adamw.schedule_free_adamw_update`
    to every parameter with a gradient. As with ``ScheduleFreeSGD``, call
    ``optimizer.train()`` before training and ``optimizer.eval()`` before
    evaluating or saving.

    Parameters
    ----------
    params : iterable
        Parameters (or named parameters, or dicts defining parameter groups).
    lr : float, default 0.0025
        The learning rate of the ``z`` sequence.
    betas : tuple of two floats, default (0.9, 0.999)
        ``(beta1, beta2)``: the interpolation weight of ``y``, in ``(0, 1)``, and
        the decay rate of ``v``, in ``[0, 1)``.
    eps : float, default 1e-8
        Added to ``sqrt(v_hat_t)`` in the denominator.
    weight_decay : float, default 0
        The coefficient lambda, added at ``y`` to the scaled gradient.
    warmup_steps : int, default 0
        The length of a linear warm-up of the learning rate (:func:`~codebase.optim.schedule_free.warmup_lr`).
    r : float, default 0
        The power of ``t`` in the averaging weights (:func:`~codebase.optim.schedule_free.averaging_weight`).
    weight_lr_power : float, default 2
        The power of the largest learning rate so far in the averaging weights.
    foreach : None or False
        Accepted for compatibility; only the for-loop exists here.

    Notes
    -----
    The state of each parameter is ``z`` and ``exp_avg_sq`` (``v``); the groups
    hold the reference's counters, as in ``ScheduleFreeSGD``. The bias correction
    of ``v`` uses the group's step counter. The reference checks none of its
    arguments; this class rejects what the formulas cannot use (a ``beta1`` of 0
    would make ``eval()`` divide by zero).
    """

    def __init__(self, params, lr=0.0025, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, warmup_steps=0, r=0.0,
                 weight_lr_power=2.0, foreach=None):
        defaults = dict(lr=lr, betas=betas, eps=eps, r=r, k=0, warmup_steps=warmup_steps, train_mode=False,
                        weight_sum=0.0, lr_max=-1.0, scheduled_lr=0.0, weight_lr_power=weight_lr_power,
                        weight_decay=weight_decay, foreach=foreach)
        super().__init__(params, defaults)

    @classmethod
    def _check_group(cls, group):
        check_nonnegative("lr", group["lr"], "learning rate")
        check_betas(group["betas"])
        check_interpolation("betas[0]", group["betas"][0], "beta1")
        check_nonnegative("eps", group["eps"], "epsilon value")
        super()._check_group(group)

    def _beta(self, group):
        return group["betas"][0]

    def _init_state(self, p, state, group):
        state["z"] = torch.clone(p, memory_format=torch.preserve_format)   # z_0 = y_0 = x_0
        state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)

    def _update(self, p, g, state, group, t, lr, c):
        beta1, beta2 = group["betas"]
        schedule_free_adamw_update(p, g, state["z"], state["exp_avg_sq"], t, lr=lr, beta1=beta1, beta2=beta2,
                                   eps=group["eps"], c=c, weight_decay=group["weight_decay"])
