"""RAdam: Adam that waits until its variance estimate is reliable, instead of a warm-up."""
from __future__ import annotations

import torch

from .._checks import check_flag, check_nonnegative
from ._base import BaseOptimizer, new_step
from .adam import Adam, check_betas

__all__ = ["radam_rho", "radam_rectification", "radam_update", "RAdam", "RADAM_THRESHOLD"]

#: RAdam adapts the step only once ``rho_t`` exceeds this, as torch does (the authors' code
#: adapts from ``rho_t >= 5``; the paper's Algorithm 2 writes ``rho_t > 4``, where ``r_t`` is first defined).
RADAM_THRESHOLD = 5.0


def radam_rho(t, beta2):
    """``(rho_t, rho_inf)``: the length of the simple moving average that ``v_hat_t`` approximates.

    ``rho_t`` is ``rho_inf - 2 t beta2^t / (1 - beta2^t)``, where ``rho_inf = 2 / (1 - beta2) - 1``
    is its limit; it grows from 1 at ``t = 1`` towards ``rho_inf``. Few effective samples mean a noisy ``v_hat_t``.
    """
    rho_inf = 2 / (1 - beta2) - 1
    return rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t), rho_inf


def radam_rectification(t, beta2):
    """RAdam's rectification ``r_t`` at step ``t``, or ``None`` while ``rho_t <= 5`` (no adaptive step).

    ``r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))``,
    the ratio of the standard deviation of the adaptive rate at ``rho_inf`` samples to
    that at ``rho_t`` samples (Liu et al., 2020); it rises from 0 towards 1.
    """
    rho_t, rho_inf = radam_rho(t, beta2)
    if not rho_t > RADAM_THRESHOLD:
        return None
    return ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5


def radam_update(theta, g, m, v, t, *, lr, beta1, beta2, eps, weight_decay=0.0, decoupled_weight_decay=False):
    """One RAdam step on ``theta`` and its moments, in place.

    ``m`` and ``v`` are Adam's moments (torch's ``exp_avg`` and ``exp_avg_sq``),
    starting at zero; ``rho_t`` and ``r_t`` are :func:`radam_rho` and
    :func:`radam_rectification`. ``lambda = weight_decay`` is an L2 penalty
    added to the gradient, or with ``decoupled_weight_decay`` a shrinking of
    the parameters as in AdamW::

        g_t      <- g_t + lambda * theta_{t-1}                 (L2, if lambda != 0)
        theta'    = theta_{t-1} - lr * lambda * theta_{t-1}     (decoupled, instead)
        m_t       = beta1 * m_{t-1} + (1 - beta1) * g_t
        v_t       = beta2 * v_{t-1} + (1 - beta2) * g_t^2
        m_hat_t   = m_t / (1 - beta1^t)
        if rho_t > 5:
            l_t     = sqrt(1 - beta2^t) / (sqrt(v_t) + eps)
            theta_t = theta' - lr * r_t * l_t * m_hat_t     (the rectified adaptive step)
        else:
            theta_t = theta' - lr * m_hat_t                 (momentum SGD, not adapted)

    ``l_t`` is Adam's ``1 / (sqrt(v_hat_t) + eps)`` except that ``eps`` is added
    before the bias correction, as in torch: it weighs ``eps / sqrt(1 - beta2^t)``
    against ``sqrt(v_hat_t)``, more than ``eps`` in the first steps.

    Parameters
    ----------
    theta : Tensor
        The parameters, updated in place (call under ``torch.no_grad()`` if
        ``theta`` requires grad).
    g : Tensor
        The gradient ``g_t``; it is not modified.
    m, v : Tensor
        ``m_{t-1}`` and ``v_{t-1}``, updated in place to ``m_t`` and ``v_t``.
    t : int
        The step, counted from 1.
    lr, beta1, beta2, eps, weight_decay : float
        The learning rate alpha, the decay rates, the denominator's epsilon and
        the weight decay lambda.
    decoupled_weight_decay : bool
        Shrink the parameters (AdamW's way) instead of adding an L2 gradient.
    """
    if weight_decay != 0 and decoupled_weight_decay:
        theta.mul_(1 - lr * weight_decay)                     # theta' = theta_{t-1} - lr lambda theta_{t-1}
    elif weight_decay != 0:
        g = g.add(theta, alpha=weight_decay)                  # g_t <- g_t + lambda theta_{t-1}
    m.lerp_(g, 1 - beta1)                                     # m_t = beta1 m_{t-1} + (1 - beta1) g_t
    v.mul_(beta2).addcmul_(g, g, value=1 - beta2)             # v_t = beta2 v_{t-1} + (1 - beta2) g_t^2
    bias1 = 1 - beta1 ** t
    bias2 = 1 - beta2 ** t
    m_hat = m / bias1                                         # m_hat_t = m_t / (1 - beta1^t)
    r_t = radam_rectification(t, beta2)
    if r_t is None:                                           # rho_t <= 5: too few samples to trust v
        theta.add_(m_hat.mul_(lr), alpha=-1.0)                # theta_t = theta' - lr m_hat_t
        return
    l_t = v.sqrt().add_(eps).reciprocal_().mul_(bias2 ** 0.5)  # l_t = sqrt(1 - beta2^t) / (sqrt(v_t) + eps)
    theta.add_(m_hat.mul_(lr).mul_(l_t).mul_(r_t), alpha=-1.0)  # theta_t = theta' - lr r_t l_t m_hat_t


