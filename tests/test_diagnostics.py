"""codebase.diagnostics against statistics computed by hand on tiny networks."""
import copy
import math

import pytest
import torch

from codebase import diagnostics as D
from codebase import init as I
from codebase import nn as cnn


def tiny(act1=cnn.Tanh, act2=torch.nn.ReLU, dtype=torch.float64):
    """Linear(3, 4) -> act1 -> Linear(4, 5) -> act2 -> Linear(5, 2), fixed weights."""
    g = torch.Generator().manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), act1(), torch.nn.Linear(4, 5), act2(),
                                torch.nn.Linear(5, 2)).to(dtype)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=dtype))
    return model


def batch(n=7, d=3, dtype=torch.float64, seed=1):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=dtype)
    y = torch.randint(0, 2, (n,), generator=g)
    return X, y


def by_hand(model, X):
    """Pre-activations and activations of `tiny`, written out."""
    W1, b1, W2, b2, W3, b3 = [p.detach() for p in model.parameters()]
    z1 = X @ W1.T + b1
    h1 = torch.tanh(z1)
    z2 = h1 @ W2.T + b2
    h2 = torch.clamp(z2, min=0)
    return z1, h1, z2, h2, h2 @ W3.T + b3


def population_std(t):
    t = t.flatten()
    return math.sqrt(((t - t.mean()) ** 2).sum().item() / t.numel())


def snapshot(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def no_hooks(model):
    return all(not m._forward_hooks and not m._forward_pre_hooks and not m._backward_hooks
               for m in model.modules())


# ---------------------------------------------------------------------------- activation_stats

def test_activation_stats_match_hand_computation():
    model = tiny()
    X, _ = batch()
    _, h1, _, h2, _ = by_hand(model, X)
    rows = D.activation_stats(model, X)
    assert [r["layer"] for r in rows] == [1, 2]
    assert [r["name"] for r in rows] == ["1", "3"]
    assert [r["kind"] for r in rows] == ["Tanh", "ReLU"]
    for row, h in zip(rows, (h1, h2)):
        assert row["mean"] == pytest.approx(h.mean().item(), rel=1e-12)
        assert row["std"] == pytest.approx(population_std(h), rel=1e-12)
        assert row["zeros"] == pytest.approx((h == 0).sum().item() / h.numel())
    assert rows[0]["saturated"] == pytest.approx((h1.abs() >= 0.99).sum().item() / h1.numel())
    assert math.isnan(rows[1]["saturated"])
    assert all(isinstance(v, float) for r in rows for k, v in r.items()
               if k not in ("layer", "name", "kind"))


def test_activation_stats_of_linear_layers_are_pre_activations():
    model = tiny()
    X, _ = batch()
    z1, _, z2, _, out = by_hand(model, X)
    rows = D.activation_stats(model, X, modules=torch.nn.Linear)
    assert [r["name"] for r in rows] == ["0", "2", "4"]
    for row, z in zip(rows, (z1, z2, out)):
        assert row["std"] == pytest.approx(population_std(z), rel=1e-12)
        assert row["mean"] == pytest.approx(z.mean().item(), rel=1e-12)


def test_activation_stats_accepts_a_predicate():
    model = tiny()
    X, _ = batch()
    rows = D.activation_stats(model, X, modules=lambda name, m: name == "3")
    assert [r["name"] for r in rows] == ["3"]


def test_shared_module_gives_one_row_per_call():
    act = torch.nn.Tanh()
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), act, torch.nn.Linear(2, 2), act)
    rows = D.activation_stats(model, torch.ones(3, 2))
    assert [r["layer"] for r in rows] == [1, 2]
    assert [r["name"] for r in rows] == ["1", "1"]


@pytest.mark.parametrize("act, z, expected", [
    (cnn.Tanh, [0.0, 1.0, 3.0, -3.0, 2.6], 2 / 5),         # |tanh z| >= 0.99 iff |z| >= 2.647
    (torch.nn.Tanh, [0.0, 1.0, 3.0, -3.0, 2.6], 2 / 5),
    (cnn.Sigmoid, [0.0, 5.0, 6.0, -6.0, -5.0], 2 / 5),      # |2 sigma - 1| >= 0.99 iff |z| >= 5.293
    (torch.nn.Sigmoid, [0.0, 5.0, 6.0, -6.0, -5.0], 2 / 5),
])
def test_saturation_threshold(act, z, expected):
    rows = D.activation_stats(torch.nn.Sequential(act()), torch.tensor([z], dtype=torch.float64))
    assert rows[0]["saturated"] == pytest.approx(expected)


def test_saturation_argument_moves_the_threshold():
    model = torch.nn.Sequential(torch.nn.Tanh())
    z = torch.tensor([[0.0, 0.6, 1.0, 3.0]], dtype=torch.float64)   # tanh: 0, 0.537, 0.762, 0.995
    assert D.activation_stats(model, z, saturation=0.5)[0]["saturated"] == pytest.approx(3 / 4)
    assert D.activation_stats(model, z, saturation=0.999)[0]["saturated"] == 0.0


