"""Activation functions written with their derivatives: each is a ``torch.autograd.Function``
whose ``backward`` is the derivative written out, so the function and its derivative sit
side by side, and a plain function (:func:`sigmoid`, :func:`relu`, ...) that applies it."""
from __future__ import annotations

import torch

from .._checks import check_real

__all__ = ["sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "gelu", "silu"]


def _check_tensor(name, x):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    return x


class _Sigmoid(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        # 1/(1+e^{-x}) for x >= 0 and e^{x}/(1+e^{x}) for x < 0: e^{-|x|} never overflows
        z = torch.exp(-x.abs())
        s = torch.where(x >= 0, 1 / (1 + z), z / (1 + z))
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, grad):
        (s,) = ctx.saved_tensors
        return grad * s * (1 - s)  # σ'(x) = σ(x)(1 - σ(x))


class _Tanh(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        # tanh(x) = sign(x)(1 - e^{-2|x|})/(1 + e^{-2|x|}); expm1 keeps small |x| accurate
        m = torch.expm1(-2 * x.abs())
        y = torch.sign(x) * (-m / (2 + m))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * (1 - y * y)  # tanh'(x) = 1 - tanh(x)^2


class _ReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x > 0, x, torch.zeros_like(x))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        # derivative 1 for x > 0 and 0 for x <= 0 (at the kink, PyTorch's choice: 0)
        return torch.where(x > 0, grad, torch.zeros_like(grad))


class _LeakyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        return torch.where(x > 0, x, slope * x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        # derivative 1 for x > 0 and `slope` for x <= 0 (at the kink, 0 is taken as x <= 0)
        return torch.where(x > 0, grad, ctx.slope * grad), None


class _PReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight):
        a = _channel_view(weight, x)
        ctx.save_for_backward(x, weight)
        return torch.where(x > 0, x, a * x)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        a = _channel_view(weight, x)
        grad_x = torch.where(x > 0, grad, a * grad)  # ∂y/∂x = 1 or a
        per_element = torch.where(x > 0, torch.zeros_like(x), x) * grad  # ∂y/∂a = 0 or x
        if weight.numel() == 1:
            grad_w = per_element.sum().reshape(weight.shape)
        else:  # sum over every dimension except the channel dimension 1
            dims = [d for d in range(x.dim()) if d != 1]
            grad_w = per_element.sum(dim=dims).reshape(weight.shape)
        return grad_x, grad_w


class _ELU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, alpha):
        # x for x > 0 and alpha (e^x - 1) otherwise; expm1 keeps small |x| accurate
        y = torch.where(x > 0, x, alpha * torch.expm1(torch.clamp(x, max=0)))
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return y

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        # derivative 1 for x > 0 and alpha e^x for x <= 0 (at the kink, alpha, as in PyTorch)
        return torch.where(x > 0, grad, grad * ctx.alpha * torch.exp(torch.clamp(x, max=0))), None


_SQRT_HALF = 0.7071067811865476  # 1/√2
_INV_SQRT_2PI = 0.3989422804014327  # 1/√(2π)


class _GELU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * 0.5 * (1 + torch.erf(x * _SQRT_HALF))  # x Φ(x), Φ the standard normal CDF

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        cdf = 0.5 * (1 + torch.erf(x * _SQRT_HALF))  # Φ(x)
        pdf = _INV_SQRT_2PI * torch.exp(-0.5 * x * x)  # φ(x)
        return grad * (cdf + x * pdf)  # (x Φ(x))' = Φ(x) + x φ(x)


class _SiLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        z = torch.exp(-x.abs())  # σ(x) without overflow, as in _Sigmoid
        s = torch.where(x >= 0, 1 / (1 + z), z / (1 + z))
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, grad):
        x, s = ctx.saved_tensors
        return grad * s * (1 + x * (1 - s))  # (x σ(x))' = σ(x) (1 + x (1 - σ(x)))


