"""Adafactor: Adam's second moment stored as row and column averages, with a relative step size."""
from __future__ import annotations

import math

import torch
from torch.linalg import vector_norm

from .._checks import check_number
from ._base import BaseOptimizer, new_step

__all__ = ["adafactor_update", "factored_v", "Adafactor"]


def factored_v(v_row, v_col, eps1):
    """The second-moment estimate ``v_hat`` that Adafactor rebuilds from its two factors.

    For a gradient of shape ``(..., n, m)``, ``v_row`` (shape ``(..., n, 1)``) holds the
    moving average of each row's mean squared gradient and ``v_col`` (``(..., 1, m)``)
    that of each column's. Their outer product divided by the mean of ``v_row`` is the
    rank-one matrix with those row and column means::

        v_hat = v_row v_col / max(mean(v_row), eps1)

    Parameters
    ----------
    v_row, v_col : Tensor
        The row and column factors (torch's ``row_var`` and ``col_var``); not modified.
    eps1 : float
        A floor on the denominator.
    """
    v_hat = v_row @ v_col                                             # v_row v_col (outer product)
    return v_hat.div_(v_row.mean(dim=-2, keepdim=True).clamp_(min=eps1))  # / max(mean(v_row), eps1)


def adafactor_update(theta, g, v_row, v_col, v, t, *, lr, beta2_decay, eps1, eps2, d, weight_decay=0.0):
    """One Adafactor step on ``theta`` and its second-moment statistics, in place.

    A tensor with two or more dimensions keeps only ``v_row`` and ``v_col``, the moving
    averages of the mean squared gradient of each row and of each column (over its last two
    dimensions); a vector (or scalar) keeps the full ``v`` as Adam does. There is no first
    moment. With ``RMS(x) = sqrt(mean(x^2))`` and ``lambda = weight_decay``::

        beta2_t  = 1 - t^beta2_decay                   (0 at t = 1, then rising towards 1)
        rho_t    = min(lr, 1 / sqrt(t))                (the relative step size)
        alpha_t  = max(eps2, RMS(theta_{t-1})) * rho_t (the step, relative to the weights' scale)
        theta'   = theta_{t-1} - lr * lambda * theta_{t-1}
        matrix:  v_row_t = beta2_t v_row_{t-1} + (1 - beta2_t) mean_over_columns(g_t^2)
                 v_col_t = beta2_t v_col_{t-1} + (1 - beta2_t) mean_over_rows(g_t^2)
                 v_hat_t = v_row_t v_col_t / max(mean(v_row_t), eps1)
        vector:  v_hat_t = v_t = beta2_t v_{t-1} + (1 - beta2_t) g_t^2
        u_t      = g_t / sqrt(max(v_hat_t, eps1^2))
        u_hat_t  = u_t / max(1, RMS(u_t) / d)          (update clipping)
        theta_t  = theta' - alpha_t * u_hat_t

    These are ``torch.optim.Adafactor``'s conventions, which differ from Shazeer & Stern
    (2018) in three places: ``lr`` caps ``rho_t`` (the paper's cap is the constant 0.01,
    torch's default ``lr``); ``eps1`` floors the denominator and ``v_hat`` (the paper adds
    it to ``g^2`` before averaging); the decay ``lambda`` is decoupled and multiplied by
    ``lr``, not by ``alpha_t`` (the paper has none). ``RMS(theta)`` is taken before the
    decay. The operations are torch's, in torch's order, so the two agree to the last bit
    (``vector_norm`` is what ``torch.norm`` calls, without its Python dispatch).

    Parameters
    ----------
    theta : Tensor
        The parameters, updated in place (call under ``torch.no_grad()`` if
        ``theta`` requires grad).
    g : Tensor
        The gradient ``g_t``; it is not modified.
    v_row, v_col : Tensor or None
        The factors (shapes ``(..., n, 1)`` and ``(..., 1, m)``), updated in place; for a
        tensor with two or more dimensions.
    v : Tensor or None
        The full second moment, updated in place; for a tensor with fewer than two dimensions.
    t : int
        The step, counted from 1.
    lr, beta2_decay, eps1, eps2, d, weight_decay : float
        The cap on the relative step size (and the decay's multiplier), the exponent of the
        beta2 schedule (<= 0), the floors of ``v_hat`` and of ``RMS(theta)``, the clipping
        threshold and the decay coefficient lambda.
    """
    one_minus_beta2 = t ** beta2_decay                               # 1 - beta2_t = t^beta2_decay
    rho = min(lr, 1 / (t ** 0.5))                                    # rho_t = min(lr, 1 / sqrt(t))
    alpha = max(eps2, vector_norm(theta).item() / (theta.numel() ** 0.5)) * rho  # alpha_t = max(eps2, RMS) rho_t
    if weight_decay != 0:
        theta.mul_(1 - lr * weight_decay)                            # theta' = theta_{t-1} - lr lambda theta_{t-1}
    if g.dim() > 1:
        row_mean = vector_norm(g, dim=-1, keepdim=True).square_().div_(g.size(-1))  # mean_over_columns(g_t^2)
        v_row.lerp_(row_mean, one_minus_beta2)                       # v_row_t = beta2_t v_row_{t-1} + (1 - beta2_t) ...
        col_mean = vector_norm(g, dim=-2, keepdim=True).square_().div_(g.size(-2))  # mean_over_rows(g_t^2)
        v_col.lerp_(col_mean, one_minus_beta2)                       # v_col_t = beta2_t v_col_{t-1} + (1 - beta2_t) ...
        v_hat = factored_v(v_row, v_col, eps1)                       # v_hat_t = v_row v_col / mean(v_row)
        v_hat.clamp_(min=eps1 * eps1)                                # max(v_hat_t, eps1^2)
    else:
        v.lerp_(g * g, one_minus_beta2)                              # v_t = beta2_t v_{t-1} + (1 - beta2_t) g^2
        v_hat = v.clamp(min=eps1 * eps1)                             # max(v_hat_t, eps1^2), v_hat_t = v_t
    u = v_hat.rsqrt_().mul_(g)                                       # u_t = g_t / sqrt(max(v_hat_t, eps1^2))
    clip = max(1.0, vector_norm(u).item() / ((u.numel() ** 0.5) * d))  # max(1, RMS(u_t) / d)
    theta.add_(u, alpha=-alpha / clip)                               # theta_t = theta' - alpha_t u_t / clip


