"""codebase.init against torch.nn.init: same signatures, same draws, the formulas' variances."""
import inspect
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from codebase import init as I

RANDOM = ["normal_", "uniform_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"]
ALL = ["zeros_", "constant_", *RANDOM, "calculate_gain"]
SHAPES = [(30, 20), (5, 1), (8, 3, 5, 5), (7, 4, 3), (6, 2, 3, 3, 3)]


@pytest.mark.parametrize("name", ALL)
def test_signatures_equal_torch(name):
    ours, theirs = inspect.signature(getattr(I, name)), inspect.signature(getattr(torch.nn.init, name))
    assert [(p.name, p.kind, p.default) for p in ours.parameters.values()] == \
           [(p.name, p.kind, p.default) for p in theirs.parameters.values()]


def draw_both(name, shape, seed=0, dtype=torch.float32, **kwargs):
    a, b = torch.empty(shape, dtype=dtype), torch.empty(shape, dtype=dtype)
    out = getattr(I, name)(a, generator=torch.Generator().manual_seed(seed), **kwargs)
    assert out is a
    getattr(torch.nn.init, name)(b, generator=torch.Generator().manual_seed(seed), **kwargs)
    return a, b


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", RANDOM)
def test_same_values_as_torch_with_same_seed(name, shape):
    for dtype in (torch.float32, torch.float64):
        a, b = draw_both(name, shape, seed=sum(shape), dtype=dtype)
        assert torch.equal(a, b)


@pytest.mark.parametrize("kwargs", [
    dict(a=0.2), dict(mode="fan_out"), dict(nonlinearity="relu"), dict(nonlinearity="tanh"),
    dict(a=math.sqrt(5)), dict(nonlinearity="selu", mode="fan_out"), dict(nonlinearity="conv2d"),
])
@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_"])
def test_kaiming_options_same_as_torch(name, kwargs):
    a, b = draw_both(name, (16, 8, 3, 3), **kwargs)
    assert torch.equal(a, b)


@pytest.mark.parametrize("gain", [0.5, 5 / 3, math.sqrt(2)])
def test_xavier_gain_same_as_torch(gain):
    for name in ("xavier_uniform_", "xavier_normal_"):
        a, b = draw_both(name, (12, 9), gain=gain)
        assert torch.equal(a, b)


def test_normal_and_uniform_parameters_same_as_torch():
    a, b = draw_both("normal_", (50,), mean=3.0, std=0.2)
    assert torch.equal(a, b)
    a, b = draw_both("uniform_", (50,), a=-2.0, b=5.0)
    assert torch.equal(a, b)


def test_deterministic_fills_and_grad_tracking_parameters():
    w = torch.nn.Parameter(torch.randn(3, 4))
    assert I.zeros_(w) is w and torch.equal(w, torch.zeros(3, 4))
    assert I.constant_(w, 0.5) is w and torch.equal(w, torch.full((3, 4), 0.5))
    I.kaiming_normal_(w)  # a leaf requiring grad: must work under no_grad
    assert w.requires_grad and w.grad_fn is None


@pytest.mark.parametrize("nonlinearity, param", [
    ("linear", None), ("conv1d", None), ("conv_transpose3d", None), ("sigmoid", None),
    ("tanh", None), ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 3),
    ("selu", None),
])
def test_gains_equal_torch(nonlinearity, param):
    assert I.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(nonlinearity, param)


@pytest.mark.parametrize("shape", [(300, 200), (64, 32, 3, 3)])
def test_fans(shape):
    fan_in, fan_out = I.fan_in_and_fan_out(torch.empty(shape))
    r = math.prod(shape[2:])
    assert (fan_in, fan_out) == (shape[1] * r, shape[0] * r)


def empirical_var(name, shape, **kwargs):
    w = getattr(I, name)(torch.empty(shape, dtype=torch.float64),
                         generator=torch.Generator().manual_seed(1), **kwargs)
    return w, w.var().item()


@pytest.mark.parametrize("shape", [(400, 600), (128, 64, 3, 3)])
@pytest.mark.parametrize("name", ["xavier_uniform_", "xavier_normal_"])
def test_xavier_variance(name, shape):
    fan_in, fan_out = I.fan_in_and_fan_out(torch.empty(shape))
    w, var = empirical_var(name, shape)
    assert var == pytest.approx(2 / (fan_in + fan_out), rel=0.02)
    assert abs(w.mean().item()) < 0.01 * math.sqrt(var)
    if name == "xavier_uniform_":
        bound = math.sqrt(6 / (fan_in + fan_out))
        assert w.abs().max().item() <= bound
        assert w.abs().max().item() > 0.99 * bound


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_"])
def test_he_variance_for_relu(name, mode):
    shape = (256, 512)
    fan_in, fan_out = I.fan_in_and_fan_out(torch.empty(shape))
    fan = fan_in if mode == "fan_in" else fan_out
    w, var = empirical_var(name, shape, mode=mode, nonlinearity="relu")
    assert var == pytest.approx(2 / fan, rel=0.02)
    if name == "kaiming_uniform_":
        assert w.abs().max().item() <= math.sqrt(6 / fan)


