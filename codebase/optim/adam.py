"""Adam: momentum on the gradient, RMSProp on its square, both bias-corrected."""
from __future__ import annotations

import math

import torch

from .._checks import check_flag, check_interval, check_nonnegative
from ._base import EPS_VANISHES, BaseOptimizer, eps_vanishes_in_half_precision, new_step

__all__ = ["adam_update", "adamw_update", "Adam"]


def adam_update(theta, g, m, v, t, *, lr, beta1, beta2, eps, weight_decay=0.0, v_max=None):
    """One Adam step on ``theta`` and its moments, in place.

    ``m`` and ``v`` are the first- and second-moment estimates (torch's
    ``exp_avg`` and ``exp_avg_sq``), both starting at zero, and
    ``lambda = weight_decay`` is an L2 penalty added to the gradient::

        g_t      <- g_t + lambda * theta_{t-1}                 (if lambda != 0)
        m_t       = beta1 * m_{t-1} + (1 - beta1) * g_t
        v_t       = beta2 * v_{t-1} + (1 - beta2) * g_t^2
        m_hat_t   = m_t / (1 - beta1^t)
        v_hat_t   = v_t / (1 - beta2^t)
        theta_t   = theta_{t-1} - lr * m_hat_t / (sqrt(v_hat_t) + eps)

    AMSGrad (Reddi et al., 2018) divides by the largest ``v`` seen so far:
    ``v_max_t = max(v_max_{t-1}, v_t)`` replaces ``v_t`` in ``v_hat_t``.

    The code does not build ``m_hat`` and ``v_hat`` as tensors: it divides the
    scalar ``lr`` by ``1 - beta1^t`` and takes ``sqrt(v_hat_t)`` as
    ``sqrt(v_t) / sqrt(1 - beta2^t)``, a reordering like the one Kingma & Ba
    suggest at the end of their Section 2 (theirs also moves ``eps``; ours does
    not). The maths are the same; it saves a pass over memory, and it rounds
    exactly as ``torch.optim.Adam`` does.

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
        The learning rate alpha, the two decay rates, the denominator's epsilon
        and the L2 coefficient lambda.
    v_max : Tensor, optional
        AMSGrad's running maximum of ``v``, updated in place; giving it selects AMSGrad.
    """
    if weight_decay != 0:
        g = g.add(theta, alpha=weight_decay)           # g_t <- g_t + lambda theta_{t-1}
    m.lerp_(g, 1 - beta1)                              # m_t = beta1 m_{t-1} + (1 - beta1) g_t
    v.mul_(beta2).addcmul_(g, g, value=1 - beta2)      # v_t = beta2 v_{t-1} + (1 - beta2) g_t^2
    if v_max is not None:
        v = torch.maximum(v_max, v, out=v_max)         # AMSGrad: v_max_t = max(v_max_{t-1}, v_t)
    bias1 = 1 - beta1 ** t                             # m_hat_t = m_t / bias1
    bias2 = 1 - beta2 ** t                             # v_hat_t = v_t / bias2
    denom = v.sqrt().div_(math.sqrt(bias2)).add_(eps)  # sqrt(v_hat_t) + eps
    theta.addcdiv_(m, denom, value=-lr / bias1)        # theta_t = theta_{t-1} - lr m_hat_t / denom


def adamw_update(theta, g, m, v, t, *, lr, beta1, beta2, eps, weight_decay, v_max=None):
    """One AdamW step on ``theta`` and its moments, in place.

    The parameters first shrink towards zero, then take Adam's step computed
    from the bare gradient, so the decay never enters ``m`` or ``v`` and is
    not divided by ``sqrt(v_hat)``::

        theta'    = theta_{t-1} - lr * lambda * theta_{t-1}     (decoupled weight decay)
        m_t       = beta1 * m_{t-1} + (1 - beta1) * g_t
        v_t       = beta2 * v_{t-1} + (1 - beta2) * g_t^2
        m_hat_t   = m_t / (1 - beta1^t)
        v_hat_t   = v_t / (1 - beta2^t)
        theta_t   = theta' - lr * m_hat_t / (sqrt(v_hat_t) + eps)

    Here ``lambda = weight_decay`` multiplies ``lr``, as in ``torch.optim.AdamW``;
    Loshchilov & Hutter write the decay with its own schedule multiplier instead.

    Parameters
    ----------
    theta, g, m, v, t, lr, beta1, beta2, eps, v_max
        As in ``adam_update``.
    weight_decay : float
        The decay coefficient lambda.
    """
    theta.mul_(1 - lr * weight_decay)      # theta' = theta_{t-1} - lr lambda theta_{t-1}
    adam_update(theta, g, m, v, t, lr=lr, beta1=beta1, beta2=beta2, eps=eps, v_max=v_max)


