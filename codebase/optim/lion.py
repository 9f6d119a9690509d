"""Lion: the sign of an interpolation between momentum and gradient, one state tensor per parameter."""
from __future__ import annotations

import torch

from .._checks import check_flag, check_number
from ._base import BaseOptimizer
from .adam import check_betas

__all__ = ["lion_update", "Lion"]


def lion_update(theta, g, m, *, lr, beta1, beta2, weight_decay=0.0):
    """One Lion step on ``theta`` and its momentum ``m``, in place.

    ``m`` is a moving average of the gradients (``exp_avg``), starting at zero.
    The step is the *sign* of an interpolation ``c`` between ``m`` and the new
    gradient, taken with ``beta1``; ``m`` itself is then updated with the slower
    rate ``beta2``. Weight decay is decoupled and multiplied by ``lr``, as in AdamW::

        theta'   = theta_{t-1} - lr * lambda * theta_{t-1}     (decoupled weight decay)
        c_t      = beta1 * m_{t-1} + (1 - beta1) * g_t
        theta_t  = theta' - lr * sign(c_t)
        m_t      = beta2 * m_{t-1} + (1 - beta2) * g_t

    Every coordinate with ``c_t != 0`` therefore moves by exactly ``lr`` (plus the
    decay); ``sign(0) = 0`` leaves a coordinate whose ``c_t`` is exactly zero in place.
    The operations are those of ``lion_pytorch.Lion`` (lion-pytorch 0.2.5) in its
    order, so the two agree to the last bit.

    Parameters
    ----------
    theta : Tensor
        The parameters, updated in place (call under ``torch.no_grad()`` if
        ``theta`` requires grad).
    g : Tensor
        The gradient ``g_t``; it is not modified.
    m : Tensor
        ``m_{t-1}``, updated in place to ``m_t``.
    lr, beta1, beta2, weight_decay : float
        The learning rate alpha (the size of every step), the interpolation
        weight of the step, the decay rate of ``m`` and the decay coefficient lambda.
    """
    theta.mul_(1 - lr * weight_decay)              # theta' = theta_{t-1} - lr lambda theta_{t-1}
    c = m.mul(beta1).add_(g, alpha=1 - beta1)      # c_t = beta1 m_{t-1} + (1 - beta1) g_t
    theta.add_(c.sign_(), alpha=-lr)               # theta_t = theta' - lr sign(c_t)
    m.mul_(beta2).add_(g, alpha=1 - beta2)         # m_t = beta2 m_{t-1} + (1 - beta2) g_t


class Lion(BaseOptimizer):
    """Lion (Chen et al., 2023); a drop-in for ``lion_pytorch.Lion`` (lion-pytorch 0.2.5).

    Each step applies ``lion_update`` to every parameter with a gradient.

    Parameters
    ----------
    params : iterable
        Parameters (or named parameters, or dicts defining parameter groups).
    lr : float, default 1e-4
        The learning rate alpha, which is the size of every coordinate's step; it
        must be > 0, as in the reference.
    betas : tuple of two floats, default (0.9, 0.99)
        ``(beta1, beta2)``: the weight of ``m`` in the interpolation whose sign is
        the step, and the decay rate of ``m``; each in ``[0, 1]``.
    weight_decay : float, default 0
        The decoupled decay coefficient lambda: each step multiplies the
        parameters by ``1 - lr * lambda`` before the sign step.
    use_triton : bool, default False
        Accepted for compatibility; only ``False`` is allowed (the reference's
        Triton kernel needs a GPU).
    decoupled_weight_decay : bool, default False
        Divide ``weight_decay`` by the learning rate given to the constructor,
        so that the decay per step is ``lr / lr_0 * lambda``: the rate enters only
        through its schedule. The reference does the same with its constructor's ``lr``
        (not a group's own), and so does this class.
    maximize : bool, default False
        Ascend the objective (the gradient's sign is flipped). Not in the reference;
        added as in every ``torch.optim`` class.

    Notes
    -----
    The state of each parameter, created at its first step, is ``exp_avg``
    (``m``), as in the reference; there is no step counter. Besides ``lr``,
    ``betas`` and ``weight_decay``, each group holds ``decoupled_weight_decay``
    and ``maximize`` (the reference keeps the first on the optimizer and has no
    second); a state dict of the reference loads here (both flags False) and
    ours loads into the reference, which ignores the two keys.
    """

    _SENSELESS = (
        ("weight_decay", lambda g: not g["decoupled_weight_decay"] and g["lr"] * g["weight_decay"] >= 1,
         "with lr multiplies the weights by 1 - lr * weight_decay <= 0 at every step: they vanish or flip sign"),
        ("weight_decay", lambda g: g["decoupled_weight_decay"] and g["weight_decay"] >= 1,
         "with decoupled_weight_decay multiplies the weights by 1 - weight_decay <= 0 at every step taken at "
         "the constructor's lr: they vanish or flip sign"),
    )

    _TORCH_FLAG_DEFAULTS = {"decoupled_weight_decay": False, "maximize": False}

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, use_triton=False,
                 decoupled_weight_decay=False, *, maximize=False):
        check_flag("use_triton", use_triton)
        if use_triton:
            raise ValueError("Lion(use_triton=True) is not available: this from-scratch version implements only "
                             "the single-tensor (for-loop) path; use lion_pytorch.Lion for the Triton kernel")
        defaults = dict(lr=lr, betas=betas, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    @classmethod
    def _check_group(cls, group):
        lr = check_number("lr", group["lr"])
        if not lr > 0:
            raise ValueError(f"Invalid learning rate: {lr} (lr must be > 0, as lion_pytorch.Lion asserts)")
        check_betas(group["betas"], high_open=False)
        weight_decay = check_number("weight_decay", group["weight_decay"])
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay} (weight_decay must be >= 0; "
                             f"lion_pytorch.Lion accepts it, and the weights then grow at every step)")
        check_flag("decoupled_weight_decay", group["decoupled_weight_decay"])
        super()._check_group(group)

    def _init_state(self, p, state, group):
        state["exp_avg"] = torch.zeros_like(p)

    def _update(self, p, g, state, group):
        beta1, beta2 = group["betas"]
        weight_decay = group["weight_decay"]
        if group["decoupled_weight_decay"]:
            weight_decay = weight_decay / self.defaults["lr"]    # lambda / lr_0, as the reference does
        lion_update(p, g, state["exp_avg"], lr=group["lr"], beta1=beta1, beta2=beta2, weight_decay=weight_decay)
