"""NAdam: Adam whose momentum looks ahead, as Nesterov's does."""
from __future__ import annotations

import torch

from .._checks import check_flag, check_nonnegative
from ._base import BaseOptimizer, new_step
from .adam import Adam, check_betas

__all__ = ["nadam_momentum", "nadam_update", "NAdam"]


def nadam_momentum(t, *, beta1, momentum_decay):
    """The momentum coefficient ``mu_t = beta1 * (1 - 0.5 * 0.96^(t * psi))`` of NAdam's step ``t``.

    ``psi = momentum_decay``. Dozat's schedule: ``mu_t`` starts near ``beta1 / 2``
    and rises towards ``beta1`` as ``t`` grows (with ``psi = 0.004``, halfway
    there after about 4,250 steps); ``psi = 0`` gives ``mu_t = beta1 / 2`` at every step.
    """
    return beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))


def nadam_update(theta, g, m, v, mu_product, t, *, lr, beta1, beta2, eps, momentum_decay,
                 weight_decay=0.0, decoupled_weight_decay=False):
    """One NAdam step on ``theta``, its moments and the product of the momenta, in place.

    ``m`` and ``v`` are Adam's moments (torch's ``exp_avg`` and ``exp_avg_sq``),
    starting at zero. ``mu_product`` is a 0-d tensor holding
    ``Pi_{t-1} = mu_1 mu_2 ... mu_{t-1}`` (1 before the first step), the bias
    correction of ``m`` when the momentum changes from step to step.
    ``mu_t`` is :func:`nadam_momentum`. ``lambda = weight_decay`` is an L2
    penalty added to the gradient, or with ``decoupled_weight_decay`` a
    shrinking of the parameters as in AdamW::

        g_t      <- g_t + lambda * theta_{t-1}                 (L2, if lambda != 0)
        theta'    = theta_{t-1} - lr * lambda * theta_{t-1}     (decoupled, instead)
        mu_t      = beta1 * (1 - 0.5 * 0.96^(t psi))
        mu_{t+1}  = beta1 * (1 - 0.5 * 0.96^((t + 1) psi))
        Pi_t      = Pi_{t-1} * mu_t
        m_t       = beta1 * m_{t-1} + (1 - beta1) * g_t
        v_t       = beta2 * v_{t-1} + (1 - beta2) * g_t^2
        v_hat_t   = v_t / (1 - beta2^t)
        theta_t   = theta' - lr * (1 - mu_t) / (1 - Pi_t) * g_t / (sqrt(v_hat_t) + eps)
                           - lr * mu_{t+1} / (1 - Pi_t mu_{t+1}) * m_t / (sqrt(v_hat_t) + eps)

    The last line is Adam's step with ``m_hat_t`` replaced by
    ``mu_{t+1} m_t / (1 - Pi_{t+1}) + (1 - mu_t) g_t / (1 - Pi_t)``: the part of
    the next step that the momentum will contribute is taken now (Nesterov's
    look-ahead), and the current gradient enters with its own weight. Note that
    ``m`` itself decays with the constant ``beta1``, while the step weighs it
    with the scheduled ``mu_{t+1}``, as in torch.

    ``Pi_t`` is kept in ``mu_product``'s dtype: float32 unless the default
    dtype is float64, as in torch, so the product is rounded to float32 at
    every step even when the parameters are float64.

    Parameters
    ----------
    theta : Tensor
        The parameters, updated in place (call under ``torch.no_grad()`` if
        ``theta`` requires grad).
    g : Tensor
        The gradient ``g_t``; it is not modified.
    m, v : Tensor
        ``m_{t-1}`` and ``v_{t-1}``, updated in place to ``m_t`` and ``v_t``.
    mu_product : Tensor
        0-d, ``Pi_{t-1}``, updated in place to ``Pi_t``.
    t : int
        The step, counted from 1.
    lr, beta1, beta2, eps, momentum_decay, weight_decay : float
        The learning rate alpha, the decay rates, the denominator's epsilon,
        the schedule's psi and the weight decay lambda.
    decoupled_weight_decay : bool
        Shrink the parameters (AdamW's way) instead of adding an L2 gradient.
    """
    bias2 = 1 - beta2 ** t                                             # v_hat_t = v_t / bias2
    if weight_decay != 0 and decoupled_weight_decay:
        theta.mul_(1 - lr * weight_decay)                              # theta' = theta_{t-1} - lr lambda theta_{t-1}
    elif weight_decay != 0:
        g = g.add(theta, alpha=weight_decay)                           # g_t <- g_t + lambda theta_{t-1}
    mu = nadam_momentum(t, beta1=beta1, momentum_decay=momentum_decay)             # mu_t
    mu_next = nadam_momentum(t + 1, beta1=beta1, momentum_decay=momentum_decay)    # mu_{t+1}
    pi = mu_product.mul_(mu).item()                                    # Pi_t = Pi_{t-1} mu_t
    m.lerp_(g, 1 - beta1)                                              # m_t = beta1 m_{t-1} + (1 - beta1) g_t
    v.mul_(beta2).addcmul_(g, g, value=1 - beta2)                      # v_t = beta2 v_{t-1} + (1 - beta2) g_t^2
    denom = v.div(bias2).sqrt_().add_(eps)                             # sqrt(v_hat_t) + eps
    theta.addcdiv_(g, denom, value=-lr * (1 - mu) / (1 - pi))          # the gradient's part of the step
    theta.addcdiv_(m, denom, value=-lr * mu_next / (1 - pi * mu_next))  # the momentum's part, looking ahead


