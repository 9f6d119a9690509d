"""LAMB: Adam's direction, rescaled in each layer by a trust ratio ||theta|| / ||update||."""
from __future__ import annotations

import torch

from .._checks import check_flag, check_nonnegative
from ._base import BaseOptimizer
from .adam import check_betas

__all__ = ["lamb_update", "Lamb"]


def lamb_update(theta, g, m, v, t, *, lr, beta1=0.9, beta2=0.999, eps=1e-6, weight_decay=0.0, decoupled=True,
                averaging=True, clamp=10.0, adam=False):
    """One LAMB step on ``theta`` and its moments (You et al., 2020), in place; returns ``r_t``.

    With ``lambda = weight_decay`` and ``phi(x) = min(x, clamp)``::

        m_t      = beta1 * m_{t-1} + (1 - beta1) * g_t       (beta1 * m_{t-1} + g_t without averaging)
        v_t      = beta2 * v_{t-1} + (1 - beta2) * g_t^2
        theta'   = theta_{t-1} - lr * lambda * theta_{t-1}   (decoupled decay; theta' = theta_{t-1} otherwise)
        u_t      = m_t / (sqrt(v_t) + eps)                   (+ lambda * theta' when the decay is not decoupled)
        r_t      = phi(||theta'||) / (||u_t|| + eps)         (1 when ||theta'|| = 0 or ||u_t|| = 0)
        theta_t  = theta' - lr / (1 - beta1^t) * r_t * u_t

    The norms are over the whole tensor, one ratio per layer. ``adam=True`` sets
    ``r_t = 1`` (the ratio is still returned), which leaves an Adam-like step.

    Three conventions come from the reference implementation (pytorch-optimizer
    4.1) rather than the paper: ``m`` is bias-corrected through the step size and
    ``v`` is not corrected at all (the paper divides both); ``||theta'||`` is
    clipped at ``clamp = 10`` (the paper's scaling function phi, left open there);
    ``eps`` is added to ``||u_t||`` as well. ``theta'`` is the parameter after the
    decoupled decay, so the ratio uses the decayed norm.

    Parameters
    ----------
    theta : Tensor
        The parameters, updated in place (call under ``torch.no_grad()``).
    g : Tensor
        The gradient ``g_t``; it is not modified.
    m, v : Tensor
        ``m_{t-1}`` and ``v_{t-1}``, updated in place to ``m_t`` and ``v_t``.
    t : int
        The step, counted from 1.
    lr, beta1, beta2, eps, weight_decay, clamp : float
        The learning rate alpha, the two decay rates, epsilon, lambda and the
        largest parameter norm the ratio uses.
    decoupled, averaging, adam : bool
        Decoupled (AdamW-like) decay or decay added to ``u_t``; ``(1 - beta1)``
        on the new gradient; the ratio switched off.

    Returns
    -------
    Tensor
        The trust ratio ``r_t``, a 0-d tensor.
    """
    m.mul_(beta1).add_(g, alpha=1 - beta1 if averaging else 1.0)  # m_t = beta1 m_{t-1} + (1 - beta1) g_t
    v.mul_(beta2).addcmul_(g, g, value=1 - beta2)                 # v_t = beta2 v_{t-1} + (1 - beta2) g_t^2
    if decoupled and weight_decay != 0:
        theta.mul_(1 - weight_decay * lr)                         # theta' = theta_{t-1} (1 - lr lambda)
    u = v.sqrt().add_(eps)                                        # sqrt(v_t) + eps
    torch.div(m, u, out=u)                                        # u_t = m_t / (sqrt(v_t) + eps)
    if not decoupled and weight_decay > 0:
        u.add_(theta, alpha=weight_decay)                         # u_t <- u_t + lambda theta'
    theta_norm = torch.linalg.norm(theta).clamp_(min=0, max=clamp)   # phi(||theta'||)
    u_norm = torch.linalg.norm(u)                                 # ||u_t||
    if theta_norm == 0 or u_norm == 0:
        r = torch.ones((), dtype=theta.dtype)                     # r_t = 1 where a norm vanishes
    else:
        r = theta_norm / (u_norm + eps)                           # r_t = phi(||theta'||) / (||u_t|| + eps)
    step = lr / (1 - beta1 ** t)                                  # lr / (1 - beta1^t)
    theta.add_(u, alpha=-step * (1.0 if adam else r))             # theta_t = theta' - step r_t u_t
    return r


