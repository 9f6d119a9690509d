"""AdaGrad: per-coordinate step sizes from the running sum of squared gradients."""
from __future__ import annotations

import torch

from .._checks import check_nonnegative
from ._base import EPS_VANISHES, BaseOptimizer, eps_vanishes_in_half_precision, new_step

__all__ = ["adagrad_update", "Adagrad"]


def adagrad_update(theta, g, s, t, *, lr, eps, lr_decay=0.0, weight_decay=0.0):
    """One AdaGrad step on ``theta`` and its accumulator ``s``, in place.

    ``s`` is the running sum of squared gradients (``state["sum"]`` in torch),
    and ``lambda = weight_decay``::

        g_t      <- g_t + lambda * theta_{t-1}        (if lambda != 0)
        alpha_t   = lr / (1 + (t - 1) * lr_decay)
        s_t       = s_{t-1} + g_t^2
        theta_t   = theta_{t-1} - alpha_t * g_t / (sqrt(s_t) + eps)

    Parameters
    ----------
    theta : Tensor
        The parameters, updated in place (call under ``torch.no_grad()`` if
        ``theta`` requires grad).
    g : Tensor
        The gradient ``g_t``; it is not modified.
    s : Tensor
        The accumulator ``s_{t-1}``, updated in place to ``s_t``.
    t : int
        The step, counted from 1.
    lr, eps, lr_decay, weight_decay : float
        The learning rate alpha, the denominator's epsilon, the decay of the
        learning rate with ``t``, and the L2 coefficient lambda.
    """
    if weight_decay != 0:
        g = g.add(theta, alpha=weight_decay)            # g_t <- g_t + lambda theta_{t-1}
    lr_t = lr / (1 + (t - 1) * lr_decay)                # alpha_t = alpha / (1 + (t - 1) lr_decay)
    s.addcmul_(g, g)                                    # s_t = s_{t-1} + g_t^2
    theta.addcdiv_(g, s.sqrt().add_(eps), value=-lr_t)  # theta_t = theta_{t-1} - alpha_t g_t / (sqrt(s_t) + eps)


class Adagrad(BaseOptimizer):
    """AdaGrad (Duchi, Hazan & Singer, 2011); a drop-in for ``torch.optim.Adagrad``.

    Each step applies ``adagrad_update`` to every parameter with a gradient.

    Parameters
    ----------
    params : iterable
        Parameters (or named parameters, or dicts defining parameter groups).
    lr : float, default 1e-2
        The learning rate alpha.
    lr_decay : float, default 0
        The step-``t`` learning rate is ``alpha / (1 + (t - 1) * lr_decay)``.
    weight_decay : float, default 0
        The L2 coefficient lambda, added to the gradient as ``lambda * theta``.
    initial_accumulator_value : float, default 0
        The starting value ``s_0`` of every entry of the accumulator.
    eps : float, default 1e-10
        Added to ``sqrt(s_t)`` in the denominator.
    foreach, differentiable, fused
        Accepted for compatibility with ``torch.optim.Adagrad``; only the
        defaults (or ``foreach=False``, ``fused=False``) are allowed.
    maximize : bool, default False
        Ascend the objective (the gradient's sign is flipped).

    Notes
    -----
    As in torch, the state is created when the optimizer is built, not at the
    first step: every parameter starts with ``{"step": tensor(0.), "sum": s_0}``.
    ``state["sum"]`` is the book's ``s_t``. Sparse gradients (which torch
    accepts) are rejected.
    """

    _SENSELESS = (
        ("eps", lambda g: g["eps"] == 0 and g["initial_accumulator_value"] == 0,
         "with an initial accumulator of 0 divides 0 by 0 (NaN) wherever a gradient entry has always been 0"),
        ("eps", lambda g: g["initial_accumulator_value"] == 0 and eps_vanishes_in_half_precision(g), EPS_VANISHES),
    )

    _TORCH_FLAG_DEFAULTS = {"foreach": None, "maximize": False, "differentiable": False, "fused": None}

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, self.state[p], group)

    @classmethod
    def _check_group(cls, group):
        check_nonnegative("lr", group["lr"], "learning rate")
        check_nonnegative("lr_decay", group["lr_decay"], "lr_decay value")
        check_nonnegative("weight_decay", group["weight_decay"], "weight_decay value")
        check_nonnegative("initial_accumulator_value", group["initial_accumulator_value"],
                          "initial_accumulator_value value")
        check_nonnegative("eps", group["eps"], "epsilon value")
        super()._check_group(group)

    def _init_state(self, p, state, group):
        state["step"] = new_step()
        state["sum"] = torch.full_like(p, group["initial_accumulator_value"],
                                       memory_format=torch.preserve_format)

    def share_memory(self):
        """Move every accumulator to shared memory (for Hogwild-style training), as torch does."""
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["sum"].share_memory_()

    def _update(self, p, g, state, group):
        state["step"] += 1
        adagrad_update(p, g, state["sum"], state["step"].item(), lr=group["lr"], eps=group["eps"],
                       lr_decay=group["lr_decay"], weight_decay=group["weight_decay"])
