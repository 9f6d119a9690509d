"""Weight initializers, written from their formulas.

The functions have the signatures of ``torch.nn.init``'s and draw their random numbers
with the same tensor methods (``tensor.uniform_``, ``tensor.normal_``), so with the same
``generator`` seed they give exactly the same values. They fill the tensor in place under
``torch.no_grad()`` and return it.

For a weight of shape ``(out, in, *kernel)`` with receptive field :math:`r = \\prod`
``kernel``, :math:`\\text{fan\\_in} = \\text{in}\\cdot r` and
:math:`\\text{fan\\_out} = \\text{out}\\cdot r`.

- Xavier/Glorot (Glorot & Bengio, 2010) keeps the variance of activations *and* of
  gradients roughly constant across layers of a linear (or tanh, near 0) network:
  :math:`\\operatorname{Var}(w) = g^2 \\cdot 2 / (\\text{fan\\_in} + \\text{fan\\_out})`.
- Kaiming/He (He et al., 2015) accounts for ReLU zeroing half of its inputs:
  :math:`\\operatorname{Var}(w) = g^2 / \\text{fan}` with gain :math:`g = \\sqrt 2` for ReLU.

A uniform :math:`\\mathcal U(-a, a)` has variance :math:`a^2/3`, so the uniform versions
use the bound :math:`a = \\sqrt 3\\,\\sigma`.
"""
from __future__ import annotations

import inspect
import math

import torch

from ._checks import check_callable, check_choice, check_real

__all__ = [
    "zeros_", "constant_", "normal_", "uniform_", "xavier_uniform_", "xavier_normal_",
    "kaiming_uniform_", "kaiming_normal_", "calculate_gain", "fan_in_and_fan_out",
    "init_model", "SCHEMES", "LAYERS", "NONLINEARITIES",
]

_LINEAR_LIKE = ("linear", "conv1d", "conv2d", "conv3d",
                "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
NONLINEARITIES = (*_LINEAR_LIKE, "sigmoid", "tanh", "relu", "leaky_relu", "selu")


def _check_tensor(tensor):
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"tensor must be a torch.Tensor, got {type(tensor).__name__}")
    return tensor


