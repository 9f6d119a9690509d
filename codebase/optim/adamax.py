"""Adamax: Adam with the infinity norm of the past gradients in the denominator."""
from __future__ import annotations

import torch

from .._checks import check_nonnegative
from ._base import BaseOptimizer, new_step
from .adam import Adam, check_betas

__all__ = ["adamax_update", "Adamax"]


def adamax_update(theta, g, m, u, t, *, lr, beta1, beta2, eps, weight_decay=0.0):
    """One Adamax step on ``theta``, ``m`` and ``u``, in place.

    ``m`` is Adam's first moment (torch's ``exp_avg``); ``u`` replaces Adam's
    ``v``: an exponentially weighted infinity norm of the past gradients
    (torch's ``exp_inf``), both starting at zero. ``lambda = weight_decay`` is an
    L2 penalty added to the gradient::

        g_t      <- g_t + lambda * theta_{t-1}                 (if lambda != 0)
        m_t       = beta1 * m_{t-1} + (1 - beta1) * g_t
        u_t       = max(beta2 * u_{t-1}, |g_t| + eps)
        theta_t   = theta_{t-1} - lr / (1 - beta1^t) * m_t / u_t

    ``u`` needs no bias correction: a maximum is not pulled towards its zero
    start the way an average is (``u_1 = |g_1| + eps`` already has the size of
    the gradient). ``eps`` sits inside the maximum, as in torch, not beside
    ``u`` in the denominator as in Kingma & Ba's Algorithm 2, which has no
    ``eps`` at all; it keeps ``u_t >= eps`` when a gradient entry is zero.

    Parameters
    ----------
    theta : Tensor
        The parameters, updated in place (call under ``torch.no_grad()`` if
        ``theta`` requires grad).
    g : Tensor
        The gradient ``g_t``; it is not modified.
    m, u : Tensor
        ``m_{t-1}`` and ``u_{t-1}``, updated in place to ``m_t`` and ``u_t``.
    t : int
        The step, counted from 1.
    lr, beta1, beta2, eps, weight_decay : float
        The learning rate alpha, the decay rates of ``m`` and ``u``, the floor
        epsilon of ``u`` and the L2 coefficient lambda.
    """
    if weight_decay != 0:
        g = g.add(theta, alpha=weight_decay)                 # g_t <- g_t + lambda theta_{t-1}
    m.lerp_(g, 1 - beta1)                                    # m_t = beta1 m_{t-1} + (1 - beta1) g_t
    torch.maximum(u.mul_(beta2), g.abs().add_(eps), out=u)   # u_t = max(beta2 u_{t-1}, |g_t| + eps)
    bias1 = 1 - beta1 ** t                                   # bias correction of m only
    theta.addcdiv_(m, u, value=-lr / bias1)                  # theta_t = theta_{t-1} - lr m_t / (bias1 u_t)


class Adamax(BaseOptimizer):
    """Adamax (Kingma & Ba, 2015, Section 7.1); a drop-in for ``torch.optim.Adamax``.

    Each step applies ``adamax_update`` to every parameter with a gradient.

    Parameters
    ----------
    params : iterable
        Parameters (or named parameters, or dicts defining parameter groups).
    lr : float, default 2e-3
        The learning rate alpha.
    betas : tuple of two floats, default (0.9, 0.999)
        ``(beta1, beta2)``, the decay rates of ``m`` and ``u``, each in ``[0, 1)``.
    eps : float, default 1e-8
        The floor of ``u``: added to ``|g_t|`` inside the maximum.
    weight_decay : float, default 0
        The L2 coefficient lambda, added to the gradient (Adamax has no
        decoupled variant in torch).
    foreach, capturable, differentiable
        Accepted for compatibility with ``torch.optim.Adamax`` (where ``foreach``
        may be given by position); only the defaults (or ``foreach=False``) are allowed.
    maximize : bool, default False
        Ascend the objective (the gradient's sign is flipped).

    Notes
    -----
    The state of each parameter, created at its first step, is ``step`` (a 0-d
    tensor), ``exp_avg`` (``m``) and ``exp_inf`` (``u``).
    """

    _SENSELESS = tuple(entry for entry in Adam._SENSELESS if entry[0] == "eps")

    _TORCH_FLAG_DEFAULTS = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    @classmethod
    def _check_group(cls, group):
        check_nonnegative("lr", group["lr"], "learning rate")
        check_nonnegative("eps", group["eps"], "epsilon value")
        check_betas(group["betas"])
        check_nonnegative("weight_decay", group["weight_decay"], "weight_decay value")
        super()._check_group(group)

    def _init_state(self, p, state, group):
        state["step"] = new_step()
        state["exp_avg"] = torch.zeros_like(p)
        state["exp_inf"] = torch.zeros_like(p)

    def _update(self, p, g, state, group):
        state["step"] += 1
        beta1, beta2 = group["betas"]
        adamax_update(p, g, state["exp_avg"], state["exp_inf"], state["step"].item(), lr=group["lr"],
                      beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"])