class Lamb(BaseOptimizer):
    """LAMB, layer-wise adaptive moments (You et al., 2020).

    A drop-in for ``pytorch_optimizer.Lamb`` (pytorch-optimizer 4.1) with its
    defaults: decoupled weight decay, ``eps = 1e-6``, the parameter norm clipped
    at 10, ``m`` bias-corrected and ``v`` not (see ``lamb_update``). Every
    tensor, biases included, gets its own trust ratio, as in the reference; to
    exclude biases and normalisation layers, put them in a group with
    ``adam=True`` and ``weight_decay=0``. Each step applies ``lamb_update``.

    Parameters
    ----------
    params : iterable
        Parameters (or named parameters, or dicts defining parameter groups).
    lr : float, default 1e-3
        The learning rate alpha.
    betas : tuple of two floats, default (0.9, 0.999)
        ``(beta1, beta2)``, each in ``[0, 1)``.
    weight_decay : float, default 0
        The coefficient lambda (``>= 0``).
    weight_decouple : bool, default True
        Shrink the weights by ``lr * lambda`` before the step (AdamW-like); with
        ``False``, ``lambda * theta`` is added to the update ``u_t``, as in the paper.
    grad_averaging : bool, default True
        Weight the new gradient by ``1 - beta1`` in ``m``.
    adam : bool, default False
        Set the trust ratio to 1.
    eps : float, default 1e-6
        Added to ``sqrt(v_t)`` and to ``||u_t||``.
    clamp : float, default 10
        The parameter norm is clipped at this value in the ratio (``>= 0``); the
        reference has it as a class attribute.
    foreach : None or False
        Accepted for compatibility; only the for-loop path exists here.
    maximize : bool, default False
        Ascend the objective (the gradient's sign is flipped).

    Notes
    -----
    Not implemented (the reference has them, off by default): ``rectify`` (a
    RAdam-like warm-up), ``pre_norm`` with ``max_grad_norm`` (dividing all
    gradients by their global norm) and ``fixed_decay``. The state of each
    parameter is ``exp_avg`` (``m``), ``exp_avg_sq`` (``v``) and ``trust_ratio``
    (the last ``r_t``); the reference keeps the ratio with the two norms under
    ``weight_norm`` and ``adam_norm``. As in the reference, the step count ``t`` is
    one number per group, ``group["step"]``, counted at every ``step()``, so that a
    parameter whose first gradient comes late is corrected as the others are.
    """

    _STEP_KEYS = frozenset({"step"})   # the count a step writes in the group: not a hyperparameter

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), weight_decay=0.0, weight_decouple=True,
                 grad_averaging=True, adam=False, eps=1e-6, clamp=10.0, foreach=None, maximize=False):
        defaults = dict(lr=lr, betas=betas, weight_decay=weight_decay, weight_decouple=weight_decouple,
                        grad_averaging=grad_averaging, adam=adam, eps=eps, clamp=clamp, foreach=foreach,
                        maximize=maximize)
        super().__init__(params, defaults)

    @classmethod
    def _check_group(cls, group):
        check_nonnegative("lr", group["lr"], "learning rate")
        check_betas(group["betas"])
        check_nonnegative("weight_decay", group["weight_decay"], "weight_decay value")
        check_nonnegative("eps", group["eps"], "epsilon value")
        check_nonnegative("clamp", group["clamp"], "clamp value")
        for flag in ("weight_decouple", "grad_averaging", "adam"):
            check_flag(flag, group[flag])
        super()._check_group(group)

    @torch.no_grad()
    def step(self, closure=None):
        """Count the step in every group (``group["step"]``), then update every parameter that has a gradient."""
        counted = [group.get("step", 0) for group in self.param_groups]
        for group, t in zip(self.param_groups, counted):
            group["step"] = t + 1
        try:
            return super().step(closure)
        except (TypeError, ValueError, RuntimeError):   # a refused group, a failing closure, a sparse gradient
            for group, t in zip(self.param_groups, counted):
                group["step"] = t
            raise

    def _init_state(self, p, state, group):
        state["exp_avg"] = torch.zeros_like(p)
        state["exp_avg_sq"] = torch.zeros_like(p)

    def _update(self, p, g, state, group):
        beta1, beta2 = group["betas"]
        state["trust_ratio"] = lamb_update(
            p, g, state["exp_avg"], state["exp_avg_sq"], group["step"], lr=group["lr"], beta1=beta1,
            beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"], decoupled=group["weight_decouple"],
            averaging=group["grad_averaging"], clamp=group["clamp"], adam=group["adam"])