def test_dead_relu_units_are_counted():
    model = torch.nn.Sequential(torch.nn.ReLU())
    X = torch.tensor([[-1.0, 0.0, 2.0, 3.0], [-2.0, -1.0, 1.0, 0.0]])
    row = D.activation_stats(model, X)[0]
    assert row["zeros"] == pytest.approx(5 / 8)   # three negatives and two zeros
    assert row["mean"] == pytest.approx(6 / 8)


def test_maxout_and_prelu_are_recorded_by_default():
    model = torch.nn.Sequential(cnn.Maxout(3, 4), torch.nn.Linear(4, 4), cnn.PReLU(),
                                torch.nn.Linear(4, 1))
    rows = D.activation_stats(model, torch.randn(5, 3))
    assert [r["kind"] for r in rows] == ["Maxout", "PReLU"]


def test_float32_model_gives_float64_statistics():
    model = tiny(dtype=torch.float32)
    X, _ = batch(dtype=torch.float32)
    _, h1, _, _, _ = by_hand(model.double(), X.double())
    model.float()
    row = D.activation_stats(model, X)[0]
    assert row["std"] == pytest.approx(population_std(h1), rel=1e-6)


# ---------------------------------------------------------------------------- gradient_stats

def hand_gradients(model, X, y):
    """dL/dW for `tiny` with the mean cross-entropy, by the backpropagation equations."""
    W1, b1, W2, b2, W3, b3 = [p.detach() for p in model.parameters()]
    z1, h1, z2, h2, out = by_hand(model, X)
    n = X.shape[0]
    delta3 = (torch.softmax(out, dim=1) - torch.nn.functional.one_hot(y, 2).double()) / n
    delta2 = (delta3 @ W3) * (z2 > 0).double()
    delta1 = (delta2 @ W2) * (1 - h1 ** 2)
    return delta1.T @ X, delta2.T @ h1, delta3.T @ h2


def test_gradient_stats_match_backpropagation_by_hand():
    model = tiny()
    X, y = batch()
    rows = D.gradient_stats(model, X, y)
    assert [r["name"] for r in rows] == ["0", "2", "4"]
    assert [r["kind"] for r in rows] == ["Linear"] * 3
    weights = [model[0].weight, model[2].weight, model[4].weight]
    for row, grad, w in zip(rows, hand_gradients(model, X, y), weights):
        assert row["grad_norm"] == pytest.approx(grad.norm().item(), rel=1e-10)
        assert row["grad_std"] == pytest.approx(population_std(grad), rel=1e-10)
        assert row["weight_norm"] == pytest.approx(w.norm().item(), rel=1e-12)
        assert row["weight_std"] == pytest.approx(population_std(w.detach()), rel=1e-12)
        assert row["ratio"] == pytest.approx(row["grad_norm"] / row["weight_norm"])


def test_gradient_stats_default_loss_is_mse_for_float_targets():
    model = tiny()
    X, _ = batch()
    y = torch.randn(X.shape[0], 2, dtype=torch.float64)
    ours = D.gradient_stats(model, X, y)
    reference = copy.deepcopy(model)
    torch.nn.functional.mse_loss(reference(X), y).backward()
    for row, layer in zip(ours, (reference[0], reference[2], reference[4])):
        assert row["grad_norm"] == pytest.approx(layer.weight.grad.norm().item(), rel=1e-12)


def test_gradient_stats_custom_loss_and_selection():
    model = tiny()
    X, y = batch()
    rows = D.gradient_stats(model, X, y, lambda out, t: 3 * out.sum(),
                            modules=lambda name, m: name == "4")
    assert [r["name"] for r in rows] == ["4"]
    # d(3 sum(out))/dW3 = 3 * 1^T h2, one row per output unit
    _, _, _, h2, _ = by_hand(model, X)
    expected = 3 * h2.sum(dim=0).repeat(2, 1)
    assert rows[0]["grad_norm"] == pytest.approx(expected.norm().item(), rel=1e-12)


def test_frozen_and_unused_layers_are_left_out():
    model = tiny()
    model[2].weight.requires_grad_(False)
    unused = torch.nn.Linear(2, 2).double()
    model.add_module("unused", unused)

    def forward(x, m=model):
        for layer in list(m)[:5]:
            x = layer(x)
        return x

    model.forward = forward
    X, y = batch()
    rows = D.gradient_stats(model, X, y)
    assert [r["name"] for r in rows] == ["0", "4"]


def test_zero_weight_ratio():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    I.zeros_(model[0].weight)
    X, y = batch()
    row = D.gradient_stats(model, X.float(), y)[0]
    assert row["ratio"] == math.inf
    model[0].bias.data.zero_()
    row = D.gradient_stats(model, X.float(), torch.zeros(7, 2))[0]   # zero output, zero target
    assert row["grad_norm"] == 0.0 and math.isnan(row["ratio"])


