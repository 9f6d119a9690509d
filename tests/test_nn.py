"""codebase.nn: activations and their gradients against torch.nn.functional, Maxout, mlp."""
import functools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from codebase import nn as N

# (ours, torch's) pairs of elementwise activations
PAIRS = {
    "sigmoid": (N.sigmoid, torch.sigmoid),
    "tanh": (N.tanh, torch.tanh),
    "relu": (N.relu, F.relu),
    "leaky_relu": (N.leaky_relu, F.leaky_relu),
    "leaky_relu_0.2": (functools.partial(N.leaky_relu, negative_slope=0.2),
                       functools.partial(F.leaky_relu, negative_slope=0.2)),
    "leaky_relu_neg": (functools.partial(N.leaky_relu, negative_slope=-0.5),
                       functools.partial(F.leaky_relu, negative_slope=-0.5)),
    "prelu": (lambda x: N.prelu(x, torch.tensor([0.3], dtype=x.dtype)),
              lambda x: F.prelu(x, torch.tensor([0.3], dtype=x.dtype))),
    "elu": (N.elu, F.elu),
    "elu_0.5": (functools.partial(N.elu, alpha=0.5), functools.partial(F.elu, alpha=0.5)),
    "gelu": (N.gelu, F.gelu),
    "silu": (N.silu, F.silu),
}


def value_and_grad(fn, x, upstream):
    x = x.detach().clone().requires_grad_(True)
    y = fn(x)
    (g,) = torch.autograd.grad(y, x, upstream)
    return y.detach(), g


def assert_same_as_torch(name, x):
    ours, theirs = PAIRS[name]
    upstream = torch.linspace(-2, 2, x.numel(), dtype=x.dtype).reshape(x.shape)
    y1, g1 = value_and_grad(ours, x, upstream)
    y2, g2 = value_and_grad(theirs, x, upstream)
    torch.testing.assert_close(y1, y2)
    torch.testing.assert_close(g1, g2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", PAIRS)
def test_values_and_gradients_equal_torch(name, dtype):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 5, 6, generator=g, dtype=dtype) * 4
    x.view(-1)[:3] = torch.tensor([0.0, -0.0, 1e-30])  # the kink, exactly
    assert_same_as_torch(name, x)


@given(st.lists(st.floats(-50, 50, allow_subnormal=False), min_size=1, max_size=40),
       st.sampled_from(sorted(PAIRS)))
def test_hypothesis_inputs_equal_torch(xs, name):
    assert_same_as_torch(name, torch.tensor(xs, dtype=torch.float64))


@pytest.mark.parametrize("name", PAIRS)
def test_gradcheck_float64(name):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 7, generator=g, dtype=torch.float64)
    x = torch.where(x.abs() < 0.1, x.sign() * 0.1 + x, x)  # keep away from the kink
    assert torch.autograd.gradcheck(PAIRS[name][0], (x.requires_grad_(True),))


def test_prelu_gradcheck_wrt_weight_per_channel():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 4, generator=g, dtype=torch.float64)
    x = torch.where(x.abs() < 0.1, x + 0.2 * x.sign(), x).requires_grad_(True)
    w = torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(N.prelu, (x, w))


@pytest.mark.parametrize("name", PAIRS)
def test_extreme_inputs_give_no_nan(name):
    for dtype in (torch.float32, torch.float64):
        x = torch.tensor([-1000.0, -100.0, -30.0, 30.0, 100.0, 1000.0], dtype=dtype)
        assert_same_as_torch(name, x)
        y, g = value_and_grad(PAIRS[name][0], x, torch.ones_like(x))
        assert torch.isfinite(y).all() and torch.isfinite(g).all()


def test_sigmoid_and_tanh_saturate_cleanly():
    x = torch.tensor([-1000.0, 1000.0, float("-inf"), float("inf")])
    assert N.sigmoid(x).tolist() == [0.0, 1.0, 0.0, 1.0]
    assert N.tanh(x).tolist() == [-1.0, 1.0, -1.0, 1.0]
    assert N.relu(x).tolist() == [0.0, 1000.0, 0.0, float("inf")]
    tiny = torch.tensor([1e-20, -1e-8], dtype=torch.float64)  # no cancellation near 0
    torch.testing.assert_close(N.tanh(tiny), torch.tanh(tiny), rtol=1e-15, atol=0)


