"""AdaDelta: RMSProp whose step has the units of the parameters."""
from __future__ import annotations

import torch

from .._checks import check_interval, check_nonnegative
from ._base import BaseOptimizer, new_step

__all__ = ["adadelta_update", "Adadelta"]


def adadelta_update(theta, g, v, u, *, lr, rho, eps, weight_decay=0.0):
    """One AdaDelta step on ``theta`` and its two moving averages, in place.

    ``v`` is the moving average of squared gradients (Zeiler's ``E[g^2]``,
    torch's ``square_avg``) and ``u`` the moving average of squared updates
    (Zeiler's ``E[dx^2]``, torch's ``acc_delta``)::

        g_t         <- g_t + lambda * theta_{t-1}                 (if lambda != 0)
        v_t          = rho * v_{t-1} + (1 - rho) * g_t^2
        delta_t      = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) * g_t
        u_t          = rho * u_{t-1} + (1 - rho) * delta_t^2
        theta_t      = theta_{t-1} - lr * delta_t

    Zeiler's paper has no learning rate (``lr = 1``, the default) and writes
    the update with the minus sign inside, ``Delta x_t = -delta_t``.

    Parameters
    ----------
    theta : Tensor
        The parameters, updated in place (call under ``torch.no_grad()`` if
        ``theta`` requires grad).
    g : Tensor
        The gradient ``g_t``; it is not modified.
    v, u : Tensor
        ``v_{t-1}`` and ``u_{t-1}``, updated in place to ``v_t`` and ``u_t``.
    lr, rho, eps, weight_decay : float
        The scale of the step, the decay rate of both averages, the epsilon
        inside both square roots and the L2 coefficient lambda.
    """
    if weight_decay != 0:
        g = g.add(theta, alpha=weight_decay)                   # g_t <- g_t + lambda theta_{t-1}
    v.mul_(rho).addcmul_(g, g, value=1 - rho)                  # v_t = rho v_{t-1} + (1 - rho) g_t^2
    delta = (u + eps).sqrt_().div_((v + eps).sqrt_()).mul_(g)  # delta_t = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) * g_t
    u.mul_(rho).addcmul_(delta, delta, value=1 - rho)          # u_t = rho u_{t-1} + (1 - rho) delta_t^2
    theta.add_(delta, alpha=-lr)                               # theta_t = theta_{t-1} - lr delta_t


class Adadelta(BaseOptimizer):
    """AdaDelta (Zeiler, 2012); a drop-in for ``torch.optim.Adadelta``.

    Each step applies ``adadelta_update`` to every parameter with a gradient.

    Parameters
    ----------
    params : iterable
        Parameters (or named parameters, or dicts defining parameter groups).
    lr : float, default 1.0
        The learning rate alpha, which scales the step ``delta_t``; Zeiler's
        method has none (alpha = 1).
    rho : float, default 0.9
        The decay rate of both moving averages, in ``[0, 1]``.
    eps : float, default 1e-6
        Added inside both square roots; it also sets the size of the first steps,
        since ``u_0 = 0``.
    weight_decay : float, default 0
        The L2 coefficient lambda, added to the gradient as ``lambda * theta``.
    foreach, capturable, differentiable
        Accepted for compatibility with ``torch.optim.Adadelta``; only the
        defaults (or ``foreach=False``) are allowed.
    maximize : bool, default False
        Ascend the objective (the gradient's sign is flipped).

    Notes
    -----
    The state of each parameter, created at its first step, is ``step``,
    ``square_avg`` (``v``) and ``acc_delta`` (``u``).
    """

    _SENSELESS = (
        ("eps", lambda g: g["eps"] == 0, "makes every step sqrt(u + eps) / sqrt(v + eps) * g = 0: nothing moves"),
    )

    _TORCH_FLAG_DEFAULTS = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    @classmethod
    def _check_group(cls, group):
        check_nonnegative("lr", group["lr"], "learning rate")
        check_interval("rho", group["rho"], "rho value", high=1.0, high_open=False)
        check_nonnegative("eps", group["eps"], "epsilon value")
        check_nonnegative("weight_decay", group["weight_decay"], "weight_decay value")
        super()._check_group(group)

    def _init_state(self, p, state, group):
        state["step"] = new_step()
        state["square_avg"] = torch.zeros_like(p)
        state["acc_delta"] = torch.zeros_like(p)

    def _update(self, p, g, state, group):
        state["step"] += 1
        adadelta_update(p, g, state["square_avg"], state["acc_delta"], lr=group["lr"], rho=group["rho"],
                        eps=group["eps"], weight_decay=group["weight_decay"])
