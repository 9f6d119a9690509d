"""Activation functions with their derivatives, Maxout, and an MLP builder.

Each activation is a ``torch.autograd.Function`` whose ``backward`` is its derivative
written out, so the function and its derivative sit side by side. Use them as functions
(:func:`sigmoid`, :func:`relu`, ...) or as modules (:class:`Sigmoid`, :class:`ReLU`, ...).
"""
from __future__ import annotations

import torch

from . import init as initializers  # "init" is mlp's argument
from ._checks import check_callable, check_flag, check_generator, check_int, check_real

__all__ = [
    "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "gelu", "silu",
    "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "PReLU", "ELU", "GELU", "SiLU", "Maxout",
    "ACTIVATIONS", "mlp", "dropout", "Dropout",
]


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


class Sigmoid(torch.nn.Module):
    """Module form of :func:`sigmoid`."""

    def forward(self, x):
        return sigmoid(x)


class Tanh(torch.nn.Module):
    """Module form of :func:`tanh`."""

    def forward(self, x):
        return tanh(x)


class ReLU(torch.nn.Module):
    """Module form of :func:`relu`."""

    def forward(self, x):
        return relu(x)


class LeakyReLU(torch.nn.Module):
    """Module form of :func:`leaky_relu`."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = check_real("negative_slope", negative_slope)

    def forward(self, x):
        return leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class PReLU(torch.nn.Module):
    """Module form of :func:`prelu`: the slope ``weight`` (``num_parameters`` values, one
    shared or one per channel, starting at ``init``) is learned by gradient descent."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25):
        super().__init__()
        num_parameters = check_int("num_parameters", num_parameters, low=1)
        init = check_real("init", init)
        self.weight = torch.nn.Parameter(torch.full((num_parameters,), init))

    def forward(self, x):
        return prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.weight.numel()}"


class ELU(torch.nn.Module):
    """Module form of :func:`elu`."""

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = check_real("alpha", alpha, low=0.0, low_open=True)

    def forward(self, x):
        return elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class GELU(torch.nn.Module):
    """Module form of :func:`gelu`."""

    def forward(self, x):
        return gelu(x)


class SiLU(torch.nn.Module):
    """Module form of :func:`silu`."""

    def forward(self, x):
        return silu(x)


