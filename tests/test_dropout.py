"""codebase.nn.dropout and Dropout against torch.nn.functional.dropout, and mlp(dropout=...)."""
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from codebase import nn as N

probabilities = st.sampled_from([0.0, 0.1, 0.2, 0.25, 0.3, 1 / 3, 0.5, 0.7, 0.9, 0.99])


@given(p=probabilities, seed=st.integers(0, 2**31 - 1),
       shape=st.sampled_from([(1,), (7,), (5, 13), (3, 4, 6)]),
       dtype=st.sampled_from([torch.float32, torch.float64]))
def test_dropout_equals_torch_bit_for_bit_with_the_same_random_state(p, seed, shape, dtype):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed + 1), dtype=dtype)
    torch.manual_seed(seed)
    expected = F.dropout(x, p, training=True)
    ours = N.dropout(x, p, training=True, generator=torch.Generator().manual_seed(seed))
    assert ours.dtype == dtype and ours.shape == x.shape
    assert torch.equal(ours, expected)
    torch.manual_seed(seed)  # the global random numbers, as torch uses them
    assert torch.equal(N.dropout(x, p), expected)


def test_dropout_gradient_equals_torch():
    x = torch.randn(40, 9, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(40, 9, dtype=torch.float64)
    torch.manual_seed(4)
    (expected,) = torch.autograd.grad((F.dropout(x, 0.3, True) * upstream).sum(), x)
    ours_out = N.dropout(x, 0.3, True, torch.Generator().manual_seed(4))
    (ours,) = torch.autograd.grad((ours_out * upstream).sum(), x)
    assert torch.equal(ours, expected)
    # the gradient is the mask divided by 1 - p: zero where dropped, 1/(1-p) where kept
    kept = N.dropout(torch.ones(40, 9, dtype=torch.float64), 0.3, True, torch.Generator().manual_seed(4))
    assert torch.equal(ours, upstream * kept)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_values_are_zero_or_scaled_and_the_mean_is_preserved(p):
    x = torch.full((400_000,), 3.0, dtype=torch.float64)
    y = N.dropout(x, p, generator=torch.Generator().manual_seed(0))
    values = set(y.unique().tolist())
    assert values <= {0.0, 3.0 / (1 - p)} and len(values) == 2
    dropped = (y == 0).double().mean().item()
    n = x.numel()
    assert abs(dropped - p) < 5 * math.sqrt(p * (1 - p) / n)
    # E[h~] = h and Var[h~] = p/(1-p) h^2
    assert abs(y.mean().item() - 3.0) < 5 * math.sqrt(9 * p / (1 - p) / n)
    assert y.var().item() == pytest.approx(9 * p / (1 - p), rel=0.02)


def test_dropout_is_the_identity_when_not_training_or_p_is_zero():
    x = torch.randn(5, 3)
    assert N.dropout(x, 0.5, training=False) is x
    assert N.dropout(x, 0.0, training=True) is x
    state = torch.get_rng_state()
    N.dropout(x, 0.5, training=False)
    assert torch.equal(torch.get_rng_state(), state), "no random numbers drawn in eval mode"


def test_dropout_generator_leaves_global_rng_alone_and_repeats():
    x = torch.randn(100)
    state = torch.get_rng_state()
    a = N.dropout(x, 0.5, generator=torch.Generator().manual_seed(7))
    b = N.dropout(x, 0.5, generator=torch.Generator().manual_seed(7))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a, b)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, float("nan")])
def test_dropout_rejects_probabilities_outside_0_1(p):
    with pytest.raises(ValueError, match="p"):
        N.dropout(torch.ones(3), p)
    with pytest.raises(ValueError, match="p"):
        N.Dropout(p)


@pytest.mark.parametrize("kwargs, error, name", [
    ({"x": [1.0, 2.0]}, TypeError, "x"),
    ({"x": torch.ones(3, dtype=torch.long)}, TypeError, "x"),
    ({"p": "0.5"}, TypeError, "p"),
    ({"p": True}, TypeError, "p"),
    ({"training": 1}, TypeError, "training"),
    ({"generator": 0}, TypeError, "generator"),
])
def test_dropout_validation(kwargs, error, name):
    args = {"x": torch.ones(3), "p": 0.5, "training": True, "generator": None, **kwargs}
    with pytest.raises(error, match=name):
        N.dropout(**args)


def test_dropout_module_follows_train_and_eval_mode_like_torch():
    x = torch.randn(64, 32)
    ours, theirs = N.Dropout(0.3), torch.nn.Dropout(0.3)
    assert repr(ours) == "Dropout(p=0.3)"
    torch.manual_seed(11)
    expected = theirs(x)
    torch.manual_seed(11)
    assert torch.equal(ours(x), expected)
    ours.eval()
    assert ours(x) is x
    with pytest.raises(TypeError, match="generator"):
        N.Dropout(0.3, generator=3)


def test_dropout_module_with_generator_repeats():
    layer = N.Dropout(0.5, generator=torch.Generator().manual_seed(2))
    x = torch.ones(50)
    first = layer(x)
    layer.generator.manual_seed(2)
    assert torch.equal(layer(x), first)
    assert not torch.equal(layer(x), first)  # the next call draws a fresh mask


def test_mlp_without_dropout_is_unchanged():
    a = N.mlp(6, 3, depth=2, width=8, generator=torch.Generator().manual_seed(0))
    b = N.mlp(6, 3, depth=2, width=8, generator=torch.Generator().manual_seed(0), dropout=None)
    assert [type(m) for m in a] == [torch.nn.Linear, N.ReLU, torch.nn.Linear, N.ReLU, torch.nn.Linear]
    assert [type(m) for m in b] == [type(m) for m in a]
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


@pytest.mark.parametrize("activation", ["relu", "tanh", "maxout"])
def test_mlp_dropout_follows_every_hidden_layer_and_keeps_the_weights(activation):
    plain = N.mlp(6, 3, depth=3, width=8, activation=activation, generator=torch.Generator().manual_seed(1))
    model = N.mlp(6, 3, depth=3, width=8, activation=activation, generator=torch.Generator().manual_seed(1),
                  dropout=0.25)
    drops = [i for i, m in enumerate(model) if isinstance(m, N.Dropout)]
    assert len(drops) == 3 and all(model[i].p == 0.25 for i in drops)
    assert drops[-1] == len(model) - 2, "the last hidden layer is followed by dropout, then the output layer"
    assert not isinstance(model[0], N.Dropout), "no dropout on the inputs"
    for pa, pb in zip(plain.parameters(), model.parameters()):
        assert torch.equal(pa, pb)
    x = torch.randn(4, 6)
    model.eval()
    assert torch.equal(model(x), plain(x))  # eval mode: dropout is the identity
    model.train()
    torch.manual_seed(0)
    assert not torch.equal(model(x), plain(x))


@pytest.mark.parametrize("value, error", [(1.0, ValueError), (-0.5, ValueError), ("0.5", TypeError)])
def test_mlp_dropout_validation_names_the_parameter(value, error):
    with pytest.raises(error, match="dropout"):
        N.mlp(4, 2, depth=1, width=3, dropout=value)