def test_derivative_bounds():
    x = torch.linspace(-10, 10, 2001, dtype=torch.float64)
    _, ds = value_and_grad(N.sigmoid, x, torch.ones_like(x))
    _, dt = value_and_grad(N.tanh, x, torch.ones_like(x))
    assert ds.max().item() == pytest.approx(0.25) and dt.max().item() == pytest.approx(1.0)


def test_modules_equal_functions():
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(N.Sigmoid()(x), N.sigmoid(x))
    assert torch.equal(N.Tanh()(x), N.tanh(x))
    assert torch.equal(N.ReLU()(x), N.relu(x))
    assert torch.equal(N.LeakyReLU(0.3)(x), N.leaky_relu(x, 0.3))
    assert "negative_slope=0.3" in repr(N.LeakyReLU(0.3))
    assert torch.equal(N.ELU(0.5)(x), N.elu(x, 0.5))
    assert "alpha=0.5" in repr(N.ELU(0.5))
    assert torch.equal(N.GELU()(x), N.gelu(x))
    assert torch.equal(N.SiLU()(x), N.silu(x))


def test_smooth_activations_known_values():
    x = torch.tensor([0.0, 1.0, -1.0], dtype=torch.float64)
    phi = 0.5 * (1 + torch.erf(x / 2 ** 0.5))
    torch.testing.assert_close(N.gelu(x), x * phi, rtol=1e-15, atol=0)
    torch.testing.assert_close(N.silu(x), x / (1 + torch.exp(-x)), rtol=1e-15, atol=0)
    torch.testing.assert_close(N.elu(x, 2.0), torch.tensor([0.0, 1.0, 2 * (torch.e ** -1 - 1)],
                                                         dtype=torch.float64), rtol=1e-15, atol=0)
    # the slopes at 0: 1/2 for GELU and SiLU, alpha for ELU (PyTorch's choice at the kink)
    for fn, slope in [(N.gelu, 0.5), (N.silu, 0.5), (functools.partial(N.elu, alpha=2.0), 2.0)]:
        _, g = value_and_grad(fn, torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64))
        assert g.item() == pytest.approx(slope, abs=1e-15)


@pytest.mark.parametrize("num_parameters, shape", [(1, (8,)), (1, (4, 3, 5)), (3, (4, 3, 5, 2)), (3, (6, 3))])
def test_prelu_module_matches_torch_and_learns(num_parameters, shape):
    ours, theirs = N.PReLU(num_parameters, init=0.2), torch.nn.PReLU(num_parameters, init=0.2)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(3), requires_grad=True)
    y1, y2 = ours(x), theirs(x)
    torch.testing.assert_close(y1, y2)
    upstream = torch.randn(shape, generator=torch.Generator().manual_seed(4))
    gx1, gw1 = torch.autograd.grad(y1, (x, ours.weight), upstream)
    gx2, gw2 = torch.autograd.grad(y2, (x, theirs.weight), upstream)
    torch.testing.assert_close(gx1, gx2)
    torch.testing.assert_close(gw1, gw2)
    assert isinstance(ours.weight, torch.nn.Parameter) and gw1.abs().sum() > 0


def test_prelu_slope_is_learned_by_gradient_descent():
    # data from a leaky relu with slope 0.6: the learned slope should get there
    act = N.PReLU()
    opt = torch.optim.SGD(act.parameters(), lr=0.5)
    x = torch.linspace(-2, 2, 41)
    target = torch.where(x > 0, x, 0.6 * x)
    for _ in range(100):
        opt.zero_grad()
        ((act(x) - target) ** 2).mean().backward()
        opt.step()
    assert act.weight.item() == pytest.approx(0.6, abs=1e-4)


def test_prelu_rejects_mismatched_channels():
    with pytest.raises(ValueError, match="channels"):
        N.prelu(torch.randn(4, 3), torch.tensor([0.1, 0.2]))