class RAdam(BaseOptimizer):
    """RAdam (Liu et al., 2020); a drop-in for ``torch.optim.RAdam``.

    Each step applies ``radam_update`` to every parameter with a gradient.

    Parameters
    ----------
    params : iterable
        Parameters (or named parameters, or dicts defining parameter groups).
    lr : float, default 1e-3
        The learning rate alpha.
    betas : tuple of two floats, default (0.9, 0.999)
        ``(beta1, beta2)``, the decay rates of ``m`` and ``v``, each in ``[0, 1)``.
        With ``beta2 <= 2/3`` (``rho_inf <= 5``) the step is never adapted.
    eps : float, default 1e-8
        Added to ``sqrt(v_t)`` before its bias correction.
    weight_decay : float, default 0
        The coefficient lambda: an L2 penalty added to the gradient, or with
        ``decoupled_weight_decay=True`` a shrinking by ``lr * lambda * theta``.
    decoupled_weight_decay : bool, default False
        Apply weight decay the AdamW way.
    foreach, capturable, differentiable
        Accepted for compatibility with ``torch.optim.RAdam``; only the defaults
        (or ``foreach=False``) are allowed.
    maximize : bool, default False
        Ascend the objective (the gradient's sign is flipped).

    Notes
    -----
    The state of each parameter, created at its first step, is ``step`` (a 0-d
    tensor), ``exp_avg`` (``m``) and ``exp_avg_sq`` (``v``).
    """

    _SENSELESS = Adam._SENSELESS

    _TORCH_FLAG_DEFAULTS = {"foreach": None, "maximize": False, "differentiable": False,
                            "decoupled_weight_decay": False, "capturable": False}

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    @classmethod
    def _check_group(cls, group):
        check_nonnegative("lr", group["lr"], "learning rate")
        check_nonnegative("eps", group["eps"], "epsilon value")
        check_betas(group["betas"])
        check_nonnegative("weight_decay", group["weight_decay"], "weight_decay value")
        check_flag("decoupled_weight_decay", group["decoupled_weight_decay"])
        super()._check_group(group)

    def _init_state(self, p, state, group):
        state["step"] = new_step()
        state["exp_avg"] = torch.zeros_like(p)
        state["exp_avg_sq"] = torch.zeros_like(p)

    def _update(self, p, g, state, group):
        state["step"] += 1
        beta1, beta2 = group["betas"]
        radam_update(p, g, state["exp_avg"], state["exp_avg_sq"], state["step"].item(), lr=group["lr"],
                     beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                     decoupled_weight_decay=group["decoupled_weight_decay"])