# ---------------------------------------------------------------------------- no side effects

@pytest.mark.parametrize("training", [True, False])
def test_model_is_left_unchanged(training):
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), cnn.ReLU(),
                                torch.nn.Dropout(0.5), torch.nn.Linear(4, 2))
    model.train(training)
    model[3].train(not training)   # mixed modes must survive too
    modes = [m.training for m in model.modules()]
    X, y = batch(n=8)
    X = X.float()
    model[0].weight.grad = torch.full_like(model[0].weight, 7.0)
    before = snapshot(model)

    D.activation_stats(model, X)
    D.gradient_stats(model, X, y)

    after = snapshot(model)
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)   # incl. running stats
    assert [m.training for m in model.modules()] == modes
    assert torch.equal(model[0].weight.grad, torch.full_like(model[0].weight, 7.0))
    assert model[4].weight.grad is None
    assert no_hooks(model)


def test_hooks_are_removed_when_the_forward_pass_fails():
    model = tiny()
    with pytest.raises(RuntimeError):
        D.activation_stats(model, torch.ones(2, 5, dtype=torch.float64))   # wrong width
    assert no_hooks(model)
    with pytest.raises(RuntimeError):
        D.gradient_stats(model, torch.ones(2, 5, dtype=torch.float64), torch.zeros(2).long())
    assert no_hooks(model)


def test_existing_hooks_are_kept():
    model = tiny()
    calls = []
    handle = model[1].register_forward_hook(lambda m, i, o: calls.append(1))
    D.activation_stats(model, batch()[0])
    assert calls == [1] and len(model[1]._forward_hooks) == 1
    handle.remove()


def test_results_are_repeatable():
    model = tiny()
    X, y = batch()
    assert D.activation_stats(model, X) == D.activation_stats(model, X)
    assert D.gradient_stats(model, X, y) == D.gradient_stats(model, X, y)


# ---------------------------------------------------------------------------- with codebase.init

def relu_stds(scheme, depth=10, width=400):
    model = cnn.mlp(width, 10, depth=depth, width=width, activation="relu", init=scheme,
                    generator=torch.Generator().manual_seed(0)).double()
    X = torch.randn(256, width, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    return [r["std"] for r in D.activation_stats(model, X)]


def test_he_keeps_relu_activations_and_xavier_shrinks_them():
    he = relu_stds("kaiming_normal")
    xavier = relu_stds("xavier_normal")
    # He: E[h^2] stays at E[x^2] = 1 layer after layer, so std(h) stays near sqrt(1 - 1/pi)
    assert 0.6 < he[-1] / he[0] < 1.6
    # Xavier (here 1/n): E[h^2] halves at every layer, std falls by sqrt(2) per layer
    assert xavier[-1] / xavier[0] == pytest.approx(2 ** -4.5, rel=0.4)


# ---------------------------------------------------------------------------- argument checks

def test_argument_checks():
    model = tiny()
    X, y = batch()
    with pytest.raises(TypeError, match="model"):
        D.activation_stats("model", X)
    with pytest.raises(TypeError, match="X"):
        D.activation_stats(model, [[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="X"):
        D.activation_stats(model, torch.ones(0, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="saturation"):
        D.activation_stats(model, X, saturation=1.0)
    with pytest.raises(TypeError, match="saturation"):
        D.activation_stats(model, X, saturation="high")
    with pytest.raises(TypeError, match="modules"):
        D.activation_stats(model, X, modules=("Tanh",))
    with pytest.raises(TypeError, match="modules"):
        D.activation_stats(model, X, modules=3)
    with pytest.raises(TypeError, match="model"):
        D.gradient_stats(None, X, y)
    with pytest.raises(TypeError, match="y"):
        D.gradient_stats(model, X, [0, 1])
    with pytest.raises(ValueError, match="same number"):
        D.gradient_stats(model, X, y[:3])
    with pytest.raises(TypeError, match="loss_fn"):
        D.gradient_stats(model, X, y, loss_fn="cross_entropy")
    with pytest.raises(ValueError, match="scalar"):
        D.gradient_stats(model, X, y, loss_fn=lambda out, t: out)
    with pytest.raises(ValueError, match="weight"):
        D.gradient_stats(model, X, y, modules=torch.nn.ReLU)
    assert no_hooks(model)


# ---------------------------------------------------------------------------- table

def test_table_formats_rows():
    rows = [{"layer": 1, "std": 0.123456789, "saturated": math.nan},
            {"layer": 2, "std": 1.5e-30, "saturated": 0.5}]
    text = D.table(rows)
    assert text.splitlines() == ["layer      std  saturated",
                                 "    1   0.1235          -",
                                 "    2  1.5e-30        0.5"]
    assert D.table(rows, ["std"], digits=2).splitlines()[1].strip() == "0.12"
    assert D.table([]) == ""
    with pytest.raises(TypeError):
        D.table([1, 2])
    with pytest.raises(ValueError, match="digits"):
        D.table(rows, digits=0)