# Maxout -------------------------------------------------------------------------------

def test_maxout_with_a_zero_piece_is_relu():
    layer = N.Maxout(5, 4, pieces=2)
    with torch.no_grad():
        layer.linear.weight[1::2] = 0  # piece 1 of every unit is 0
        layer.linear.bias[1::2] = 0
    x = torch.randn(10, 5, generator=torch.Generator().manual_seed(0))
    w, b = layer.linear.weight[0::2], layer.linear.bias[0::2]
    torch.testing.assert_close(layer(x), torch.relu(x @ w.T + b))


def test_maxout_shape_and_gradient_only_to_the_argmax_piece():
    torch.manual_seed(0)
    layer = N.Maxout(3, 4, pieces=5)
    assert layer.linear.in_features == 3 and layer.linear.out_features == 20
    x = torch.randn(1, 3, generator=torch.Generator().manual_seed(1))
    y = layer(x)
    assert y.shape == (1, 4)
    y.sum().backward()
    pieces = layer.pieces_of(x).detach()[0]  # (4 units, 5 pieces)
    winner = pieces.argmax(dim=-1)
    grad_b = layer.linear.bias.grad.reshape(4, 5)
    expected = torch.zeros(4, 5)
    expected[torch.arange(4), winner] = 1.0
    assert torch.equal(grad_b, expected)
    grad_w = layer.linear.weight.grad.reshape(4, 5, 3)
    torch.testing.assert_close(grad_w, expected[..., None] * x[0])
    assert layer(torch.randn(2, 7, 3)).shape == (2, 7, 4)


def test_maxout_on_grid_gives_convex_piecewise_linear_units():
    layer = N.Maxout(1, 3, pieces=4)
    grid = torch.linspace(-3, 3, 601)
    units, pieces = layer.on_grid(grid)
    assert units.shape == (601, 3) and pieces.shape == (601, 3, 4)
    torch.testing.assert_close(units, layer(grid[:, None]).detach())
    second_difference = units[2:] - 2 * units[1:-1] + units[:-2]
    assert (second_difference >= -1e-5).all()  # a max of lines is convex
    multi = N.Maxout(2, 3, pieces=2)
    units, _ = multi.on_grid(grid, direction=[1.0, -1.0])
    x = torch.stack([grid, -grid], dim=1)
    torch.testing.assert_close(units, multi(x).detach())
    with pytest.raises(ValueError, match="direction"):
        multi.on_grid(grid)


# registry and mlp ---------------------------------------------------------------------

def test_activation_registry():
    assert set(N.ACTIVATIONS) == {"sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "gelu", "silu",
                                  "maxout", "identity"}
    x = torch.randn(3, 2)
    for name, make in N.ACTIVATIONS.items():
        if name != "maxout":
            assert make()(x).shape == x.shape


def count_linear(model):
    return sum(isinstance(m, torch.nn.Linear) for m in model.modules())


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_mlp_shapes_depth_and_parameter_count(depth):
    model = N.mlp(7, 3, depth=depth, width=11)
    assert isinstance(model, torch.nn.Sequential)
    assert count_linear(model) == depth + 1
    assert model(torch.randn(5, 7)).shape == (5, 3)
    if depth == 0:
        expected = 7 * 3 + 3
    else:
        expected = (7 * 11 + 11) + (depth - 1) * (11 * 11 + 11) + (11 * 3 + 3)
    assert sum(p.numel() for p in model.parameters()) == expected
    assert sum(isinstance(m, N.ReLU) for m in model) == depth


