"""Activation modules, Maxout, and the MLP builder the chapters train."""
from __future__ import annotations

import torch

from .. import init as initializers  # "init" is mlp's argument
from .._checks import check_callable, check_flag, check_int, check_real
from .activations import elu, gelu, leaky_relu, prelu, relu, sigmoid, silu, tanh
from .dropout import Dropout, _check_drop_probability

__all__ = ["Sigmoid", "Tanh", "ReLU", "LeakyReLU", "PReLU", "ELU", "GELU", "SiLU", "Maxout", "ACTIVATIONS", "mlp"]


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
    logistic regression). ``activation`` is a name from ``ACTIVATIONS`` or a module
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
