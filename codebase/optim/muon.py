"""Muon: momentum, then the momentum matrix orthogonalized by a Newton-Schulz iteration."""
from __future__ import annotations

import math

import torch

from .._checks import check_flag, check_int, check_nonnegative, check_number
from ._base import BaseOptimizer
from .adamw import AdamW
from .combined import Combined

__all__ = ["newton_schulz", "adjusted_lr", "muon_update", "Muon", "NS_COEFFICIENTS", "muon_split", "muon_with_adamw"]

#: torch's (and Keller Jordan's) quintic coefficients ``(a, b, c)``: ``p(s) = a s + b s^3 + c s^5``.
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
_ADJUST_LR_FNS = (None, "original", "match_rms_adamw")


def newton_schulz(G, steps=5, coefficients=NS_COEFFICIENTS, eps=1e-7, *, dtype=torch.bfloat16):
    """Push every singular value of the matrix ``G`` towards 1, keeping its singular vectors.

    With ``G = U S V^T`` (the SVD), the result is ``U p_k(S / ||G||_F) V^T``, where
    ``p_k`` is the odd polynomial ``p(s) = a s + b s^3 + c s^5`` applied ``k = steps``
    times. The Frobenius norm bounds the spectral norm, so the scaled singular values
    start in ``[0, 1]``, where ``p`` iterated pushes them towards 1: the result
    approximates the polar factor ``U V^T``. Only matrix products are needed::

        X_0  = G / max(||G||_F, eps)     (G^T instead of G when G has more rows than columns)
        A    = X_{k-1} X_{k-1}^T
        B    = b A + c A A
        X_k  = a X_{k-1} + B X_{k-1}     (= X p'(X^T X), with p(s) = s p'(s^2))

    The transpose makes ``A`` the smaller of the two Gram matrices; the result is
    transposed back. Like ``torch.optim.Muon``, the iteration runs in bfloat16 by
    default, with torch's operations (``addmm``) in torch's order, so that it returns
    torch's bits; ``dtype=torch.float64`` gives the same polynomial without the rounding.

    Parameters
    ----------
    G : Tensor
        A 2-D matrix; it is not modified.
    steps : int, default 5
        The number ``k`` of iterations.
    coefficients : tuple of three floats, default ``NS_COEFFICIENTS``
        ``(a, b, c)``.
    eps : float, default 1e-7
        The smallest norm divided by, so that a zero matrix gives zeros.
    dtype : torch.dtype, default torch.bfloat16
        The precision of the iteration and of the result.
    """
    if G.ndim != 2:
        raise ValueError(f"newton_schulz needs a 2-D matrix, got a tensor of shape {tuple(G.shape)}")
    a, b, c = coefficients
    tall = G.size(0) > G.size(1)
    X = G.type(dtype) if G.dtype != dtype else G.clone()   # a copy, divided in place: G is never changed
    if tall:
        X = X.T
    X.div_(X.norm().clamp(min=eps))                # X_0 = G / max(||G||_F, eps)
    for _ in range(steps):
        A = X @ X.T                                # A = X X^T
        B = torch.addmm(A, A, A, beta=b, alpha=c)  # B = b A + c A A
        X = torch.addmm(X, B, X, beta=a)           # X = a X + B X
    return X.T if tall else X


def adjusted_lr(lr, adjust_lr_fn, shape):
    """The rate Muon applies to a matrix of ``shape = (rows, cols)``, as ``torch.optim.Muon`` computes it.

    ``None`` or ``"original"`` (Keller Jordan's): ``lr * sqrt(max(1, rows / cols))``;
    ``"match_rms_adamw"`` (Liu et al., 2025): ``lr * 0.2 * sqrt(max(rows, cols))``, which gives
    the orthogonalized update about the root-mean-square size of an AdamW update, so that
    AdamW's rate and weight decay can be reused.
    """
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return lr * (0.2 * math.sqrt(max(rows, cols)))
    raise ValueError(f"adjust_lr_fn must be None, 'original' or 'match_rms_adamw', got {adjust_lr_fn!r}")