def test_mlp_maxout_and_activation_choices():
    model = N.mlp(4, 2, depth=2, width=6, activation="maxout", pieces=3)
    maxouts = [m for m in model if isinstance(m, N.Maxout)]
    assert len(maxouts) == 2 and all(m.pieces == 3 for m in maxouts)
    assert sum(p.numel() for p in model.parameters()) == (4 * 18 + 18) + (6 * 18 + 18) + (6 * 2 + 2)
    assert model(torch.randn(3, 4)).shape == (3, 2)
    assert isinstance(N.mlp(4, 2, depth=1, width=6, activation=N.Maxout)[0], N.Maxout)
    assert isinstance(N.mlp(4, 2, depth=1, width=6, activation=torch.nn.GELU)[1], torch.nn.GELU)
    model = N.mlp(4, 2, depth=2, width=6, activation=lambda: N.LeakyReLU(0.2))
    assert model[1].negative_slope == 0.2 and model[1] is not model[3]
    assert sum(p.numel() for p in N.mlp(4, 2, depth=2, width=6, activation="prelu").parameters()) == \
        (4 * 6 + 6) + 1 + (6 * 6 + 6) + 1 + (6 * 2 + 2)
    no_bias = N.mlp(4, 2, depth=2, width=6, bias=False)
    assert all(m.bias is None for m in no_bias if isinstance(m, torch.nn.Linear))


def test_mlp_init_and_generator():
    g = torch.Generator().manual_seed(0)
    model = N.mlp(50, 10, depth=2, width=300, init="kaiming_normal", generator=g)
    first = model[0]
    assert torch.all(first.bias == 0)
    assert first.weight.var().item() == pytest.approx(2 / 50, rel=0.05)
    model = N.mlp(4, 2, depth=1, width=3, init="zeros")
    assert all(torch.count_nonzero(p) == 0 for p in model.parameters())


def test_mlp_generator_is_reproducible_and_leaves_global_rng_alone():
    for init in (None, "xavier_uniform"):
        state = torch.random.get_rng_state()
        a = N.mlp(5, 2, depth=2, width=8, init=init, generator=torch.Generator().manual_seed(3))
        assert torch.equal(torch.random.get_rng_state(), state)
        b = N.mlp(5, 2, depth=2, width=8, init=init, generator=torch.Generator().manual_seed(3))
        assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    # init=None with a generator redraws torch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    big = N.mlp(400, 300, depth=0, width=1, generator=torch.Generator().manual_seed(0))[0]
    assert big.weight.abs().max().item() <= 1 / 400 ** 0.5
    assert big.weight.var().item() == pytest.approx(1 / (3 * 400), rel=0.02)


@pytest.mark.parametrize("kwargs, error, name", [
    (dict(depth=-1, width=3), ValueError, "depth"),
    (dict(depth=1, width=0), ValueError, "width"),
    (dict(depth=1, width=3, pieces=0), ValueError, "pieces"),
    (dict(depth=1.0, width=3), TypeError, "depth"),
    (dict(depth=1, width=3, activation="swish"), ValueError, "relu"),  # lists the options
    (dict(depth=1, width=3, activation=N.ReLU()), TypeError, "activation"),
    (dict(depth=1, width=3, activation=lambda: 3), TypeError, "activation"),
    (dict(depth=1, width=3, init="lecun"), ValueError, "scheme"),
    (dict(depth=1, width=3, init=5), TypeError, "init"),
    (dict(depth=1, width=3, bias=1), TypeError, "bias"),
])
def test_mlp_validation(kwargs, error, name):
    with pytest.raises(error, match=name):
        N.mlp(4, 2, **kwargs)


def test_activation_argument_validation():
    with pytest.raises(TypeError, match="x"):
        N.sigmoid([1.0, 2.0])
    with pytest.raises(TypeError, match="negative_slope"):
        N.leaky_relu(torch.ones(2), "0.1")
    with pytest.raises(ValueError, match="num_parameters"):
        N.PReLU(0)
    with pytest.raises(ValueError, match="alpha"):
        N.elu(torch.ones(2), 0.0)
    with pytest.raises(ValueError, match="alpha"):
        N.ELU(-1.0)
    with pytest.raises(TypeError, match="alpha"):
        N.ELU("1")
    with pytest.raises(TypeError, match="x"):
        N.gelu([1.0])
    with pytest.raises(TypeError, match="x"):
        N.silu(3.0)
    with pytest.raises(ValueError, match="pieces"):
        N.Maxout(2, 2, pieces=0)