class NAdam(BaseOptimizer):
    """NAdam (Dozat, 2016); a drop-in for ``torch.optim.NAdam``.

    Each step applies ``nadam_update`` to every parameter with a gradient.

    Parameters
    ----------
    params : iterable
        Parameters (or named parameters, or dicts defining parameter groups).
    lr : float, default 2e-3
        The learning rate alpha.
    betas : tuple of two floats, default (0.9, 0.999)
        ``(beta1, beta2)``, each in ``[0, 1)``: ``beta1`` is the decay rate of
        ``m`` and the ceiling of the momentum schedule ``mu_t``; ``beta2`` the decay rate of ``v``.
    eps : float, default 1e-8
        Added to ``sqrt(v_hat_t)`` in the denominator.
    weight_decay : float, default 0
        The coefficient lambda: an L2 penalty added to the gradient, or with
        ``decoupled_weight_decay=True`` a shrinking by ``lr * lambda * theta``.
    momentum_decay : float, default 4e-3
        psi, the rate at which ``mu_t`` rises from ``beta1 / 2`` towards ``beta1``.
    decoupled_weight_decay : bool, default False
        Apply weight decay the AdamW way (torch calls the result NAdamW).
    foreach, capturable, differentiable
        Accepted for compatibility with ``torch.optim.NAdam``; only the defaults
        (or ``foreach=False``) are allowed.
    maximize : bool, default False
        Ascend the objective (the gradient's sign is flipped).

    Notes
    -----
    The state of each parameter, created at its first step, is ``step`` and
    ``mu_product`` (0-d tensors, starting at 0 and 1), ``exp_avg`` (``m``) and
    ``exp_avg_sq`` (``v``).
    """

    _SENSELESS = Adam._SENSELESS

    _TORCH_FLAG_DEFAULTS = {"maximize": False, "foreach": None, "capturable": False, "differentiable": False,
                            "decoupled_weight_decay": False}

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    @classmethod
    def _check_group(cls, group):
        check_nonnegative("lr", group["lr"], "learning rate")
        check_nonnegative("eps", group["eps"], "epsilon value")
        check_betas(group["betas"])
        check_nonnegative("weight_decay", group["weight_decay"], "weight_decay value")
        check_nonnegative("momentum_decay", group["momentum_decay"], "momentum_decay value")
        check_flag("decoupled_weight_decay", group["decoupled_weight_decay"])
        super()._check_group(group)

    def __setstate__(self, state):
        """Restore from a pickle or ``load_state_dict``; a ``mu_product`` saved as a number becomes a tensor."""
        super().__setstate__(state)
        for param_state in self.state.values():
            mu_product = param_state.get("mu_product")
            if mu_product is not None and not torch.is_tensor(mu_product):
                param_state["mu_product"] = new_step().fill_(float(mu_product))

    def _init_state(self, p, state, group):
        state["step"] = new_step()
        state["mu_product"] = new_step().fill_(1.0)   # the empty product, in the dtype torch uses
        state["exp_avg"] = torch.zeros_like(p)
        state["exp_avg_sq"] = torch.zeros_like(p)

    def _update(self, p, g, state, group):
        state["step"] += 1
        beta1, beta2 = group["betas"]
        nadam_update(p, g, state["exp_avg"], state["exp_avg_sq"], state["mu_product"], state["step"].item(),
                     lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                     momentum_decay=group["momentum_decay"], weight_decay=group["weight_decay"],
                     decoupled_weight_decay=group["decoupled_weight_decay"])
