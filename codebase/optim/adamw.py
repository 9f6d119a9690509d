"""AdamW: Adam with the weight decay taken out of the adaptive step."""
from __future__ import annotations

from .adam import Adam, adam_update

__all__ = ["adamw_update", "AdamW"]


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


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter, 2019); a drop-in for ``torch.optim.AdamW``.

    Each step applies ``adamw_update`` to every parameter with a gradient. It is
    ``Adam(..., decoupled_weight_decay=True)`` with a default ``weight_decay``
    of 0.01, exactly as in torch.

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
    weight_decay : float, default 1e-2
        The decoupled decay coefficient lambda: each step multiplies the
        parameters by ``1 - lr * lambda`` before Adam's step.
    amsgrad : bool, default False
        Use AMSGrad's running maximum of ``v`` (Reddi, Kale & Kumar, 2018).
    maximize : bool, default False
        Ascend the objective (the gradient's sign is flipped).
    foreach, capturable, differentiable, fused
        Accepted for compatibility with ``torch.optim.AdamW``; only the defaults
        (or ``foreach=False``, ``fused=False``) are allowed.

    Notes
    -----
    The state keys are Adam's: ``step``, ``exp_avg``, ``exp_avg_sq`` and, with
    AMSGrad, ``max_exp_avg_sq``. Each parameter group also holds
    ``decoupled_weight_decay=True``, as torch's does; this class always
    decouples, whatever that key says.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach, maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused, decoupled_weight_decay=True)

    def _update(self, p, g, state, group):
        state["step"] += 1
        beta1, beta2 = group["betas"]
        adamw_update(p, g, state["exp_avg"], state["exp_avg_sq"], state["step"].item(), lr=group["lr"],
                     beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                     v_max=state["max_exp_avg_sq"] if group["amsgrad"] else None)