def _channel_view(weight, x):
    """``weight`` shaped to broadcast along the channel dimension 1 of ``x``."""
    if weight.numel() == 1:
        return weight.reshape(())
    channels = x.shape[1] if x.dim() >= 2 else 1
    if weight.numel() != channels:
        raise ValueError(f"weight has {weight.numel()} entries but the input has {channels} "
                         "channels (dimension 1)")
    return weight.reshape(-1, *([1] * (x.dim() - 2)))


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Logistic sigmoid :math:`\\sigma(x) = 1/(1 + e^{-x})`, with
    :math:`\\sigma'(x) = \\sigma(x)(1 - \\sigma(x)) \\le 1/4`.

    Computed without overflow for any ``x`` (e.g. ±1000): for :math:`x < 0` it uses the
    equal form :math:`e^{x}/(1 + e^{x})`.
    """
    return _Sigmoid.apply(_check_tensor("x", x))


def tanh(x: torch.Tensor) -> torch.Tensor:
    """Hyperbolic tangent :math:`\\tanh(x) = (e^x - e^{-x})/(e^x + e^{-x}) = 2\\sigma(2x) - 1`,
    with :math:`\\tanh'(x) = 1 - \\tanh^2(x) \\le 1`."""
    return _Tanh.apply(_check_tensor("x", x))


def relu(x: torch.Tensor) -> torch.Tensor:
    """Rectified linear unit :math:`\\max(0, x)`, with derivative 1 for :math:`x > 0` and 0
    for :math:`x \\le 0` (0 at the kink, as in PyTorch)."""
    return _ReLU.apply(_check_tensor("x", x))


def leaky_relu(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    """Leaky ReLU (Maas et al., 2013): :math:`x` for :math:`x > 0`, :math:`\\alpha x` otherwise
    (:math:`\\alpha` = ``negative_slope``); derivative 1 or :math:`\\alpha`."""
    negative_slope = check_real("negative_slope", negative_slope)
    return _LeakyReLU.apply(_check_tensor("x", x), negative_slope)


def prelu(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Parametric ReLU (He et al., 2015): :math:`x` for :math:`x > 0`, :math:`a x` otherwise.

    ``weight`` holds the slope :math:`a`: one value, or one per channel (dimension 1 of
    ``x``). Derivatives: :math:`\\partial y/\\partial x = 1` or :math:`a`, and
    :math:`\\partial y/\\partial a = 0` or :math:`x`, summed over the positions that share
    :math:`a`.
    """
    return _PReLU.apply(_check_tensor("x", x), _check_tensor("weight", weight))


def elu(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Exponential linear unit (Clevert et al., 2016): :math:`x` for :math:`x > 0` and
    :math:`\\alpha (e^{x} - 1)` otherwise, with derivative 1 or :math:`\\alpha e^{x}`.

    Its negative side saturates smoothly at :math:`-\\alpha`, so the mean activation is closer
    to 0 than a ReLU's. ``alpha`` must be positive.
    """
    alpha = check_real("alpha", alpha, low=0.0, low_open=True)
    return _ELU.apply(_check_tensor("x", x), alpha)


def gelu(x: torch.Tensor) -> torch.Tensor:
    """Gaussian error linear unit (Hendrycks & Gimpel, 2016): :math:`x\\,\\Phi(x)`, with
    :math:`\\Phi` the standard normal CDF (the exact form, ``approximate='none'`` in PyTorch).

    Its derivative is :math:`\\Phi(x) + x\\,\\varphi(x)`, with :math:`\\varphi` the normal
    density: about 1 for large :math:`x`, 1/2 at 0, and slightly negative for
    :math:`x < -0.75`, where the function dips below 0 (minimum about :math:`-0.17`).
    """
    return _GELU.apply(_check_tensor("x", x))


def silu(x: torch.Tensor) -> torch.Tensor:
    """Sigmoid-weighted linear unit, also called Swish (Elfwing et al., 2018; Ramachandran
    et al., 2017): :math:`x\\,\\sigma(x)`, with derivative
    :math:`\\sigma(x)\\bigl(1 + x(1 - \\sigma(x))\\bigr)`; like GELU it dips slightly below 0
    (minimum about :math:`-0.28`) and tends to :math:`x` for large :math:`x`.
    """
    return _SiLU.apply(_check_tensor("x", x))
