"""AdamW: Adam with the weight decay taken out of the adaptive step.

The rule, ``adamw_update``, sits beside ``adam_update`` in :mod:`codebase.optim.adam`,
and ``Adam(..., decoupled_weight_decay=True)`` applies it; ``AdamW`` only changes the
defaults, as ``torch.optim.AdamW`` does.
"""
from __future__ import annotations

from .adam import Adam, adamw_update

__all__ = ["adamw_update", "AdamW"]


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

    def __setstate__(self, state):
        """Restore from a pickle or ``load_state_dict``; the decay stays decoupled, as in torch."""
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