def _check_eps(eps):
    """Check that ``eps`` is a pair ``(eps1, eps2)``: eps1 ``None`` or >= 0, eps2 >= 0."""
    if isinstance(eps, (str, bytes)) or not isinstance(eps, (tuple, list)):
        raise TypeError(f"eps must be a pair (eps1, eps2), got {type(eps).__name__} {eps!r}")
    if len(eps) != 2:
        raise ValueError(f"eps must be a pair (eps1, eps2), got {len(eps)} values: {eps!r}")
    if eps[0] is not None and check_number("eps[0]", eps[0]) < 0:
        raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]} (eps[0] must be None or >= 0)")
    if check_number("eps[1]", eps[1]) < 0:
        raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]} (eps[1] must be >= 0)")
    if eps[0] is not None:
        _check_finite("eps[0]", eps[0], "with eps1 = inf no parameter ever moves")
    _check_finite("eps[1]", eps[1], "with eps2 = inf the first step turns the parameters into inf or nan")


_MACHINE_EPSILON = {dtype: torch.finfo(dtype).eps for dtype in (torch.float16, torch.bfloat16, torch.float32,
                                                                  torch.float64)}


def _check_finite(name, value, advice):
    if math.isinf(value):
        raise ValueError(f"Invalid {name}: {value} ({name} must be finite; torch accepts it: {advice})")