def check_betas(betas, *, high_open=True):
    """Return ``betas`` after checking that it is a pair ``(beta1, beta2)`` of numbers in ``[0, 1)``
    (``[0, 1]`` with ``high_open=False``, as Lion allows)."""
    if isinstance(betas, (str, bytes)) or not isinstance(betas, (tuple, list)):
        raise TypeError(f"betas must be a pair (beta1, beta2), got {type(betas).__name__} {betas!r}")
    if len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {len(betas)} values: {betas!r}")
    for i, beta in enumerate(betas):
        check_interval(f"betas[{i}]", beta, f"beta parameter at index {i}", high=1.0, high_open=high_open)
    return betas


class Adam(BaseOptimizer):
    """Adam (Kingma & Ba, 2015); a drop-in for ``torch.optim.Adam``.

    Each step applies ``adam_update`` to every parameter with a gradient.

    Parameters
    ----------
    params : iterable
        Parameters (or named parameters, or dicts defining parameter groups).
    lr : float, default 1e-3
        The learning rate alpha.
    betas : tuple of two floats, default (0.9, 0.999)
        ``(beta1, beta2)``, the decay rates of ``m`` and ``v``, each in ``[0, 1)``.
    eps : float, default 1e-8
        Added to ``sqrt(v_hat_t)`` in the denominator.
    weight_decay : float, default 0
        The coefficient lambda. By default an L2 penalty added to the gradient,
        so it passes through ``m`` and ``v``; with ``decoupled_weight_decay=True``
        the parameters shrink by ``lr * lambda * theta`` outside them, as in
        ``AdamW``.
    amsgrad : bool, default False
        Use AMSGrad's running maximum of ``v`` (Reddi, Kale & Kumar, 2018).
    foreach, capturable, differentiable, fused
        Accepted for compatibility with ``torch.optim.Adam``; only the defaults
        (or ``foreach=False``, ``fused=False``) are allowed.
    maximize : bool, default False
        Ascend the objective (the gradient's sign is flipped).
    decoupled_weight_decay : bool, default False
        Apply weight decay the AdamW way (Loshchilov & Hutter, 2019).

    Notes
    -----
    The state of each parameter, created at its first step, is ``step`` (a 0-d
    tensor), ``exp_avg`` (``m``), ``exp_avg_sq`` (``v``) and, with AMSGrad,
    ``max_exp_avg_sq`` (``v_max``).
    """

    _SENSELESS = (
        ("eps", lambda g: g["eps"] == 0, "divides 0 by 0 (NaN) wherever a gradient entry and its average are 0"),
        ("eps", eps_vanishes_in_half_precision, EPS_VANISHES),
        ("weight_decay", lambda g: g["decoupled_weight_decay"] and g["lr"] * g["weight_decay"] >= 1,
         "with lr multiplies the weights by 1 - lr * weight_decay <= 0 at every step: they vanish or flip sign"),
    )

    _TORCH_FLAG_DEFAULTS = {"amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
                           "differentiable": False, "decoupled_weight_decay": False, "fused": None}

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    @classmethod
    def _check_group(cls, group):
        check_nonnegative("lr", group["lr"], "learning rate")
        check_nonnegative("eps", group["eps"], "epsilon value")
        check_betas(group["betas"])
        check_nonnegative("weight_decay", group["weight_decay"], "weight_decay value")
        check_flag("amsgrad", group["amsgrad"])
        check_flag("decoupled_weight_decay", group["decoupled_weight_decay"])
        super()._check_group(group)

    def _init_state(self, p, state, group):
        state["step"] = new_step()
        state["exp_avg"] = torch.zeros_like(p)
        state["exp_avg_sq"] = torch.zeros_like(p)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = torch.zeros_like(p)

    def _update(self, p, g, state, group):
        state["step"] += 1
        beta1, beta2 = group["betas"]
        rule = adamw_update if group["decoupled_weight_decay"] else adam_update   # AdamW or Adam (with L2)
        rule(p, g, state["exp_avg"], state["exp_avg_sq"], state["step"].item(), lr=group["lr"],
             beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
             v_max=state["max_exp_avg_sq"] if group["amsgrad"] else None)
