"""Stochastic gradient descent, with heavy-ball (Polyak) or Nesterov momentum."""
from __future__ import annotations

from .._checks import check_flag, check_nonnegative, check_number
from ._base import BaseOptimizer

__all__ = ["sgd_update", "SGD"]


def sgd_update(theta, g, m, *, lr, beta=0.0, tau=0.0, weight_decay=0.0, nesterov=False):
    """One SGD step on ``theta``, in place; returns the momentum buffer ``m_t``.

    With ``lambda = weight_decay``, ``beta`` the momentum coefficient and ``tau``
    the dampening::

        g_t     <- g_t + lambda * theta_{t-1}          (if lambda != 0)
        m_1      = g_1                                 (the buffer starts as the first gradient)
        m_t      = beta * m_{t-1} + (1 - tau) * g_t    (t > 1)
        d_t      = m_t,  or  g_t + beta * m_t          (Nesterov)
        theta_t  = theta_{t-1} - lr * d_t

    Without momentum (``beta = 0``) there is no buffer and ``d_t = g_t``.

    Parameters
    ----------
    theta : Tensor
        The parameters, updated in place (call under ``torch.no_grad()`` if
        ``theta`` requires grad).
    g : Tensor
        The gradient ``g_t``; it is not modified.
    m : Tensor or None
        The momentum buffer ``m_{t-1}``, updated in place; ``None`` at the first
        step, when the buffer is created as a copy of ``g_1``.
    lr : float
        The learning rate alpha.
    beta, tau, weight_decay : float
        Momentum coefficient, dampening and L2 coefficient lambda.
    nesterov : bool
        Use the Nesterov direction ``g_t + beta * m_t``.

    Returns
    -------
    Tensor or None
        The buffer ``m_t``; when ``beta = 0``, ``m`` as it was given (``None`` in practice).
    """
    if weight_decay != 0:
        g = g.add(theta, alpha=weight_decay)         # g_t <- g_t + lambda theta_{t-1}
    d = g                                            # d_t = g_t (plain SGD)
    if beta != 0:
        if m is None:
            m = g.clone()                            # m_1 = g_1
        else:
            m.mul_(beta).add_(g, alpha=1 - tau)      # m_t = beta m_{t-1} + (1 - tau) g_t
        d = g.add(m, alpha=beta) if nesterov else m  # d_t = g_t + beta m_t (Nesterov) or m_t
    theta.add_(d, alpha=-lr)                         # theta_t = theta_{t-1} - lr d_t
    return m


class SGD(BaseOptimizer):
    """Stochastic gradient descent with momentum; a drop-in for ``torch.optim.SGD``.

    Each step applies ``sgd_update`` to every parameter with a gradient.
    Momentum is Polyak's heavy ball (Polyak, 1964); ``nesterov=True`` gives the
    Nesterov form of Sutskever et al. (2013).

    Parameters
    ----------
    params : iterable
        Parameters (or named parameters, or dicts defining parameter groups).
    lr : float, default 1e-3
        The learning rate alpha.
    momentum : float, default 0
        The momentum coefficient beta (``>= 0``).
    dampening : float, default 0
        The dampening tau: the new gradient enters the buffer with weight ``1 - tau``.
    weight_decay : float, default 0
        The L2 coefficient lambda (``>= 0``), added to the gradient as ``lambda * theta``.
    nesterov : bool, default False
        Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.
    maximize : bool, default False
        Ascend the objective (the gradient's sign is flipped).
    foreach, differentiable, fused
        Accepted for compatibility with ``torch.optim.SGD``; only the defaults
        (or ``foreach=False``, ``fused=False``) are allowed.

    Notes
    -----
    Two conventions of ``torch.optim.SGD`` are reproduced on purpose:

    - the buffer starts as the first gradient, ``m_1 = g_1``, not at zero, so
      dampening only acts from the second step on;
    - ``lr`` multiplies the whole buffer (``theta -= lr * m``), whereas
      Sutskever et al. put ``lr`` inside it (``m = beta * m + lr * g``;
      ``theta -= m``). The two agree while ``lr`` is constant.

    The state of each parameter is ``{"momentum_buffer": m}``, created at its
    first step and only when ``momentum != 0``. Sparse gradients (which torch
    accepts) are rejected.
    """

    _SENSELESS = (
        ("momentum", lambda g: g["momentum"] > 1, "makes the momentum buffer grow geometrically, so the steps diverge"),
        ("dampening", lambda g: not 0 <= g["dampening"] <= 1,
         "scales each new gradient by 1 - dampening, which is negative (uphill) or above 1 outside [0, 1]"),
    )

    _TORCH_FLAG_DEFAULTS = {"nesterov": False, "maximize": False, "foreach": None, "differentiable": False, "fused": False}

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    @classmethod
    def _check_group(cls, group):
        check_nonnegative("lr", group["lr"], "learning rate")
        momentum = check_nonnegative("momentum", group["momentum"], "momentum value")
        check_nonnegative("weight_decay", group["weight_decay"], "weight_decay value")
        dampening = check_number("dampening", group["dampening"])
        if check_flag("nesterov", group["nesterov"]) and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening "
                             f"(got momentum={momentum}, dampening={dampening})")
        super()._check_group(group)

    def _update(self, p, g, state, group):
        m = sgd_update(p, g, state.get("momentum_buffer"), lr=group["lr"], beta=group["momentum"],
                       tau=group["dampening"], weight_decay=group["weight_decay"],
                       nesterov=group["nesterov"])
        if m is not None:
            state["momentum_buffer"] = m