class Adafactor(BaseOptimizer):
    """Adafactor (Shazeer & Stern, 2018); a drop-in for ``torch.optim.Adafactor``.

    Each step applies ``adafactor_update`` to every parameter with a gradient.

    Parameters
    ----------
    params : iterable
        Parameters (or named parameters, or dicts defining parameter groups).
    lr : float, default 1e-2
        The cap on the relative step size ``rho_t = min(lr, 1 / sqrt(t))``, and the
        multiplier of the weight decay.
    beta2_decay : float, default -0.8
        The exponent of the schedule ``beta2_t = 1 - t^beta2_decay``; must be <= 0.
    eps : tuple, default (None, 1e-3)
        ``(eps1, eps2)``: the floor of ``v_hat`` (``None`` means the machine epsilon of
        the parameter's dtype) and the floor of ``RMS(theta)`` in the step size.
    d : float, default 1.0
        The clipping threshold: an update whose RMS exceeds ``d`` is scaled down to ``d``;
        must be >= 1 and finite (a large ``d`` such as 1e30 clips nothing).
    weight_decay : float, default 0
        The decoupled decay coefficient lambda: each step multiplies the parameters by
        ``1 - lr * lambda``.
    foreach : bool, optional
        Accepted for compatibility; only ``None`` or ``False`` is allowed.
    maximize : bool, default False
        Ascend the objective (the gradient's sign is flipped).

    Notes
    -----
    The state of each parameter, created at its first step, is ``step`` and, for a tensor
    with two or more dimensions, ``row_var`` (``v_row``) and ``col_var`` (``v_col``), else
    ``variance`` (``v``): the same keys and shapes as torch's. With ``eps1=None``, torch
    takes the machine epsilon of the first parameter of a group for the whole group; this
    class takes each parameter's own (the same whenever a group has one dtype).
    """

    _SENSELESS = (
        ("weight_decay", lambda g: g["lr"] * g["weight_decay"] >= 1,
         "with lr multiplies the weights by 1 - lr * weight_decay <= 0 at every step: they vanish or flip sign"),
    )

    _TORCH_FLAG_DEFAULTS = {"foreach": None}

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 foreach=None, maximize=False):
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    @classmethod
    def _check_group(cls, group):
        lr, beta2_decay, d, weight_decay = (group[k] for k in ("lr", "beta2_decay", "d", "weight_decay"))
        if check_number("lr", lr) < 0:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr} (lr must be >= 0)")
        if check_number("beta2_decay", beta2_decay) > 0:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay} (beta2_decay must be <= 0)")
        _check_eps(group["eps"])
        if check_number("d", d) < 1:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d} (d must be >= 1)")
        if check_number("weight_decay", weight_decay) < 0:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay} (weight_decay must be >= 0)")
        # torch accepts these infinities, and each has a meaning: say which finite value means the same
        _check_finite("lr", lr, "rho_t = min(lr, 1 / sqrt(t)) is at most 1, so lr=1.0 removes the cap")
        _check_finite("beta2_decay", beta2_decay, "-inf freezes v after the first step; a large negative "
                      "value such as -1e3 does the same")
        _check_finite("d", d, "a large d such as 1e30 clips nothing")
        super()._check_group(group)

    def _init_state(self, p, state, group):
        state["step"] = new_step()
        if p.dim() > 1:
            state["row_var"] = p.new_zeros((*p.shape[:-1], 1))
            state["col_var"] = p.new_zeros((*p.shape[:-2], 1, p.shape[-1]))
        else:
            state["variance"] = torch.zeros_like(p)

    def _update(self, p, g, state, group):
        step = state["step"]
        step += 1
        eps1, eps2 = group["eps"]
        if eps1 is None:
            eps1 = _MACHINE_EPSILON.get(p.dtype) or torch.finfo(p.dtype).eps
        adafactor_update(p, g, state.get("row_var"), state.get("col_var"), state.get("variance"),
                         step.item(), lr=group["lr"], beta2_decay=group["beta2_decay"], eps1=eps1,
                         eps2=eps2, d=group["d"], weight_decay=group["weight_decay"])
