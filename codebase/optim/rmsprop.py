"""RMSProp: divide the step by a moving root mean square of recent gradients."""
from __future__ import annotations

import torch

from .._checks import check_flag, check_nonnegative
from ._base import EPS_VANISHES, BaseOptimizer, eps_vanishes_in_half_precision, new_step

__all__ = ["rmsprop_update", "RMSprop"]


def rmsprop_update(theta, g, v, *, lr, rho, eps, weight_decay=0.0, beta=0.0, m=None, g_bar=None):
    """One RMSProp step on ``theta`` and its state, in place.

    ``v`` is the moving average of squared gradients (``square_avg`` in torch),
    ``rho`` its decay rate (torch's ``alpha``!), ``beta`` the momentum
    coefficient with buffer ``m``, and ``g_bar`` the moving average of the
    gradients, kept only by the *centered* variant::

        g_t     <- g_t + lambda * theta_{t-1}               (if lambda != 0)
        v_t      = rho * v_{t-1} + (1 - rho) * g_t^2
        r_t      = sqrt(v_t) + eps
        centered:  g_bar_t = rho * g_bar_{t-1} + (1 - rho) * g_t
                   r_t     = sqrt(v_t - g_bar_t^2) + eps
        beta > 0:  m_t     = beta * m_{t-1} + g_t / r_t
                   theta_t = theta_{t-1} - lr * m_t
        beta = 0:  theta_t = theta_{t-1} - lr * g_t / r_t

    ``v``, ``m`` and ``g_bar`` all start at zero.

    Parameters
    ----------
    theta : Tensor
        The parameters, updated in place (call under ``torch.no_grad()`` if
        ``theta`` requires grad).
    g : Tensor
        The gradient ``g_t``; it is not modified.
    v : Tensor
        ``v_{t-1}``, updated in place to ``v_t``.
    lr, rho, eps, weight_decay, beta : float
        The learning rate alpha, the decay rate, the denominator's epsilon, the
        L2 coefficient lambda and the momentum coefficient.
    m : Tensor, optional
        The momentum buffer, updated in place; needed when ``beta > 0``.
    g_bar : Tensor, optional
        The moving average of gradients, updated in place; giving it selects
        the centered variant (Graves, 2013).
    """
    if weight_decay != 0:
        g = g.add(theta, alpha=weight_decay)                     # g_t <- g_t + lambda theta_{t-1}
    v.mul_(rho).addcmul_(g, g, value=1 - rho)                    # v_t = rho v_{t-1} + (1 - rho) g_t^2
    if g_bar is None:
        r = v.sqrt().add_(eps)                                   # r_t = sqrt(v_t) + eps
    else:
        g_bar.lerp_(g, 1 - rho)                                  # g_bar_t = rho g_bar_{t-1} + (1 - rho) g_t
        r = v.addcmul(g_bar, g_bar, value=-1).sqrt_().add_(eps)  # r_t = sqrt(v_t - g_bar_t^2) + eps
    if beta > 0:
        m.mul_(beta).addcdiv_(g, r)                              # m_t = beta m_{t-1} + g_t / r_t
        theta.add_(m, alpha=-lr)                                 # theta_t = theta_{t-1} - lr m_t
    else:
        theta.addcdiv_(g, r, value=-lr)                          # theta_t = theta_{t-1} - lr g_t / r_t


class RMSprop(BaseOptimizer):
    """RMSProp (Tieleman & Hinton, 2012); a drop-in for ``torch.optim.RMSprop``.

    Each step applies ``rmsprop_update`` to every parameter with a gradient.

    Parameters
    ----------
    params : iterable
        Parameters (or named parameters, or dicts defining parameter groups).
    lr : float, default 1e-2
        The learning rate alpha.
    alpha : float, default 0.99
        The decay rate rho of the moving average ``v`` of squared gradients.
        (torch calls it ``alpha``; in the book alpha is the learning rate.)
    eps : float, default 1e-8
        Added to the root mean square in the denominator.
    weight_decay : float, default 0
        The L2 coefficient lambda, added to the gradient as ``lambda * theta``.
    momentum : float, default 0
        The momentum coefficient beta; the buffer starts at zero (unlike SGD's).
    centered : bool, default False
        Divide by an estimate of the standard deviation of the gradient,
        ``sqrt(v_t - g_bar_t^2)``, instead of its root mean square (Graves, 2013).
    capturable, foreach, differentiable
        Accepted for compatibility with ``torch.optim.RMSprop``; only the
        defaults (or ``foreach=False``) are allowed.
    maximize : bool, default False
        Ascend the objective (the gradient's sign is flipped).

    Notes
    -----
    The state of each parameter, created at its first step, is ``step``,
    ``square_avg`` (``v``), plus ``momentum_buffer`` (``m``) when
    ``momentum > 0`` and ``grad_avg`` (``g_bar``) when ``centered``. As in
    torch, ``eps`` is added after the square root (TensorFlow adds it inside).
    """

    _SENSELESS = (
        ("alpha", lambda g: g["alpha"] > 1,
         "weighs the new squared gradient by 1 - alpha < 0, so the average can turn negative and its root NaN"),
        ("eps", lambda g: g["eps"] == 0, "divides 0 by 0 (NaN) wherever a gradient entry and its average are 0"),
        ("eps", eps_vanishes_in_half_precision, EPS_VANISHES),
    )

    _TORCH_FLAG_DEFAULTS = {"momentum": 0, "centered": False, "foreach": None, "maximize": False,
                           "differentiable": False, "capturable": False}

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False, differentiable=False):
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    @classmethod
    def _check_group(cls, group):
        check_nonnegative("lr", group["lr"], "learning rate")
        check_nonnegative("eps", group["eps"], "epsilon value")
        check_nonnegative("momentum", group["momentum"], "momentum value")
        check_nonnegative("weight_decay", group["weight_decay"], "weight_decay value")
        check_nonnegative("alpha", group["alpha"], "alpha value")
        check_flag("centered", group["centered"])
        super()._check_group(group)

    def _init_state(self, p, state, group):
        state["step"] = new_step()
        state["square_avg"] = torch.zeros_like(p)
        if group["momentum"] > 0:
            state["momentum_buffer"] = torch.zeros_like(p)
        if group["centered"]:
            state["grad_avg"] = torch.zeros_like(p)

    def _update(self, p, g, state, group):
        state["step"] += 1
        rmsprop_update(p, g, state["square_avg"], lr=group["lr"], rho=group["alpha"], eps=group["eps"],
                       weight_decay=group["weight_decay"], beta=group["momentum"],
                       m=state.get("momentum_buffer"),
                       g_bar=state["grad_avg"] if group["centered"] else None)