def muon_update(theta, g, m, *, lr, beta, weight_decay, nesterov=True, coefficients=NS_COEFFICIENTS,
                steps=5, eps=1e-7, adjust_lr_fn=None, dtype=torch.bfloat16):
    """One Muon step on the matrix ``theta`` and its momentum buffer ``m``, in place.

    With ``beta`` the momentum, ``lambda = weight_decay``, ``NS`` the Newton-Schulz
    iteration (:func:`~codebase.optim.muon.newton_schulz`, in bfloat16) and ``lr'`` the
    rate adjusted to the shape of ``theta`` (:func:`~codebase.optim.muon.adjusted_lr`)::

        m_t      = beta * m_{t-1} + (1 - beta) * g_t                 (m_0 = 0)
        u_t      = (1 - beta) * g_t + beta * m_t,  or  m_t          (Nesterov, or not)
        O_t      = NS(u_t)                                           (about U V^T for u_t = U S V^T)
        theta'   = theta_{t-1} - lr * lambda * theta_{t-1}          (decoupled weight decay)
        theta_t  = theta' - lr' * O_t

    ``m`` is an exponential moving average, as in torch's code (torch's docstring
    writes the sum ``m_t = beta m_{t-1} + g_t`` and ``u_t = g_t + beta m_t``, which is
    ``1 / (1 - beta)`` times larger; ``NS`` divides by the norm, so the steps agree but for
    ``eps``). The weight decay uses the unadjusted ``lr``, as in torch.

    Parameters
    ----------
    theta : Tensor
        A 2-D parameter, updated in place (call under ``torch.no_grad()`` if it requires grad).
    g : Tensor
        The gradient ``g_t``; it is not modified.
    m : Tensor
        The momentum buffer ``m_{t-1}``, updated in place to ``m_t``.
    lr, beta, weight_decay : float
        The learning rate alpha, the momentum coefficient and the decay coefficient lambda.
    nesterov : bool, default True
        Orthogonalize the look-ahead ``u_t`` instead of ``m_t``.
    coefficients, steps, eps, dtype
        Passed to :func:`~codebase.optim.muon.newton_schulz` (``dtype``: the precision of the iteration).
    adjust_lr_fn : None, "original" or "match_rms_adamw"
        Passed to :func:`~codebase.optim.muon.adjusted_lr`.
    """
    m.lerp_(g, 1 - beta)                                         # m_t = beta m_{t-1} + (1 - beta) g_t
    u = g.lerp(m, beta) if nesterov else m                       # u_t = (1 - beta) g_t + beta m_t, or m_t
    O = newton_schulz(u, steps, coefficients, eps, dtype=dtype)  # O_t = NS(u_t)
    theta.mul_(1 - lr * weight_decay)                            # theta' = theta_{t-1} - lr lambda theta_{t-1}
    theta.add_(O, alpha=-adjusted_lr(lr, adjust_lr_fn, theta.shape))  # theta_t = theta' - lr' O_t


def check_coefficients(coefficients):
    """Return ``coefficients`` after checking that it is a triple ``(a, b, c)`` of finite numbers."""
    if isinstance(coefficients, (str, bytes)) or not isinstance(coefficients, (tuple, list)):
        raise TypeError(f"ns_coefficients must be a triple (a, b, c), got {type(coefficients).__name__} "
                        f"{coefficients!r}")
    if len(coefficients) != 3:
        raise ValueError(f"ns_coefficients must be a triple (a, b, c), got {len(coefficients)} values: "
                         f"{coefficients!r} (torch: Coefficients must be a tuple of exactly 3 values)")
    for name, value in zip("abc", coefficients):
        check_number(f"ns_coefficients ({name})", value)
    return coefficients


