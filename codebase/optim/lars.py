"""LARS: SGD with momentum whose step in each layer is scaled by a trust ratio ||theta|| / ||g||."""
from __future__ import annotations

import torch

from .._checks import check_flag, check_interval, check_nonnegative
from ._base import BaseOptimizer

__all__ = ["lars_trust_ratio", "lars_update", "LARS"]


def lars_trust_ratio(theta, g, *, eta, weight_decay):
    """The layer-wise trust ratio of LARS, as a 0-d tensor::

        r_t = eta * ||theta_{t-1}|| / (||g_t|| + lambda * ||theta_{t-1}||)

    with ``r_t = 1`` when ``||theta_{t-1}|| = 0`` (a layer initialised at zero
    takes plain SGD steps until it is not zero) or when the denominator is 0
    (a zero gradient and no decay: the step is zero anyway). The norms are
    Frobenius norms over the whole tensor.
    """
    theta_norm = torch.linalg.norm(theta)                 # ||theta_{t-1}||
    g_norm = torch.linalg.norm(g)                         # ||g_t||
    denom = g_norm + weight_decay * theta_norm            # ||g_t|| + lambda ||theta_{t-1}||
    one = torch.ones_like(theta_norm)
    ratio = torch.where(denom > 0, eta * theta_norm / denom, one)
    return torch.where(theta_norm > 0, ratio, one)        # r_t = 1 where a norm vanishes


def lars_update(theta, g, m, *, lr, beta=0.9, tau=0.0, weight_decay=0.0, eta=1e-3, nesterov=False,
                adapt=True):
    """One LARS step on ``theta`` (You, Gitman & Ginsburg, 2017), in place; returns ``r_t``.

    With ``lambda = weight_decay``, ``beta`` the momentum coefficient, ``tau`` the
    dampening and ``eta`` the trust coefficient::

        r_t      = eta * ||theta_{t-1}|| / (||g_t|| + lambda ||theta_{t-1}||)   (see lars_trust_ratio)
        g_t     <- r_t * (g_t + lambda * theta_{t-1})
        m_t      = beta * m_{t-1} + (1 - tau) * g_t                            (m_0 = 0)
        d_t      = m_t,  or  g_t + beta * m_t                                  (Nesterov)
        theta_t  = theta_{t-1} - lr * d_t

    Without momentum (``beta = 0``) there is no buffer and ``d_t = g_t``. With
    ``adapt=False`` (biases and the scales of normalisation layers) the first two
    lines are skipped: no trust ratio and no weight decay, plain SGD with momentum.

    Parameters
    ----------
    theta : Tensor
        The parameters, updated in place (call under ``torch.no_grad()``).
    g : Tensor
        The gradient ``g_t``; it is not modified.
    m : Tensor or None
        The momentum buffer ``m_{t-1}`` (zeros before the first step), updated in
        place; ``None`` when ``beta = 0``.
    lr, beta, tau, weight_decay, eta : float
        The learning rate alpha (the global rate, multiplied by ``r_t``), momentum,
        dampening, L2 coefficient lambda and trust coefficient eta.
    nesterov, adapt : bool
        Nesterov's direction; whether this tensor gets the trust ratio and the decay.

    Returns
    -------
    Tensor or None
        The trust ratio ``r_t`` (a 0-d tensor), ``None`` when ``adapt=False``.
    """
    r = None                                             # not adapted: no ratio, no decay
    if adapt:
        r = lars_trust_ratio(theta, g, eta=eta, weight_decay=weight_decay)
        if weight_decay != 0:
            g = g.add(theta, alpha=weight_decay).mul_(r)  # g_t <- r_t (g_t + lambda theta_{t-1})
        else:
            g = g.mul(r)                                  # g_t <- r_t g_t (one pass less without decay)
    d = g                                                # d_t = g_t (no momentum)
    if beta > 0:
        m.mul_(beta).add_(g, alpha=1 - tau)              # m_t = beta m_{t-1} + (1 - tau) g_t
        d = g.add(m, alpha=beta) if nesterov else m      # d_t = g_t + beta m_t (Nesterov) or m_t
    theta.add_(d, alpha=-lr)                             # theta_t = theta_{t-1} - lr d_t
    return r