def test_uniform_and_normal_moments():
    g = torch.Generator().manual_seed(0)
    w = I.uniform_(torch.empty(200_000, dtype=torch.float64), -1.0, 3.0, generator=g)
    assert w.min() >= -1 and w.max() <= 3
    assert w.mean().item() == pytest.approx(1.0, abs=0.01)
    assert w.var().item() == pytest.approx(16 / 12, rel=0.02)
    w = I.normal_(torch.empty(200_000, dtype=torch.float64), 2.0, 0.5, generator=g)
    assert w.mean().item() == pytest.approx(2.0, abs=0.01)
    assert w.std().item() == pytest.approx(0.5, rel=0.01)


def test_he_keeps_activation_scale_through_a_deep_relu_net():
    # the point of He init: the second moment of relu activations stays put with depth
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 256, generator=g, dtype=torch.float64)
    h = x
    for _ in range(20):
        w = I.kaiming_normal_(torch.empty(256, 256, dtype=torch.float64), nonlinearity="relu", generator=g)
        h = torch.relu(h @ w.T)
    ratio = h.pow(2).mean().item() / x.pow(2).mean().item()
    assert 0.5 < ratio < 2


def test_zero_element_tensor_is_a_no_op():
    for name in ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"]:
        t = torch.empty(0, 5)
        assert getattr(I, name)(t) is t


# init_model ---------------------------------------------------------------------------

def make_model():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
        torch.nn.Linear(4 * 6 * 6, 20), torch.nn.PReLU(),
        torch.nn.Sequential(torch.nn.Linear(20, 20), torch.nn.Tanh()),
        torch.nn.Linear(20, 3, bias=False),
    )


def test_init_model_touches_every_linear_and_conv_layer():
    model = make_model()
    I.init_model(model, "zeros", bias=0.5)
    layers = [m for m in model.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    assert len(layers) == 4
    for layer in layers:
        assert torch.count_nonzero(layer.weight) == 0
        if layer.bias is not None:
            assert torch.all(layer.bias == 0.5)
    prelu = model[4]
    assert torch.all(prelu.weight == 0.25)  # not a layer weight: left alone


def test_init_model_with_generator_equals_per_layer_calls():
    model, ref = make_model(), make_model()
    I.init_model(model, "kaiming_normal", nonlinearity="relu", generator=torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    for layer in ref.modules():
        if isinstance(layer, (torch.nn.Linear, torch.nn.Conv2d)):
            torch.nn.init.kaiming_normal_(layer.weight, nonlinearity="relu", generator=g)
            if layer.bias is not None:
                torch.nn.init.zeros_(layer.bias)
    for p, q in zip(model.parameters(), ref.parameters()):
        assert torch.equal(p, q)


def test_init_model_aliases_callables_and_bias_none():
    a, b = make_model(), make_model()
    I.init_model(a, "glorot_uniform", generator=torch.Generator().manual_seed(2))
    I.init_model(b, I.xavier_uniform_, generator=torch.Generator().manual_seed(2))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c = make_model()
    bias_before = c[3].bias.clone()
    I.init_model(c, lambda w: w.fill_(0.1), bias=None)  # no generator parameter: fine
    assert torch.all(c[3].weight == 0.1) and torch.equal(c[3].bias, bias_before)
    I.init_model(c, "normal", std=0.01, generator=torch.Generator().manual_seed(0))
    assert c[3].weight.std().item() == pytest.approx(0.01, rel=0.2)
    assert set(I.SCHEMES) >= {"zeros", "normal", "xavier_uniform", "kaiming_normal"}


# validation ---------------------------------------------------------------------------

@given(st.lists(st.integers(1, 5), max_size=1))
def test_fewer_than_two_dims_rejected(shape):
    for name in ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"]:
        with pytest.raises(ValueError, match="tensor"):
            getattr(I, name)(torch.empty(shape))
    with pytest.raises(ValueError, match="tensor"):
        I.fan_in_and_fan_out(torch.empty(shape))


@given(st.sampled_from(["fan_avg", "in", "FAN_IN", ""]))
def test_unknown_mode_rejected(mode):
    with pytest.raises(ValueError, match="mode"):
        I.kaiming_uniform_(torch.empty(3, 3), mode=mode)


@given(st.sampled_from(["gelu", "softplus", "Relu", "identity"]))
def test_unknown_nonlinearity_rejected(nonlinearity):
    with pytest.raises(ValueError, match="nonlinearity"):
        I.calculate_gain(nonlinearity)
    with pytest.raises(ValueError, match="nonlinearity"):
        I.kaiming_normal_(torch.empty(3, 3), nonlinearity=nonlinearity)


@pytest.mark.parametrize("name", ALL[:-1] + ["fan_in_and_fan_out"])
def test_non_tensor_rejected(name):
    args = (0.0,) if name == "constant_" else ()
    with pytest.raises(TypeError, match="tensor"):
        getattr(I, name)([[1.0, 2.0], [3.0, 4.0]], *args)


def test_bad_arguments_rejected():
    with pytest.raises(ValueError, match="std"):
        I.normal_(torch.empty(3), std=-1.0)
    with pytest.raises(ValueError, match="b"):
        I.uniform_(torch.empty(3), a=1.0, b=0.0)
    with pytest.raises(TypeError, match="param"):
        I.calculate_gain("leaky_relu", "0.2")
    with pytest.raises(ValueError, match="scheme"):
        I.init_model(make_model(), "lecun")
    with pytest.raises(TypeError, match="scheme"):
        I.init_model(make_model(), 3)
    with pytest.raises(TypeError, match="model"):
        I.init_model([torch.empty(2, 2)], "zeros")