def fan_in_and_fan_out(tensor: torch.Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape ``(out, in, *kernel)``.

    :math:`\\text{fan\\_in} = \\text{in}\\cdot r` and :math:`\\text{fan\\_out} = \\text{out}\\cdot r`,
    where :math:`r` is the product of the kernel sizes (1 for a linear layer's
    ``(out, in)`` weight). Raises ``ValueError`` for tensors with fewer than 2 dimensions.
    """
    _check_tensor(tensor)
    if tensor.dim() < 2:
        raise ValueError(f"tensor must have at least 2 dimensions to have a fan-in and fan-out, "
                         f"got shape {tuple(tensor.shape)}")
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain :math:`g` that makes up for what ``nonlinearity`` does to the variance.

    ====================================  ====================================
    nonlinearity                          gain
    ====================================  ====================================
    linear, conv*, sigmoid                :math:`1`
    tanh                                  :math:`5/3`
    relu                                  :math:`\\sqrt 2`
    leaky_relu (slope ``param``, 0.01)    :math:`\\sqrt{2 / (1 + \\text{param}^2)}`
    selu                                  :math:`3/4`
    ====================================  ====================================

    ReLU's :math:`\\sqrt 2`: it sets half of a symmetric input to 0, halving the second
    moment, :math:`E[\\mathrm{relu}(z)^2] = \\tfrac12 E[z^2]`. The same values as
    ``torch.nn.init.calculate_gain``.
    """
    check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    if nonlinearity in _LINEAR_LIKE or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else check_real("param", param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    return 3.0 / 4  # selu: an empirical value, chosen by PyTorch


def zeros_(tensor: torch.Tensor) -> torch.Tensor:
    """Fill ``tensor`` with 0."""
    _check_tensor(tensor)
    with torch.no_grad():
        return tensor.zero_()


def constant_(tensor: torch.Tensor, val: float) -> torch.Tensor:
    """Fill ``tensor`` with ``val``."""
    _check_tensor(tensor)
    check_real("val", val)
    with torch.no_grad():
        return tensor.fill_(val)


def normal_(tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Fill ``tensor`` with draws from :math:`\\mathcal N(\\text{mean}, \\text{std}^2)`."""
    _check_tensor(tensor)
    check_real("mean", mean)
    check_real("std", std, low=0)
    with torch.no_grad():
        return tensor.normal_(mean, std, generator=generator)


def uniform_(tensor: torch.Tensor, a: float = 0.0, b: float = 1.0,
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Fill ``tensor`` with draws from :math:`\\mathcal U(a, b)` (mean :math:`(a+b)/2`,
    variance :math:`(b-a)^2/12`)."""
    _check_tensor(tensor)
    a = check_real("a", a)
    check_real("b", b, low=a)
    with torch.no_grad():
        return tensor.uniform_(a, b, generator=generator)


def _xavier_std(tensor, gain):
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    gain = check_real("gain", gain, low=0)
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))


def xavier_uniform_(tensor: torch.Tensor, gain: float = 1.0,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Glorot & Bengio (2010), uniform: :math:`\\mathcal U(-a, a)` with

    .. math::
        \\sigma = g\\sqrt{\\frac{2}{\\text{fan\\_in} + \\text{fan\\_out}}}, \\qquad a = \\sqrt3\\,\\sigma
        = g\\sqrt{\\frac{6}{\\text{fan\\_in} + \\text{fan\\_out}}}.
    """
    _check_tensor(tensor)
    if tensor.numel() == 0:
        return tensor
    std = _xavier_std(tensor, gain)
    a = math.sqrt(3.0) * std
    with torch.no_grad():
        return tensor.uniform_(-a, a, generator=generator)


def xavier_normal_(tensor: torch.Tensor, gain: float = 1.0,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Glorot & Bengio (2010), normal: :math:`\\mathcal N(0, \\sigma^2)` with
    :math:`\\sigma = g\\sqrt{2 / (\\text{fan\\_in} + \\text{fan\\_out})}`."""
    _check_tensor(tensor)
    if tensor.numel() == 0:
        return tensor
    std = _xavier_std(tensor, gain)
    with torch.no_grad():
        return tensor.normal_(0.0, std, generator=generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    a = check_real("a", a)  # the leaky-ReLU slope, checked under its own name
    check_choice("mode", mode, ("fan_in", "fan_out"))
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    gain = calculate_gain(nonlinearity, a)
    return gain / math.sqrt(fan)


def kaiming_uniform_(tensor: torch.Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu",
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """He et al. (2015), uniform: :math:`\\mathcal U(-b, b)` with

    .. math::
        \\sigma = \\frac{g}{\\sqrt{\\text{fan}}}, \\qquad b = \\sqrt3\\,\\sigma = g\\sqrt{\\frac{3}{\\text{fan}}},

    :math:`g` = ``calculate_gain(nonlinearity, a)`` (``a`` is the leaky-ReLU slope) and fan
    = ``fan_in`` (keeps the forward variance) or ``fan_out`` (keeps the backward one).
    With the defaults (``a=0``, ``'leaky_relu'``) the gain is :math:`\\sqrt2`, as for ReLU.
    """
    _check_tensor(tensor)
    if tensor.numel() == 0:
        return tensor
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    bound = math.sqrt(3.0) * std
    with torch.no_grad():
        return tensor.uniform_(-bound, bound, generator=generator)


def kaiming_normal_(tensor: torch.Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu",
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """He et al. (2015), normal: :math:`\\mathcal N(0, \\sigma^2)` with
    :math:`\\sigma = g / \\sqrt{\\text{fan}}` (see :func:`kaiming_uniform_`); for ReLU and
    ``mode='fan_in'``, :math:`\\operatorname{Var}(w) = 2/\\text{fan\\_in}`."""
    _check_tensor(tensor)
    if tensor.numel() == 0:
        return tensor
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    with torch.no_grad():
        return tensor.normal_(0, std, generator=generator)


SCHEMES = {
    "zeros": zeros_,
    "constant": constant_,
    "normal": normal_,
    "uniform": uniform_,
    "xavier_uniform": xavier_uniform_,
    "xavier_normal": xavier_normal_,
    "glorot_uniform": xavier_uniform_,
    "glorot_normal": xavier_normal_,
    "kaiming_uniform": kaiming_uniform_,
    "kaiming_normal": kaiming_normal_,
    "he_uniform": kaiming_uniform_,
    "he_normal": kaiming_normal_,
}
"""Initializers by name, as accepted by :func:`init_model` (``glorot_*`` and ``he_*`` are aliases)."""

LAYERS = (torch.nn.Linear, torch.nn.Bilinear,
          torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d,
          torch.nn.ConvTranspose1d, torch.nn.ConvTranspose2d, torch.nn.ConvTranspose3d)
"""The layer types whose ``weight`` :func:`init_model` initializes."""


def _accepts_generator(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "generator" or p.kind is p.VAR_KEYWORD for p in params)


def init_model(model: torch.nn.Module, scheme, *, bias: float | None = 0.0,
               generator: torch.Generator | None = None, **kwargs) -> torch.nn.Module:
    """Initialize the weight of every linear and convolutional layer of ``model`` (see
    :data:`LAYERS`) with ``scheme`` and set every such layer's bias to ``bias``.

    ``scheme`` is a name from :data:`SCHEMES` or a callable ``scheme(weight, **kwargs)``
    that fills ``weight`` in place (it runs under ``torch.no_grad()``); ``kwargs`` go to
    it (e.g. ``nonlinearity='relu'``, ``std=0.01``). ``generator`` is passed on to schemes
    that take one (a ``generator`` parameter or ``**kwargs``). ``bias=None`` leaves biases
    as they are. Other parameters (e.g. PReLU slopes) are not touched. Returns ``model``.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(scheme, str):
        fn = SCHEMES.get(scheme)
        if fn is None:
            raise ValueError(f"scheme must be one of {sorted(SCHEMES)} or a callable, got {scheme!r}")
    else:
        fn = check_callable("scheme", scheme, ("tensor",))
    if bias is not None:
        bias = check_real("bias", bias)
    if generator is not None and _accepts_generator(fn):
        kwargs = {**kwargs, "generator": generator}
    layers = [layer for layer in model.modules() if isinstance(layer, LAYERS)]
    if not layers:
        raise ValueError(f"model has no layer that init_model initializes ({', '.join(t.__name__ for t in LAYERS)}); "
                         "nothing would change")
    with torch.no_grad():  # so that a plain callable may fill the weight in place
        for layer in layers:
            fn(layer.weight, **kwargs)
            if bias is not None and layer.bias is not None:
                constant_(layer.bias, bias)
    return model