class Muon(BaseOptimizer):
    """Muon (Jordan et al., 2024); a drop-in for ``torch.optim.Muon``, for 2-D weights only.

    Each step applies ``muon_update`` to every parameter with a gradient. Muon
    orthogonalizes the update of a *matrix*; it does not apply to biases, the gains of
    normalization layers (1-D) or convolution kernels (4-D), and like torch this class
    raises ``ValueError`` for a parameter that is not 2-D. Embeddings and the output
    layer are matrices, but they are usually left out too. The usual setup pairs it
    with AdamW::

        hidden = [p for p in model.parameters() if p.ndim == 2]     # hidden weight matrices
        others = [p for p in model.parameters() if p.ndim != 2]     # biases, norms
        optimizers = [Muon(hidden, lr=0.02), AdamW(others, lr=1e-3)]

    Parameters
    ----------
    params : iterable
        2-D parameters (or named parameters, or dicts defining parameter groups).
    lr : float, default 1e-3
        The learning rate alpha, adjusted to each matrix's shape (``adjust_lr_fn``).
    weight_decay : float, default 0.1
        The decoupled decay lambda: each step multiplies the weights by ``1 - lr * lambda``.
    momentum : float, default 0.95
        The momentum coefficient beta (``>= 0``).
    nesterov : bool, default True
        Orthogonalize the Nesterov look-ahead rather than the buffer.
    ns_coefficients : tuple of three floats, default ``(3.4445, -4.7750, 2.0315)``
        The coefficients ``(a, b, c)`` of the Newton-Schulz polynomial.
    eps : float, default 1e-7
        The smallest norm the Newton-Schulz iteration divides by (``>= 0``).
    ns_steps : int, default 5
        Newton-Schulz iterations, an integer from 0 to 99.
    adjust_lr_fn : None, "original" or "match_rms_adamw", default None
        How ``lr`` scales with the shape (``None`` means ``"original"``); see
        :func:`~codebase.optim.muon.adjusted_lr`.
    ns_dtype : torch.dtype, default torch.bfloat16, keyword only
        The precision of the Newton-Schulz iteration. Not in torch: its bfloat16 is the
        default, and gives torch's bits. ``torch.float64`` computes the same polynomial
        without bfloat16's rounding, whose last bits differ between CPUs (oneDNN picks the
        kernels by instruction set); the book uses it where a page prints Muon's numbers.
        It is an attribute of the optimizer, not of its groups, so ``state_dict()`` keeps
        torch's layout (a pickle keeps it).

    Notes
    -----
    The state of each parameter is ``{"momentum_buffer": m}``, created at its first step.
    Where this class differs from torch 2.13 on purpose:

    - every group is checked when it is added, so ``ns_steps >= 100`` and a wrong number of
      ``ns_coefficients`` fail at construction (torch: at the first step), an unknown
      ``adjust_lr_fn`` in a parameter group fails (torch checks only the constructor's and
      uses the unadjusted rate for the group's), a non-matrix added by ``add_param_group``
      fails at once (torch: at the step), and a negative ``eps`` or ``ns_steps`` fails;
    - with bfloat16 parameters and ``nesterov=False`` torch divides the momentum buffer by its
      norm in place at every step (its iteration normalizes the buffer itself, not a copy);
      here the buffer stays the moving average of the equations.
    """

    _SENSELESS = (
        ("momentum", lambda g: g["momentum"] >= 1,
         "never lets the gradient into the momentum buffer (1 - momentum <= 0), so the steps go nowhere or uphill"),
        ("eps", lambda g: g["eps"] == 0, "divides 0 by 0 (NaN) when the momentum matrix is zero"),
        ("weight_decay", lambda g: g["lr"] * g["weight_decay"] >= 1,
         "with lr multiplies the weights by 1 - lr * weight_decay <= 0 at every step: they vanish or flip sign"),
    )

    _TORCH_FLAG_DEFAULTS = {}

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=NS_COEFFICIENTS, eps=1e-7, ns_steps=5, adjust_lr_fn=None, *,
                 ns_dtype=torch.bfloat16):
        if not isinstance(ns_dtype, torch.dtype) or not ns_dtype.is_floating_point:
            raise TypeError(f"ns_dtype must be a floating-point torch.dtype (torch.bfloat16, torch.float32, "
                            f"torch.float64), got {type(ns_dtype).__name__} {ns_dtype!r}")
        self.ns_dtype = ns_dtype
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn)
        super().__init__(params, defaults)

    def __getstate__(self):
        """What a pickle keeps: torch's three entries and ``ns_dtype``."""
        return {**super().__getstate__(), "ns_dtype": self.ns_dtype}

    def __setstate__(self, state):
        """Restore from a pickle (or ``load_state_dict``); an old pickle without ``ns_dtype`` gets bfloat16."""
        state.setdefault("ns_dtype", self.__dict__.get("ns_dtype", torch.bfloat16))
        super().__setstate__(state)

    @classmethod
    def _check_group(cls, group):
        check_nonnegative("lr", group["lr"], "learning rate")
        check_nonnegative("momentum", group["momentum"], "momentum")
        check_nonnegative("weight_decay", group["weight_decay"], "weight decay")
        check_flag("nesterov", group["nesterov"])
        check_coefficients(group["ns_coefficients"])
        check_nonnegative("eps", group["eps"], "eps")
        check_int("ns_steps", group["ns_steps"], low=0, high=99)
        if group["adjust_lr_fn"] not in _ADJUST_LR_FNS:
            raise ValueError(f"Adjust learning rate function {group['adjust_lr_fn']!r} is not supported "
                             f"(adjust_lr_fn must be None, 'original' or 'match_rms_adamw')")
        super()._check_group(group)

    def add_param_group(self, param_group):
        """Add a parameter group after checking its hyperparameters and that its parameters are matrices."""
        super().add_param_group(param_group)
        shapes = [tuple(p.shape) for p in self.param_groups[-1]["params"] if p.ndim != 2]
        if shapes:
            self.param_groups.pop()
            self._checked.pop(len(self.param_groups), None)
            raise ValueError(f"Muon only supports 2-D parameters (weight matrices), got shapes {shapes}; "
                             f"optimize biases, norms and other parameters with AdamW")

    def _init_state(self, p, state, group):
        state["momentum_buffer"] = torch.zeros_like(p)

    def _update(self, p, g, state, group):
        muon_update(p, g, state["momentum_buffer"], lr=group["lr"], beta=group["momentum"],
                    weight_decay=group["weight_decay"], nesterov=group["nesterov"],
                    coefficients=group["ns_coefficients"], steps=group["ns_steps"], eps=group["eps"],
                    adjust_lr_fn=group["adjust_lr_fn"], dtype=self.ns_dtype)