class Maxout(torch.nn.Module):
    """Maxout layer (Goodfellow et al., 2013): each output unit is the maximum of ``pieces``
    affine maps of the input,

    .. math::
        h_j(x) = \\max_{k = 1..K} \\bigl(w_{jk}^\\top x + b_{jk}\\bigr),

    a convex piecewise-linear function of :math:`x` that is learned, not fixed. ``linear``
    maps ``in_features`` to ``out_features * pieces``; unit :math:`j`'s pieces are its
    outputs ``j*pieces`` to ``j*pieces + pieces - 1``. The gradient of :math:`h_j` reaches
    only the piece that attains the maximum. With two pieces, one fixed at 0, it is a ReLU.
    """

    def __init__(self, in_features: int, out_features: int, pieces: int = 2, bias: bool = True):
        super().__init__()
        self.in_features = check_int("in_features", in_features, low=1)
        self.out_features = check_int("out_features", out_features, low=1)
        self.pieces = check_int("pieces", pieces, low=1)
        self.linear = torch.nn.Linear(in_features, out_features * pieces, bias=check_flag("bias", bias))

    def pieces_of(self, x: torch.Tensor) -> torch.Tensor:
        """The affine pieces :math:`w_{jk}^\\top x + b_{jk}`, shape ``(..., out_features, pieces)``."""
        z = self.linear(x)
        return z.reshape(*z.shape[:-1], self.out_features, self.pieces)

    def forward(self, x):
        return self.pieces_of(x).amax(dim=-1)

    @torch.no_grad()
    def on_grid(self, grid, direction=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Each unit's learned shape on a 1-D grid, for plotting.

        Evaluates the layer at :math:`x = t\\,d` for each ``t`` in ``grid``, where
        ``direction`` :math:`d` (``in_features`` values) may be omitted when
        ``in_features == 1``. Returns ``(units, pieces)`` of shapes
        ``(len(grid), out_features)`` and ``(len(grid), out_features, pieces)``.
        """
        weight = self.linear.weight
        grid = torch.as_tensor(grid, dtype=weight.dtype, device=weight.device).reshape(-1)
        if direction is None:
            if self.in_features != 1:
                raise ValueError(f"direction is needed when in_features = {self.in_features} > 1")
            direction = torch.ones(1, dtype=weight.dtype, device=weight.device)
        direction = torch.as_tensor(direction, dtype=weight.dtype, device=weight.device).reshape(-1)
        if direction.numel() != self.in_features:
            raise ValueError(f"direction must have in_features = {self.in_features} entries, "
                             f"got {direction.numel()}")
        pieces = self.pieces_of(grid[:, None] * direction[None, :])
        return pieces.amax(dim=-1), pieces

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, pieces={self.pieces}"


ACTIVATIONS = {
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "prelu": PReLU,
    "elu": ELU,
    "gelu": GELU,
    "silu": SiLU,
    "maxout": Maxout,
    "identity": torch.nn.Identity,
}
"""Activation modules by name. All but ``'maxout'`` are built without arguments; a Maxout
layer replaces the linear layer *and* the activation (see :func:`mlp`)."""


def _activation_factory(activation):
    if isinstance(activation, str):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)} or a module "
                             f"class/factory, got {activation!r}")
        return ACTIVATIONS[activation]
    if isinstance(activation, torch.nn.Module):
        raise TypeError("activation must be a name or a module class/factory, not a module "
                        f"instance ({type(activation).__name__}); each layer needs its own")
    if activation is Maxout:  # replaces the linear layer too: mlp builds it with its sizes
        return Maxout
    return check_callable("activation", activation, ())


def mlp(in_features: int, out_features: int, *, depth: int, width: int,
        activation="relu", init=None, bias: bool = True,
        generator: torch.Generator | None = None, pieces: int = 2,
        dropout: float | None = None) -> torch.nn.Sequential:
    """A multilayer perceptron with ``depth`` hidden layers of ``width`` units.

    The layers are ``Linear(in, width), act, ..., Linear(width, width), act,
    Linear(width, out)``; ``depth = 0`` gives the single layer ``Linear(in, out)`` (linear or
    logistic regression). ``activation`` is a name from :data:`ACTIVATIONS` or a module
    class/factory called once per hidden layer. With ``'maxout'`` (or :class:`Maxout`) each
    hidden ``Linear`` + activation is a ``Maxout(.., width, pieces)`` layer instead.

    ``init`` is a scheme name or callable for :func:`codebase.init.init_model` (biases set
    to 0); ``None`` keeps PyTorch's default initialization. ``generator`` makes either
    reproducible without touching the global random state.

    ``dropout`` (a drop probability :math:`p`) puts a :class:`Dropout` layer after each
    hidden activation (after each Maxout layer), so that every hidden layer's output is
    thinned during training; its masks come from torch's global random numbers. ``None``
    (the default) adds no layers.
    """
    in_features = check_int("in_features", in_features, low=1)
    out_features = check_int("out_features", out_features, low=1)
    depth = check_int("depth", depth, low=0)
    width = check_int("width", width, low=1)
    pieces = check_int("pieces", pieces, low=1)
    check_flag("bias", bias)
    make = _activation_factory(activation)
    if init is not None and not isinstance(init, str):
        check_callable("init", init, ("tensor",))
    if dropout is not None:
        dropout = _check_drop_probability(dropout, "dropout")

    # build without consuming the global random numbers when a generator is given
    with torch.random.fork_rng(devices=[], enabled=generator is not None):
        layers, n = [], in_features
        for _ in range(depth):
            if make is Maxout:
                layers.append(Maxout(n, width, pieces, bias=bias))
            else:
                layers.append(torch.nn.Linear(n, width, bias=bias))
                act = make()
                if not isinstance(act, torch.nn.Module):
                    raise TypeError(f"activation must build a torch.nn.Module, got {type(act).__name__}")
                layers.append(act)
            if dropout is not None:
                layers.append(Dropout(dropout))
            n = width
        layers.append(torch.nn.Linear(n, out_features, bias=bias))
    model = torch.nn.Sequential(*layers)

    if init is not None:
        initializers.init_model(model, init, bias=0.0, generator=generator)
    elif generator is not None:
        for layer in model.modules():
            if isinstance(layer, torch.nn.Linear):
                _torch_default_init(layer, generator)
    return model


def _torch_default_init(layer, generator):
    """PyTorch's default ``nn.Linear`` initialization, drawn from ``generator``:
    weight and bias uniform on :math:`\\pm 1/\\sqrt{\\text{fan\\_in}}`."""
    # kaiming_uniform_ with a = √5 gives the bound √(6/(1+5))/√fan_in = 1/√fan_in
    initializers.kaiming_uniform_(layer.weight, a=5 ** 0.5, generator=generator)
    if layer.bias is not None:
        bound = 1 / layer.in_features ** 0.5
        initializers.uniform_(layer.bias, -bound, bound, generator=generator)


# dropout ---------------------------------------------------------------------------------

def _check_drop_probability(p, name="p"):
    return check_real(name, p, low=0.0, high=1.0, high_open=True)


def dropout(x: torch.Tensor, p: float = 0.5, training: bool = True,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Dropout (Hinton et al., 2012) in its *inverted* form: during training, zero each
    entry of ``x`` with probability :math:`p` and divide the survivors by :math:`1 - p`,

    .. math::
        r_j \\sim \\operatorname{Bernoulli}(1 - p), \\qquad
        \\tilde h_j = \\frac{r_j\\, h_j}{1 - p},

    so that :math:`\\mathbb{E}[\\tilde h_j] = h_j` and nothing needs rescaling at test time.
    With ``training=False`` or :math:`p = 0` it returns ``x`` itself, like
    ``torch.nn.functional.dropout``, and with the same random state it draws the same mask
    and returns the same numbers bit for bit. The mask :math:`r` comes from ``generator``
    (default: torch's global random numbers). :math:`p` must lie in :math:`[0, 1)`: at
    :math:`p = 1` every unit is dropped and the division is undefined.
    """
    x = _check_tensor("x", x)
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}")
    p = _check_drop_probability(p)
    check_flag("training", training)
    check_generator("generator", generator)
    if not training or p == 0.0:
        return x
    r = torch.empty_like(x).bernoulli_(1 - p, generator=generator)  # r_j ~ Bernoulli(1 - p)
    return x * (r / (1 - p))  # h~ = r h / (1 - p)


class Dropout(torch.nn.Module):
    """Module form of :func:`dropout`: drops with probability ``p`` in training mode
    (``model.train()``) and is the identity in evaluation mode (``model.eval()``). Masks come
    from ``generator`` when one is given, from torch's global random numbers otherwise."""

    def __init__(self, p: float = 0.5, generator: torch.Generator | None = None):
        super().__init__()
        self.p = _check_drop_probability(p)
        self.generator = check_generator("generator", generator)

    def forward(self, x):
        return dropout(x, self.p, self.training, self.generator)

    def extra_repr(self):
        return f"p={self.p}"