class LARS(BaseOptimizer):
    """LARS, layer-wise adaptive rate scaling (You, Gitman & Ginsburg, 2017).

    A drop-in for ``pytorch_optimizer.LARS`` (pytorch-optimizer 4.1), with its
    conventions: each tensor with two or more dimensions (a weight matrix or a
    convolution kernel) gets its own trust ratio and the weight decay; tensors
    with one dimension or none (biases, the scales and shifts of normalisation
    layers) take plain momentum-SGD steps without decay, the exclusion You et
    al. recommend for large-batch training. Each step applies ``lars_update``.

    Parameters
    ----------
    params : iterable
        Parameters (or named parameters, or dicts defining parameter groups).
    lr : float, default 1e-3
        The global learning rate alpha.
    weight_decay : float, default 0
        The L2 coefficient lambda (``>= 0``), added to the gradient before the
        trust ratio scales it; it also enters the ratio's denominator.
    momentum : float, default 0.9
        The momentum coefficient beta, in ``[0, 1)``.
    dampening : float, default 0
        The dampening tau, in ``[0, 1)``.
    trust_coefficient : float, default 1e-3
        eta (``>= 0``), the paper's trust coefficient.
    nesterov : bool, default False
        Use the Nesterov direction ``g_t + beta * m_t``.
    foreach : None or False
        Accepted for compatibility; only the for-loop path exists here.
    maximize : bool, default False
        Ascend the objective (the gradient's sign is flipped).

    Notes
    -----
    The state of each parameter is ``momentum_buffer`` (zeros before the first
    step, unlike ``torch.optim.SGD``, whose buffer starts as the first gradient),
    present only when ``momentum > 0``, and ``trust_ratio``, the last ``r_t``
    (a 0-d tensor, 1 for tensors that are not adapted). The reference keeps a
    ``step`` count in each group and no ratio; it also overwrites ``p.grad``
    with the scaled direction, which this class leaves untouched.
    """

    def __init__(self, params, lr=1e-3, weight_decay=0.0, momentum=0.9, dampening=0.0, trust_coefficient=1e-3,
                 nesterov=False, foreach=None, maximize=False):
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, dampening=dampening,
                        trust_coefficient=trust_coefficient, nesterov=nesterov, foreach=foreach,
                        maximize=maximize)
        super().__init__(params, defaults)

    @classmethod
    def _check_group(cls, group):
        check_nonnegative("lr", group["lr"], "learning rate")
        check_nonnegative("weight_decay", group["weight_decay"], "weight_decay value")
        check_interval("momentum", group["momentum"], "momentum value", high=1.0, high_open=True)
        check_interval("dampening", group["dampening"], "dampening value", high=1.0, high_open=True)
        check_nonnegative("trust_coefficient", group["trust_coefficient"], "trust_coefficient value")
        check_flag("nesterov", group["nesterov"])
        super()._check_group(group)

    def _init_state(self, p, state, group):
        if group["momentum"] > 0:
            state["momentum_buffer"] = torch.zeros_like(p)

    def _update(self, p, g, state, group):
        if group["momentum"] > 0 and "momentum_buffer" not in state:  # momentum switched on after a step
            state["momentum_buffer"] = torch.zeros_like(p)
        r = lars_update(p, g, state.get("momentum_buffer"), lr=group["lr"], beta=group["momentum"],
                        tau=group["dampening"], weight_decay=group["weight_decay"], eta=group["trust_coefficient"],
                        nesterov=group["nesterov"], adapt=p.ndim > 1)
        if r is not None:
            state["trust_ratio"] = r
        elif "trust_ratio" not in state:   # not adapted: a ratio of 1, made once
            state["trust_ratio"] = torch.ones((), dtype=p.dtype)