def muon_split(params):
    """``(matrices, rest)``: the hidden weight matrices for Muon, and the other parameters.

    ``matrices`` are the 2-D parameters but the last, which is the output layer's weight
    when ``params`` comes in the order of ``model.parameters()`` for a network whose last
    layer is a ``Linear`` (as ``codebase.nn.mlp``'s); ``rest`` is everything else, in order:
    biases, the output layer's weight, normalization scales.
    """
    if isinstance(params, torch.nn.Module):
        params = params.parameters()
    if isinstance(params, torch.Tensor) or not hasattr(params, "__iter__"):
        raise TypeError(f"params must be an iterable of parameters (model.parameters()), got "
                        f"{'one tensor' if isinstance(params, torch.Tensor) else type(params).__name__}")
    params = list(params)
    if not all(isinstance(p, torch.Tensor) for p in params):
        raise TypeError("params must hold tensors only (pass model.parameters(), not parameter groups)")
    matrices = [p for p in params if p.dim() == 2][:-1]
    rest = [p for p in params if all(p is not w for w in matrices)]
    return matrices, rest


def muon_with_adamw(params, lr=0.02, *, weight_decay=0.01, adamw_lr=3e-3, adamw_weight_decay=0.01,
                    ns_dtype=torch.bfloat16):
    """Muon on the hidden weight matrices and AdamW on the rest (:func:`muon_split`), as one optimizer.

    The defaults are the Muon chapter's setup on the digits network: Muon at ``lr = 0.02``
    with decay 0.01, AdamW at ``3e-3`` with decay 0.01. ``ns_dtype`` is Muon's precision of
    the Newton-Schulz iteration (:class:`~codebase.optim.muon.Muon`).
    """
    matrices, rest = muon_split(params)
    if not matrices:
        raise ValueError("muon_with_adamw found no hidden weight matrix for Muon (it leaves the last 2-D "
                         "parameter, the output layer, to AdamW): use AdamW alone")
    try:
        parts = [Muon(matrices, lr=lr, weight_decay=weight_decay, ns_dtype=ns_dtype)]
    except (TypeError, ValueError) as error:   # say which of the two optimizers refused its argument
        raise type(error)(f"Muon (lr={lr!r}, weight_decay={weight_decay!r}): {error}") from None
    if rest:
        try:
            parts.append(AdamW(rest, lr=adamw_lr, weight_decay=adamw_weight_decay))
        except (TypeError, ValueError) as error:
            raise type(error)(f"AdamW (adamw_lr={adamw_lr!r}, adamw_weight_decay={adamw_weight_decay!r}): "
                              f"{error}") from None
    return Combined(*parts)
